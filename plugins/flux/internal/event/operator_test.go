package event

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// Commit ids of the fixtures in ../../testdata.
const (
	commitA = "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
	commitB = "40d6b21b888db0ca794876cf7bdd399e3da2137e"
	commitC = "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d"
	commitD = "c0ffee254729296a45a3885639ac7ca1f3d4e6b2"
	commitE = "7d0a6f3e2c1b9a8d7e6f5c4b3a29180f7e6d5c4b"
	commitF = "1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c"
	commitG = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	commitH = "5d41402abc4b2a76b9719d911017c592c0ffee00"

	configName = "my-gitops-repo-stage-dev"
)

const testdata = "../../testdata"

// expected is what one fixture must parse into.
type expected struct {
	invalid    bool   // an sdk.InvalidInput error
	ignored    string // a substring of the reason; "" when handled
	config     string
	commit     string
	finished   bool
	successful bool
	statuses   []sdk.Status
}

func ks(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: KindKustomization, Operator: Operator}
}

func gitRepo(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: KindGitRepository, Operator: Operator}
}

var (
	progressing = ks("Status", sdk.StatePending, "Progressing", "Reconciliation underway.")
	healthCheck = ks("Status", sdk.StateFailed, "HealthCheckFailed", "Health Check Failed")
)

func group(name, summary string) sdk.Status {
	return ks(name, sdk.StateNotApplicable, "NotApplicable", summary)
}

func unhealthy(name, status string) sdk.Status {
	return ks(name, sdk.StateFailed, "error", "Health Check Failed (status: '"+status+"')")
}

// fixtures lists every file of testdata with the result it must give.
var fixtures = map[string]expected{
	"kustomization-reconciliation-succeeded.json": {
		config: configName, commit: commitA, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 2.41s, next run in 10m0s")},
	},
	"kustomization-reconciliation-succeeded-prefixed-revision.json": {
		config: configName, commit: commitB, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 1.87s, next run in 10m0s")},
	},
	"kustomization-reconciliation-succeeded-legacy-revision.json": {
		commit: commitC, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 1.02s, next run in 5m0s")},
	},
	"kustomization-reconciliation-succeeded-tag-revision.json": {
		config: configName, commit: commitD, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 3.2s, next run in 1h0m0s")},
	},
	"kustomization-progressing-change-set.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{
			progressing,
			group("Deployment", "2 configured"),
			group("HorizontalPodAutoscaler", "1 created"),
			group("Service", "1 configured, 1 created"),
			progressing,
		},
	},
	"kustomization-progressing-kubectl-warnings.json": {
		commit: commitC,
		statuses: []sdk.Status{
			progressing,
			group("service", "1 configured"),
			group("deployment.apps", "2 configured"),
			group("horizontalpodautoscaler.autoscaling", "1 created"),
			group("warnings", "Warnings: 2"),
			progressing,
		},
	},
	"kustomization-progressing-not-a-change-set.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{progressing, ks("Info", sdk.StatePending, "info", "Health check passed in 5.0123s"), progressing},
	},
	"kustomization-health-check-failed.json": {
		config: configName, commit: commitE, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/default/podinfo", "InProgress"), unhealthy("StatefulSet/default/redis", "Failed")},
	},
	"kustomization-health-check-failed-stalled.json": {
		commit: commitE, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/apps/api", "Failed")},
	},
	"kustomization-health-check-failed-no-brackets.json": {
		commit: commitC, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/default/podinfo", "InProgress")},
	},
	"kustomization-dependency-not-ready.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{ks("Status", sdk.StatePending, "DependencyNotReady", "Dependencies do not meet ready condition (dependency 'flux-system/infra-controllers' is not ready), retrying in 30s")},
	},
	"kustomization-reconciliation-failed.json": {
		config: configName, commit: commitF, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "ReconciliationFailed", `Service/default/podinfo dry-run failed (Invalid): Service "podinfo" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`)},
	},
	"kustomization-build-failed.json": {
		config: configName, commit: commitF, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "BuildFailed", "kustomize build failed: accumulating resources: accumulation err='accumulating resources from './apps': '/tmp/kustomization-1470213/apps' must resolve to a file': couldn't make target for path '/tmp/kustomization-1470213/apps': unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '/tmp/kustomization-1470213/apps'")},
	},
	"kustomization-validation-failed.json": {
		commit: commitC, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "ValidationFailed", "Manifests validation failed.")},
	},
	"kustomization-unknown-reason.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{ks("Status", sdk.StatePending, "ProgressingWithRetry", "Detecting drift for revision main@sha1:"+commitA+" with a timeout of 9m30s")},
	},
	"kustomization-oci-source-revision.json": {
		config: configName, ignored: "is a sha256 digest of an OCI artifact or a bucket, not a git commit",
	},
	"kustomization-revision-path-traversal.json": {
		config: configName, ignored: "does not end in a 40-digit hex git commit id",
	},
	"kustomization-artifact-failed-no-revision.json": {
		config: configName, ignored: "Flux Kustomization ArtifactFailed event carries no revision",
	},
	"gitrepository-new-artifact.json": {
		config: configName, ignored: "Flux GitRepository NewArtifact events are not handled",
	},
	"gitrepository-succeeded-prefixed-revision.json": {
		config: configName, commit: commitH,
		statuses: []sdk.Status{gitRepo("Status", sdk.StateSucceeded, "Succeeded", "stored artifact for commit 'Merge pull request #42 from org/feature'")},
	},
	"gitrepository-git-operation-failed.json": {
		config: configName, ignored: "Flux GitRepository GitOperationFailed event carries no revision",
	},
	"gitrepository-fetched-revision-message.json": {
		commit:   commitG,
		statuses: []sdk.Status{gitRepo("Status", sdk.StatePending, "info", "Fetched revision: main/"+commitG)},
	},
	"gitrepository-fetched-revision-metadata-message.json": {
		config: configName, commit: commitB,
		statuses: []sdk.Status{gitRepo("Status", sdk.StatePending, "info", "Fetched revision: main/"+commitB)},
	},
	"helmrelease-upgrade-succeeded.json": {
		config: configName, ignored: "Flux HelmRelease events are not handled, only Kustomization and GitRepository",
	},
	"ocirepository-new-artifact.json": {
		ignored: "Flux OCIRepository events are not handled",
	},
	"argocd-notification.json": {
		ignored: "not a Flux event",
	},
	"malformed-reason-number.json": {
		config: configName, ignored: "Flux Kustomization event has no reason",
	},
	"malformed-metadata-not-object.json": {
		ignored: "carries no revision",
	},
	"malformed-involved-object-string.json": {
		ignored: "not a Flux event",
	},
	"malformed-progressing-message-object.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{progressing, progressing},
	},
	"invalid-truncated-json.json": {invalid: true},
	"invalid-json-array.json":     {invalid: true},
}

func TestEveryFixtureIsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		if _, ok := fixtures[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected result in fixtures", f)
		}
	}
	for name := range fixtures {
		if !slices.Contains(names, name) {
			t.Errorf("fixtures lists %s, which is not in %s", name, testdata)
		}
	}
}

func TestParseEventGivesTheExpectedResultForEachFixture(t *testing.T) {
	for name, want := range fixtures {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(testdata, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if want.invalid {
				if sdk.KindOf(err) != sdk.KindInvalidInput {
					t.Fatalf("ParseEvent = %+v, %v; want an invalid input error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if got.ConfigName != want.config {
				t.Errorf("ConfigName = %q, want %q", got.ConfigName, want.config)
			}
			if want.ignored != "" {
				if got.Handled || !strings.Contains(got.Reason, want.ignored) {
					t.Fatalf("got handled=%v reason %q, want ignored with a reason containing %q", got.Handled, got.Reason, want.ignored)
				}
				return
			}
			if !got.Handled {
				t.Fatalf("ignored (%s), want handled", got.Reason)
			}
			if got.CommitID != want.commit || got.Finished != want.finished || got.Successful != want.successful {
				t.Errorf("commit %s finished %v successful %v, want %s %v %v", got.CommitID, got.Finished, got.Successful, want.commit, want.finished, want.successful)
			}
			if !slices.Equal(got.Statuses, want.statuses) {
				t.Errorf("statuses:\n%s\nwant:\n%s", dump(got.Statuses), dump(want.statuses))
			}
		})
	}
}

func dump(statuses []sdk.Status) string {
	var b strings.Builder
	for _, s := range statuses {
		fmt.Fprintf(&b, "  %q %s %q %q genre=%s operator=%s\n", s.Name, s.State, s.RawState, s.Description, s.Genre, s.Operator)
	}
	return b.String()
}

func kustomization(reason, message string, metadata map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"involvedObject": map[string]any{"kind": "Kustomization", "name": "apps", "namespace": "flux-system"},
		"reason":         reason,
		"message":        message,
		"metadata":       metadata,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func TestReasonsMapToStatesAndOutcomes(t *testing.T) {
	cases := []struct {
		reason               string
		state                sdk.State
		finished, successful bool
	}{
		{"ReconciliationSucceeded", sdk.StateSucceeded, true, true},
		{"ReconciliationFailed", sdk.StateFailed, true, false},
		{"PruneFailed", sdk.StateFailed, true, false},
		{"ArtifactFailed", sdk.StateFailed, true, false},
		{"BuildFailed", sdk.StateFailed, true, false},
		{"HealthCheckFailed", sdk.StateFailed, true, false},
		{"ValidationFailed", sdk.StateFailed, true, false},
		{"error", sdk.StateFailed, true, false},
		{"Error", sdk.StateError, true, false},
		{"Degraded", sdk.StateError, true, false},
		{"Suspended", sdk.StateError, true, false},
		{"Progressing", sdk.StatePending, false, false},
		{"DependencyNotReady", sdk.StatePending, false, false},
		{"info", sdk.StatePending, false, false},
		{"NotApplicable", sdk.StateNotApplicable, false, false},
		{"Unknown", sdk.StateNotApplicable, false, false},
		{"ProgressingWithRetry", sdk.StatePending, false, false},
		{"SomethingNewInFlux3", sdk.StatePending, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{
				Body: kustomization(tc.reason, "", map[string]any{"revision": "main@sha1:" + commitA}),
			})
			if err != nil || !res.Handled {
				t.Fatalf("ParseEvent = %+v, %v; want handled", res, err)
			}
			if st := res.Statuses[0]; st.Name != "Status" || st.State != tc.state || st.RawState != tc.reason {
				t.Errorf("Status = %+v, want state %s with raw state %s", st, tc.state, tc.reason)
			}
			if res.Finished != tc.finished || res.Successful != tc.successful {
				t.Errorf("finished %v successful %v, want %v %v", res.Finished, res.Successful, tc.finished, tc.successful)
			}
		})
	}
}

func TestGitRepositoryEventsNeverFinish(t *testing.T) {
	for _, reason := range []string{"ReconciliationSucceeded", "ReconciliationFailed", "Succeeded", "GitOperationFailed"} {
		body := []byte(`{"involvedObject":{"kind":"GitRepository"},"reason":"` + reason + `","metadata":{"revision":"main@sha1:` + commitA + `"}}`)
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if err != nil || !res.Handled {
			t.Fatalf("%s: ParseEvent = %+v, %v; want handled", reason, res, err)
		}
		if res.Finished || res.Successful || len(res.Statuses) != 1 {
			t.Errorf("%s: finished %v successful %v with %d statuses, want one status, not finished", reason, res.Finished, res.Successful, len(res.Statuses))
		}
	}
}

func TestRevisionIsLookedUpInTheKeysOfTheKind(t *testing.T) {
	cases := []struct {
		name, kind string
		metadata   map[string]any
		message    string
		want       string // commit id; "" when ignored
	}{
		{"kustomization: revision first", KindKustomization,
			map[string]any{"revision": "main@sha1:" + commitA, MetaKustomizeRevision: "main@sha1:" + commitB}, "", commitA},
		{"kustomization: prefixed key", KindKustomization,
			map[string]any{MetaKustomizeRevision: "main@sha1:" + commitB}, "", commitB},
		{"kustomization: the source key is not its own", KindKustomization,
			map[string]any{MetaSourceRevision: "main@sha1:" + commitB}, "", ""},
		{"kustomization: a Fetched revision message is not read", KindKustomization,
			nil, "Fetched revision: main/" + commitB, ""},
		{"git repository: revision first", KindGitRepository,
			map[string]any{"revision": "main@sha1:" + commitA, "message": "Fetched revision: main/" + commitB, MetaSourceRevision: "main@sha1:" + commitC}, "", commitA},
		{"git repository: metadata message before the prefixed key", KindGitRepository,
			map[string]any{"message": "Fetched revision: main/" + commitB, MetaSourceRevision: "main@sha1:" + commitC}, "", commitB},
		{"git repository: metadata message with a new revision", KindGitRepository,
			map[string]any{"message": "Fetched revision: main@sha1:" + commitB}, "", commitB},
		{"git repository: prefixed key", KindGitRepository,
			map[string]any{MetaSourceRevision: "main@sha1:" + commitC}, "", commitC},
		{"git repository: prefixed key before the event's message", KindGitRepository,
			map[string]any{MetaSourceRevision: "main@sha1:" + commitC}, "Fetched revision: main/" + commitB, commitC},
		{"git repository: Fetched revision message", KindGitRepository,
			nil, "Fetched revision: main/" + commitB, commitB},
		{"git repository: another message is not a revision", KindGitRepository,
			nil, "stored artifact for commit 'fix: bump to " + commitB + "'", ""},
		{"git repository: the kustomize key is not its own", KindGitRepository,
			map[string]any{MetaKustomizeRevision: "main@sha1:" + commitC}, "", ""},
		{"a revision that is not a string is absent", KindKustomization,
			map[string]any{"revision": 42, MetaKustomizeRevision: "main@sha1:" + commitB}, "", commitB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{
				"involvedObject": map[string]any{"kind": tc.kind},
				"reason":         "Succeeded",
				"message":        tc.message,
				"metadata":       tc.metadata,
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if res.CommitID != tc.want || res.Handled != (tc.want != "") {
				t.Errorf("handled %v commit %q (%s), want commit %q", res.Handled, res.CommitID, res.Reason, tc.want)
			}
		})
	}
}

// logLines runs parse with a Flux that logs into a buffer and returns the
// logged messages with their attributes.
func logLines(parse func(f *Flux)) []map[string]any {
	log := &hostproc.Log{}
	parse(New(slog.New(slog.NewJSONHandler(log, nil))))
	return log.Lines()
}

func TestAnUnknownReasonIsLoggedOnce(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for _, reason := range []string{"ProgressingWithRetry", "ProgressingWithRetry", "ReconciliationSucceeded", "DriftDetected", "ProgressingWithRetry"} {
			body := kustomization(reason, "", map[string]any{"revision": "main@sha1:" + commitA})
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	var reasons []any
	for _, l := range lines {
		if l["level"] != "WARN" {
			t.Errorf("log line %v is not a warning", l)
		}
		reasons = append(reasons, l["reason"])
	}
	if want := []any{"ProgressingWithRetry", "DriftDetected"}; !slices.Equal(reasons, want) {
		t.Errorf("logged reasons %v, want %v", reasons, want)
	}
}

func TestAMistypedFieldIsLoggedOnce(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for range 3 {
			body := []byte(`{"involvedObject":{"kind":"Kustomization"},"reason":7,"metadata":{"revision":"main@sha1:` + commitA + `","other":1}}`)
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(lines) != 1 || lines[0]["field"] != "reason: number" {
		t.Errorf("logged %v, want one line for field %q", lines, "reason: number")
	}
}

func TestLoggedValuesAreBoundedInNumber(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for i := range maxReported + 50 {
			body := kustomization(fmt.Sprintf("NewReason%d", i), "", map[string]any{"revision": "main@sha1:" + commitA})
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(lines) != maxReported {
		t.Errorf("logged %d lines, want %d", len(lines), maxReported)
	}
}

func TestDetailStatusesAreBounded(t *testing.T) {
	var changeSet, resources []string
	for i := range maxDetailStatuses + 10 {
		changeSet = append(changeSet, fmt.Sprintf("Kind%d/default/x created", i))
		resources = append(resources, fmt.Sprintf("Deployment/default/app%d status: 'InProgress'", i))
	}
	cases := map[string]string{
		"Progressing":       strings.Join(changeSet, "\n"),
		"HealthCheckFailed": "timeout waiting for: [" + strings.Join(resources, ", ") + "]",
	}
	for reason, message := range cases {
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{
			Body: kustomization(reason, message, map[string]any{"revision": "main@sha1:" + commitA}),
		})
		if err != nil {
			t.Fatal(err)
		}
		var details int
		for _, s := range res.Statuses {
			if s.Name != "Status" {
				details++
			}
		}
		if details != maxDetailStatuses {
			t.Errorf("%s: %d detail statuses, want %d", reason, details, maxDetailStatuses)
		}
	}
}

func TestConfigNameIsReportedForIgnoredEventsToo(t *testing.T) {
	body := []byte(`{"involvedObject":{"kind":"HelmRelease"},"reason":"UpgradeSucceeded","metadata":{"gitops_connector_config_name":" prod "}}`)
	res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
	if err != nil || res.Handled || res.ConfigName != "prod" {
		t.Errorf("ParseEvent = %+v, %v; want ignored for config prod", res, err)
	}
}

func TestBodiesThatAreNoJSONObjectAreInvalidInput(t *testing.T) {
	cases := map[string]string{
		"":                "body is empty",
		"  \n":            "body is empty",
		"null":            "body is a JSON null",
		"[]":              "body is a JSON array",
		`"Kustomization"`: "body is a JSON string",
		"42":              "body is a JSON number",
		"true":            "body is a JSON boolean",
		`{"reason":`:      "body is not valid JSON",
		"\xff":            "body is not valid JSON",
	}
	for body, want := range cases {
		_, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(body)})
		if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseEvent(%q) = %v, want an invalid input error saying %q", body, err, want)
		}
	}
}

func TestValidateConfigAcceptsAnyFluxConfig(t *testing.T) {
	cases := []struct {
		settings map[string]string
		wantErr  bool
	}{
		{nil, false},
		{map[string]string{"gitOpsOperatorType": "FLUX"}, false},
		{map[string]string{"gitOpsOperatorType": "flux", "gitRepositoryType": "GITHUB"}, false},
		{map[string]string{"gitOpsOperatorType": "ARGOCD"}, true},
	}
	for _, tc := range cases {
		errs, err := New(nil).ValidateConfig(context.Background(), sdk.Config{Name: "c", Settings: tc.settings, Token: "secret-pat"})
		if err != nil {
			t.Fatal(err)
		}
		if (len(errs) > 0) != tc.wantErr {
			t.Errorf("ValidateConfig(%v) = %v, want errors: %v", tc.settings, errs, tc.wantErr)
		}
		for _, e := range errs {
			if e.Field != "gitOpsOperatorType" || strings.Contains(e.Message, "secret-pat") {
				t.Errorf("field error %+v: want field gitOpsOperatorType without the token", e)
			}
		}
	}
}

func TestParseEventIsSafeForConcurrentUse(t *testing.T) {
	f := New(slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				body := kustomization(fmt.Sprintf("Reason%d", (i*50+j)%300), "Deployment/default/a configured", map[string]any{"revision": "main@sha1:" + commitA})
				if res, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil || !res.Handled {
					t.Errorf("ParseEvent = %+v, %v", res, err)
				}
			}
		})
	}
	wg.Wait()
}
