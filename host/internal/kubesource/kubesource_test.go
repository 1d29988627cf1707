package kubesource

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
)

var gvr = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "gitopsconfigs"}

const globalPAT = "global-pat-value"

// gitOpsConfig returns a GitOpsConfig resource with a valid GitHub spec,
// changed by mods.
func gitOpsConfig(namespace, name string, generation int64, mods ...func(spec map[string]any)) *unstructured.Unstructured {
	spec := map[string]any{
		"gitRepositoryType":             "GITHUB",
		"ciCdOrchestratorType":          "GITHUB",
		"gitOpsOperatorType":            "FLUX",
		"gitOpsAppURL":                  "https://github.com/org/manifests/commit",
		"gitHubOrgUrl":                  "https://api.github.com/repos/org",
		"gitHubGitOpsRepoName":          "app",
		"gitHubGitOpsManifestsRepoName": "manifests",
	}
	for _, m := range mods {
		m(spec)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1",
		"kind":       "GitOpsConfig",
		"metadata":   map[string]any{"name": name, "namespace": namespace, "generation": generation},
		"spec":       spec,
	}}
	return u
}

// withRef returns a mod that sets the spec's field to a Secret reference
// (key "" leaves the default).
func withRef(field string) func(name, key string) func(map[string]any) {
	return func(name, key string) func(map[string]any) {
		return func(spec map[string]any) {
			ref := map[string]any{"name": name}
			if key != "" {
				ref["key"] = key
			}
			spec[field] = ref
		}
	}
}

var (
	withSecretRef        = withRef(config.FieldSecretRef)
	withWebhookSecretRef = withRef(config.FieldWebhookSecretRef)
)

// secret returns a Secret as the API serves it to the dynamic client: data
// values base64-encoded.
func secret(namespace, name string, data map[string]string) *unstructured.Unstructured {
	encoded := map[string]any{}
	for k, v := range data {
		encoded[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return secretWithData(namespace, name, encoded)
}

// secretWithData returns a Secret whose data is data, as is.
func secretWithData(namespace, name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"type":       "Opaque",
		"data":       data,
	}}
}

func newFake(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr: "GitOpsConfigList", secretsGVR: "SecretList"}, objs...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is a Source whose Run goroutine publishes into a channel.
type running struct {
	src   *Source
	snaps chan config.Snapshot
}

func run(t *testing.T, opts Options, objs ...runtime.Object) (*running, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	dyn := newFake(objs...)
	r := &running{src: newSource(opts, quietLogger(), dyn), snaps: make(chan config.Snapshot, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.src.Run(ctx, func(s config.Snapshot) { r.snaps <- s }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, dyn
}

// next waits for the next snapshot. The deadline only bounds a broken test.
func (r *running) next(t *testing.T) config.Snapshot {
	t.Helper()
	select {
	case s := <-r.snaps:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("no snapshot published")
	}
	return config.Snapshot{}
}

// until waits for a snapshot that satisfies ok.
func (r *running) until(t *testing.T, what string, ok func(config.Snapshot) bool) config.Snapshot {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-r.snaps:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no snapshot with %s published", what)
		}
	}
}

func configByKey(s config.Snapshot, key string) (config.Config, bool) {
	for _, c := range s.Configs {
		if c.Key() == key {
			return c, true
		}
	}
	return config.Config{}, false
}

func invalidByKey(s config.Snapshot, key string) (config.Invalid, bool) {
	for _, i := range s.Invalid {
		if i.Key == key {
			return i, true
		}
	}
	return config.Invalid{}, false
}

func TestFirstSnapshotResolvesTokensAndReportsBadConfigsByField(t *testing.T) {
	r, _ := run(t, Options{Getenv: func(k string) string { return map[string]string{"PAT": globalPAT}[k] }},
		gitOpsConfig("team-a", "global-token", 3),
		gitOpsConfig("team-a", "own-token", 1, withSecretRef("github", "")),
		gitOpsConfig("team-a", "custom-key", 1, withSecretRef("github", "token")),
		gitOpsConfig("team-a", "missing-secret", 2, withSecretRef("nope", "")),
		gitOpsConfig("team-a", "missing-key", 1, withSecretRef("github", "absent")),
		gitOpsConfig("team-b", "other-namespace", 1, withSecretRef("github", "")),
		gitOpsConfig("team-a", "empty-token", 1, withSecretRef("blank", "")),
		gitOpsConfig("team-a", "number", 4, func(s map[string]any) { s["gitHubOrgUrl"] = int64(7) }),
		gitOpsConfig("team-a", "bad-context", 1, func(s map[string]any) { s["statusContext"] = "dev/eu" }),
		gitOpsConfig("team-a", "bad-secret-name", 1, withSecretRef("GitHub_Token", "")),
		gitOpsConfig("team-a", "bad-secret-key", 1, withSecretRef("github", "a/b")),
		secret("team-a", "github", map[string]string{"PAT": "team-a-pat\n", "token": "team-a-token"}),
		secret("team-a", "blank", map[string]string{"PAT": " \n"}),
	)
	snap := r.next(t)

	tokens := map[string]string{
		"team-a/global-token": globalPAT,
		"team-a/own-token":    "team-a-pat",
		"team-a/custom-key":   "team-a-token",
	}
	if len(snap.Configs) != len(tokens) {
		t.Errorf("configs = %d, want %d: %+v", len(snap.Configs), len(tokens), snap.Configs)
	}
	for key, want := range tokens {
		c, ok := configByKey(snap, key)
		if !ok {
			t.Errorf("config %s missing", key)
			continue
		}
		if c.Credentials.Shared.Credential.Value("token") != want {
			t.Errorf("%s: token %q, want %q", key, c.Credentials.Shared.Credential.Value("token"), want)
		}
	}
	if c, _ := configByKey(snap, "team-a/global-token"); c.Generation != 3 || c.RepositoryType != "GITHUB" || c.Namespace != "team-a" || c.Name != "global-token" {
		t.Errorf("global-token config = %+v", c)
	}

	invalid := []struct{ key, field, message string }{
		{"team-a/missing-secret", "secretRef", `the Secret "team-a/nope" does not exist`},
		{"team-a/missing-key", "secretRef", `the Secret "team-a/github" has no key "absent"`},
		{"team-b/other-namespace", "secretRef", `the Secret "team-b/github" does not exist`},
		{"team-a/empty-token", "secretRef", `key "PAT" of the Secret "team-a/blank" is empty`},
		{"team-a/number", "gitHubOrgUrl", "must be a string, got int64"},
		{"team-a/bad-context", "statusContext", "must be 1 to 63 letters"},
		{"team-a/bad-secret-name", "secretRef.name", "RFC 1123 subdomain"},
		{"team-a/bad-secret-key", "secretRef.key", "a valid config key"},
	}
	if len(snap.Invalid) != len(invalid) {
		t.Errorf("invalid = %d, want %d: %+v", len(snap.Invalid), len(invalid), snap.Invalid)
	}
	for _, want := range invalid {
		inv, ok := invalidByKey(snap, want.key)
		if !ok {
			t.Errorf("%s not reported invalid", want.key)
			continue
		}
		if len(inv.Errors) != 1 || inv.Errors[0].Field != want.field || !strings.Contains(inv.Errors[0].Message, want.message) {
			t.Errorf("%s: errors %+v, want %s: %s", want.key, inv.Errors, want.field, want.message)
		}
	}
	if inv, _ := invalidByKey(snap, "team-a/number"); inv.Generation != 4 {
		t.Errorf("invalid generation = %d, want 4", inv.Generation)
	}
	if inv, _ := invalidByKey(snap, "team-a/missing-secret"); inv.Generation != 2 {
		t.Errorf("invalid generation = %d, want 2", inv.Generation)
	}
}

func TestAWebhookSecretRefIsReadFromTheConfigsNamespace(t *testing.T) {
	ctx := context.Background()
	r, dyn := run(t, Options{Getenv: func(k string) string { return map[string]string{"PAT": globalPAT}[k] }},
		gitOpsConfig("team-a", "signed", 1, withWebhookSecretRef("flux-webhook", "")),
		gitOpsConfig("team-a", "both", 1, withSecretRef("github", ""), withWebhookSecretRef("github", "hmac")),
		gitOpsConfig("team-a", "unsigned", 1),
		gitOpsConfig("team-a", "missing", 1, withWebhookSecretRef("nope", "")),
		gitOpsConfig("team-b", "elsewhere", 1, withWebhookSecretRef("flux-webhook", "")),
		gitOpsConfig("team-a", "empty", 1, withWebhookSecretRef("github", "blank")),
		gitOpsConfig("team-a", "bad-key", 1, withWebhookSecretRef("flux-webhook", "a/b")),
		secret("team-a", "flux-webhook", map[string]string{"token": "team-a-hmac\n"}),
		secret("team-a", "github", map[string]string{"PAT": "team-a-pat", "hmac": "team-a-shared", "blank": " "}),
	)
	snap := r.next(t)
	for key, want := range map[string][2]string{
		"team-a/signed":   {globalPAT, "team-a-hmac"},
		"team-a/both":     {"team-a-pat", "team-a-shared"},
		"team-a/unsigned": {globalPAT, ""},
	} {
		c, ok := configByKey(snap, key)
		if !ok {
			t.Errorf("config %s missing", key)
			continue
		}
		if c.Credentials.Shared.Credential.Value("token") != want[0] || c.WebhookSecret != want[1] {
			t.Errorf("%s: token %q, webhook secret %q; want %q, %q", key, c.Credentials.Shared.Credential.Value("token"), c.WebhookSecret, want[0], want[1])
		}
	}
	for _, want := range []struct{ key, field, message string }{
		{"team-a/missing", "webhookSecretRef", `the Secret "team-a/nope" does not exist`},
		{"team-b/elsewhere", "webhookSecretRef", `the Secret "team-b/flux-webhook" does not exist`},
		{"team-a/empty", "webhookSecretRef", `key "blank" of the Secret "team-a/github" is empty`},
		{"team-a/bad-key", "webhookSecretRef.key", "a valid config key"},
	} {
		inv, ok := invalidByKey(snap, want.key)
		if !ok || len(inv.Errors) != 1 || inv.Errors[0].Field != want.field || !strings.Contains(inv.Errors[0].Message, want.message) {
			t.Errorf("%s: invalid %v %+v, want %s: %s", want.key, ok, inv.Errors, want.field, want.message)
		}
	}

	// A rotated webhook secret is published, though nothing a plugin sees
	// changed.
	if _, err := dyn.Resource(secretsGVR).Namespace("team-a").Update(ctx, secret("team-a", "flux-webhook", map[string]string{"token": "rotated-hmac"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.until(t, "the rotated webhook secret", func(s config.Snapshot) bool {
		c, _ := configByKey(s, "team-a/signed")
		return c.WebhookSecret == "rotated-hmac"
	})
}

func TestASecretThatCannotBeReadMakesItsConfigInvalidWithTheReason(t *testing.T) {
	dyn := newFake(gitOpsConfig("team-a", "app", 1, withSecretRef("github", "")))
	dyn.PrependReactor("list", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("RBAC: access denied"))
	})
	src := newSource(Options{}, quietLogger(), dyn)
	src.secretGrace = 10 * time.Millisecond
	snaps := make(chan config.Snapshot, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(s config.Snapshot) { snaps <- s }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r := &running{src: src, snaps: snaps}
	snap := r.next(t)
	inv, ok := invalidByKey(snap, "team-a/app")
	if !ok || len(inv.Errors) != 1 || inv.Errors[0].Field != "secretRef" ||
		!strings.Contains(inv.Errors[0].Message, `cannot read the Secret "team-a/github"`) || !strings.Contains(inv.Errors[0].Message, "forbidden") {
		t.Errorf("snapshot %+v, want team-a/app invalid: secretRef cannot be read, forbidden", snap)
	}
}

func TestNamespacesLimitWhatIsWatched(t *testing.T) {
	r, _ := run(t, Options{Namespaces: []string{"team-a", " team-c ", "team-a"}},
		gitOpsConfig("team-a", "one", 1),
		gitOpsConfig("team-b", "two", 1),
		gitOpsConfig("team-c", "three", 1),
	)
	snap := r.next(t)
	var keys []string
	for _, c := range snap.Configs {
		keys = append(keys, c.Key())
	}
	if strings.Join(keys, ",") != "team-a/one,team-c/three" {
		t.Errorf("configs = %v, want team-a/one and team-c/three", keys)
	}
}

func TestChangesArePublishedAsCompleteSnapshots(t *testing.T) {
	ctx := context.Background()
	r, dyn := run(t, Options{Getenv: func(k string) string { return map[string]string{"PAT": globalPAT}[k] }},
		gitOpsConfig("team-a", "app", 1, withSecretRef("github", "")),
		secret("team-a", "github", map[string]string{"PAT": "first"}),
	)
	if c, ok := configByKey(r.next(t), "team-a/app"); !ok || c.Credentials.Shared.Credential.Value("token") != "first" {
		t.Fatalf("first snapshot: app = %+v, %v", c, ok)
	}
	res := dyn.Resource(gvr).Namespace("team-a")

	t.Run("a created config is added", func(t *testing.T) {
		if _, err := res.Create(ctx, gitOpsConfig("team-a", "web", 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		snap := r.until(t, "web", func(s config.Snapshot) bool { _, ok := configByKey(s, "team-a/web"); return ok })
		if _, ok := configByKey(snap, "team-a/app"); !ok {
			t.Error("the snapshot lost team-a/app")
		}
	})
	t.Run("an updated config replaces the old one", func(t *testing.T) {
		obj := gitOpsConfig("team-a", "web", 2, func(s map[string]any) { s["statusContext"] = "dev" })
		if _, err := res.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		snap := r.until(t, "web generation 2", func(s config.Snapshot) bool {
			c, _ := configByKey(s, "team-a/web")
			return c.Generation == 2
		})
		if c, _ := configByKey(snap, "team-a/web"); c.StatusContext != "dev" {
			t.Errorf("statusContext = %q, want dev", c.StatusContext)
		}
	})
	t.Run("a rotated Secret changes the token", func(t *testing.T) {
		if _, err := dyn.Resource(secretsGVR).Namespace("team-a").Update(ctx, secret("team-a", "github", map[string]string{"PAT": "second"}), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		r.until(t, "the rotated token", func(s config.Snapshot) bool {
			c, _ := configByKey(s, "team-a/app")
			return c.Credentials.Shared.Credential.Value("token") == "second"
		})
	})
	t.Run("a deleted Secret makes its config invalid", func(t *testing.T) {
		if err := dyn.Resource(secretsGVR).Namespace("team-a").Delete(ctx, "github", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		snap := r.until(t, "app invalid", func(s config.Snapshot) bool { _, ok := invalidByKey(s, "team-a/app"); return ok })
		if inv, _ := invalidByKey(snap, "team-a/app"); inv.Errors[0].Field != "secretRef" {
			t.Errorf("errors = %+v, want secretRef", inv.Errors)
		}
	})
	t.Run("a deleted config is removed", func(t *testing.T) {
		if err := res.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r.until(t, "web gone", func(s config.Snapshot) bool { _, ok := configByKey(s, "team-a/web"); return !ok })
	})
	t.Run("a status write publishes nothing", func(t *testing.T) {
		if err := r.src.ReportStatus(ctx, "team-a/app", 1, false, "InvalidSpec", "secretRef: gone"); err != nil {
			t.Fatal(err)
		}
		// A later real change must be the next snapshot: the status write
		// in between published none.
		if _, err := res.Create(ctx, gitOpsConfig("team-a", "marker", 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		snap := r.next(t)
		if _, ok := configByKey(snap, "team-a/marker"); !ok {
			t.Errorf("next snapshot after a status write = %+v, want the one adding marker", snap)
		}
	})
}

func readyCondition(t *testing.T, obj *unstructured.Unstructured) (metav1.Condition, int64) {
	t.Helper()
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(c.(map[string]any), &cond); err != nil {
			t.Fatal(err)
		}
		if cond.Type == "Ready" {
			return cond, observed
		}
	}
	t.Fatalf("no Ready condition in %v", obj.Object["status"])
	return metav1.Condition{}, 0
}

func TestReportStatusWritesTheReadyCondition(t *testing.T) {
	ctx := context.Background()
	obj := gitOpsConfig("team-a", "app", 2)
	obj.Object["status"] = map[string]any{"conditions": []any{
		map[string]any{"type": "Reconciled", "status": "True", "reason": "Other", "message": "kept", "lastTransitionTime": "2024-01-02T03:04:05Z"},
	}}
	dyn := newFake(obj)
	src := newSource(Options{}, quietLogger(), dyn)
	get := func() *unstructured.Unstructured {
		o, err := dyn.Resource(gvr).Namespace("team-a").Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	if err := src.ReportStatus(ctx, "team-a/app", 2, false, "UnknownType", "gitRepositoryType: unknown type GITLAB; available: AZDO, GITHUB"); err != nil {
		t.Fatal(err)
	}
	first, observed := readyCondition(t, get())
	if observed != 2 || first.Status != metav1.ConditionFalse || first.Reason != "UnknownType" ||
		first.Message != "gitRepositoryType: unknown type GITLAB; available: AZDO, GITHUB" || first.ObservedGeneration != 2 || first.LastTransitionTime.IsZero() {
		t.Errorf("after invalid: observedGeneration %d, condition %+v", observed, first)
	}
	conds, _, _ := unstructured.NestedSlice(get().Object, "status", "conditions")
	if len(conds) != 2 {
		t.Errorf("conditions = %v, want the other writer's condition kept", conds)
	}

	// Same status, new message and generation: lastTransitionTime stays.
	stamp := first.LastTransitionTime
	if err := src.ReportStatus(ctx, "team-a/app", 3, false, "PluginRejected", "azdoOrgUrl: must include the project"); err != nil {
		t.Fatal(err)
	}
	second, observed := readyCondition(t, get())
	if observed != 3 || second.Reason != "PluginRejected" || second.ObservedGeneration != 3 || !second.LastTransitionTime.Equal(&stamp) {
		t.Errorf("after second invalid: observedGeneration %d, condition %+v (first transition %v)", observed, second, stamp)
	}

	// A report about an older generation does not overwrite the newer one.
	if err := src.ReportStatus(ctx, "team-a/app", 2, true, "Valid", "old"); err != nil {
		t.Fatal(err)
	}
	if stale, observed := readyCondition(t, get()); observed != 3 || stale.Status != metav1.ConditionFalse {
		t.Errorf("a stale report overwrote the status: observedGeneration %d, %+v", observed, stale)
	}

	// Nothing changed: no write.
	before := len(dyn.Actions())
	if err := src.ReportStatus(ctx, "team-a/app", 3, false, "PluginRejected", "azdoOrgUrl: must include the project"); err != nil {
		t.Fatal(err)
	}
	for _, a := range dyn.Actions()[before:] {
		if a.GetVerb() == "update" {
			t.Errorf("an unchanged status was written: %v", a)
		}
	}

	if err := src.ReportStatus(ctx, "team-a/app", 3, true, "Valid", "the config is valid and receives events"); err != nil {
		t.Fatal(err)
	}
	if ready, _ := readyCondition(t, get()); ready.Status != metav1.ConditionTrue || ready.Reason != "Valid" {
		t.Errorf("after valid: %+v", ready)
	}
}

func TestReportStatusRetriesConflicts(t *testing.T) {
	ctx := context.Background()
	dyn := newFake(gitOpsConfig("team-a", "app", 1))
	var mu sync.Mutex
	conflicts := 2
	dyn.PrependReactor("update", "gitopsconfigs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if a.GetSubresource() == "status" && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), "app", nil)
		}
		return false, nil, nil
	})
	src := newSource(Options{}, quietLogger(), dyn)
	if err := src.ReportStatus(ctx, "team-a/app", 1, true, "Valid", "ok"); err != nil {
		t.Fatal(err)
	}
	o, err := dyn.Resource(gvr).Namespace("team-a").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := readyCondition(t, o); c.Status != metav1.ConditionTrue {
		t.Errorf("condition = %+v", c)
	}
}

func TestReportStatusOfAGoneOrMalformedKey(t *testing.T) {
	dyn := newFake()
	src := newSource(Options{}, quietLogger(), dyn)
	if err := src.ReportStatus(context.Background(), "team-a/deleted", 1, true, "Valid", "ok"); err != nil {
		t.Errorf("a deleted config: %v, want nil", err)
	}
	for _, key := range []string{"no-namespace", "/name", "ns/"} {
		if err := src.ReportStatus(context.Background(), key, 1, true, "Valid", "ok"); err == nil {
			t.Errorf("key %q: no error", key)
		}
	}
}

func TestConditionReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		ready  bool
		want   string
	}{
		{"Valid", true, "Valid"},
		{"PluginRejected", false, "PluginRejected"},
		{"Has_Digits9", false, "Has_Digits9"},
		{"", true, "Valid"},
		{"", false, "Invalid"},
		{"not valid!", false, "Invalid"},
		{"9Leading", true, "Valid"},
	} {
		if got := conditionReason(tc.reason, tc.ready); got != tc.want {
			t.Errorf("conditionReason(%q, %v) = %q, want %q", tc.reason, tc.ready, got, tc.want)
		}
	}
}

func TestReportGiveUpSetsDeliveredFalseAndLeavesReadyAlone(t *testing.T) {
	ctx := context.Background()
	dyn := newFake(gitOpsConfig("team-a", "app", 4))
	src := newSource(Options{}, quietLogger(), dyn)
	if err := src.ReportStatus(ctx, "team-a/app", 4, true, "Valid", "the config is valid and receives events"); err != nil {
		t.Fatal(err)
	}
	msg := "commit 3e3d3f0: post status Status given up: 403 token lacks repo:status"
	if err := src.ReportGiveUp(ctx, "team-a/app", "PermanentError", msg); err != nil {
		t.Fatal(err)
	}
	obj, err := dyn.Resource(gvr).Namespace("team-a").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready, observed := readyCondition(t, obj)
	if ready.Status != metav1.ConditionTrue || observed != 4 {
		t.Errorf("Ready %+v, observedGeneration %d: want Ready=True at generation 4 untouched", ready, observed)
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var delivered *metav1.Condition
	for _, c := range conds {
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(c.(map[string]any), &cond); err != nil {
			t.Fatal(err)
		}
		if cond.Type == ConditionDelivered {
			delivered = &cond
		}
	}
	if delivered == nil || delivered.Status != metav1.ConditionFalse || delivered.Reason != "PermanentError" || delivered.Message != msg {
		t.Fatalf("Delivered condition %+v", delivered)
	}
}

func TestSecretValuesAreDecodedFromBase64(t *testing.T) {
	r, dyn := run(t, Options{Getenv: func(k string) string { return map[string]string{"PAT": globalPAT}[k] }},
		gitOpsConfig("team-a", "padded", 1, withSecretRef("tokens", "padded")),
		gitOpsConfig("team-a", "url-unsafe", 1, withSecretRef("tokens", "url-unsafe")),
		gitOpsConfig("team-a", "unicode", 1, withSecretRef("tokens", "unicode")),
		gitOpsConfig("team-a", "null", 1, withSecretRef("tokens", "null")),
		gitOpsConfig("team-a", "not-base64", 1, withSecretRef("tokens", "not-base64")),
		gitOpsConfig("team-a", "number", 1, withSecretRef("tokens", "number")),
		gitOpsConfig("team-a", "no-data", 1, withSecretRef("empty", "")),
		secretWithData("team-a", "tokens", map[string]any{
			"padded":     "YWI=",     // "ab"
			"url-unsafe": "Pz8+Pw==", // "??>?": '+' of the standard alphabet
			"unicode":    base64.StdEncoding.EncodeToString([]byte(" tök€n\n")),
			"null":       nil,
			"not-base64": "ab-_",
			"number":     int64(7),
		}),
		secretWithData("team-a", "empty", nil),
	)
	snap := r.next(t)
	for key, want := range map[string]string{"team-a/padded": "ab", "team-a/url-unsafe": "??>?", "team-a/unicode": "tök€n"} {
		if c, ok := configByKey(snap, key); !ok || c.Credentials.Shared.Credential.Value("token") != want {
			t.Errorf("%s: token %q (valid %v), want %q", key, c.Credentials.Shared.Credential.Value("token"), ok, want)
		}
	}
	for key, message := range map[string]string{
		"team-a/null":       `key "null" of the Secret "team-a/tokens" is empty`,
		"team-a/not-base64": `key "not-base64" of the Secret "team-a/tokens": is not base64 data`,
		"team-a/number":     `key "number" of the Secret "team-a/tokens": is not base64 data but int64`,
		"team-a/no-data":    `the Secret "team-a/empty" has no key "PAT"`,
	} {
		inv, ok := invalidByKey(snap, key)
		if !ok || len(inv.Errors) != 1 || inv.Errors[0].Field != "secretRef" || !strings.Contains(inv.Errors[0].Message, message) {
			t.Errorf("%s: invalid %v %+v, want secretRef: %s", key, ok, inv.Errors, message)
		}
	}

	// Each Secret is listed (and watched) alone, by name, in its namespace.
	// The lists precede the snapshot; the watches may not yet.
	selected := map[string]bool{}
	for _, a := range dyn.Actions() {
		if a.GetResource() != secretsGVR {
			continue
		}
		var fields string
		switch a := a.(type) {
		case clienttesting.ListAction:
			fields = a.GetListRestrictions().Fields.String()
		case clienttesting.WatchAction:
			fields = a.GetWatchRestrictions().Fields.String()
		default:
			t.Errorf("unexpected %s of secrets", a.GetVerb())
			continue
		}
		if a.GetNamespace() != "team-a" || (fields != "metadata.name=tokens" && fields != "metadata.name=empty") {
			t.Errorf("%s of secrets in namespace %q with field selector %q, want team-a and one Secret's name", a.GetVerb(), a.GetNamespace(), fields)
		}
		selected[a.GetVerb()+" "+fields] = true
	}
	for _, want := range []string{"list metadata.name=tokens", "list metadata.name=empty"} {
		if !selected[want] {
			t.Errorf("no %s of secrets; got %v", want, selected)
		}
	}
}
