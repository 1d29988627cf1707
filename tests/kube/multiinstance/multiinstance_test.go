package multiinstance

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// Commits of the manifests repositories.
const (
	sha1 = "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	sha2 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	sha3 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
)

// TestGitOpsConfigResources runs the connector against one API server; each
// subtest has its own namespaces, fake GitHub and connector process.
func TestGitOpsConfigResources(t *testing.T) {
	c := newCluster(t)

	t.Run("the seed's example is accepted verbatim, validated and routed", func(t *testing.T) {
		ns := c.namespaces(t, "seed")[0]
		objs := c.Apply(t, ns, readFile(t, filepath.Join("..", "testdata", "seed-gitopsconfig.yaml")))
		if len(objs) != 1 || objs[0].GetName() != "my-gitops-repo-stage-dev" || objs[0].GetAPIVersion() != "example.com/v1" {
			t.Fatalf("applied %v", objs)
		}
		// The example points at dev.azure.com: a dry run sends nothing.
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: "azdo-pat-0123456789", Args: []string{"--dry-run"}})
		cond := c.waitStatus(t, ns, "my-gitops-repo-stage-dev", 1)
		if cond.Status != metav1.ConditionTrue || cond.Reason != "Valid" {
			t.Fatalf("Ready=%s %s: %s; the azdo, argocd plugins are bundled", cond.Status, cond.Reason, cond.Message)
		}
		a := h.Post(t, "", argoRunning(sha1, "my-gitops-repo-stage-dev"))
		if a.Code != http.StatusAccepted || a.Config != ns+"/my-gitops-repo-stage-dev" || a.Commit != sha1 {
			t.Errorf("Argo event named by the annotation: %+v", a)
		}
	})

	t.Run("a created config receives its events", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		fake := newGitHub(t, "manifests")
		commit(fake, "manifests", sha1)
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})

		// Created after the connector started.
		c.create(t, ns, "app", githubSpec(fake, "FLUX", "manifests"))
		c.waitReady(t, ns, "app")
		a := h.Post(t, "", fluxProgressing(sha1, "app"))
		if a.Code != http.StatusAccepted || a.Config != ns+"/app" {
			t.Fatalf("event for app: %+v", a)
		}
		waitContext(t, fake, "manifests", sha1, "Status")
	})

	t.Run("an updated config is used with its new settings only", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		fake := newGitHub(t, "old-manifests", "new-manifests")
		commit(fake, "old-manifests", sha1)
		commit(fake, "new-manifests", sha2)
		c.create(t, ns, "app", githubSpec(fake, "FLUX", "old-manifests"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})
		c.waitReady(t, ns, "app")
		if a := h.Post(t, "", fluxProgressing(sha1, "app")); a.Code != http.StatusAccepted {
			t.Fatalf("before the update: %+v", a)
		}
		h.Settle(t, 1)
		if got := contexts(fake, "old-manifests", sha1); !slices.Contains(got, "Status") {
			t.Fatalf("before the update: contexts %v", got)
		}

		spec := githubSpec(fake, "FLUX", "new-manifests")
		spec["statusContext"] = "dev"
		gen := c.update(t, ns, "app", spec)
		if cond := c.waitStatus(t, ns, "app", gen); cond.Status != metav1.ConditionTrue {
			t.Fatalf("after the update: Ready=%s %s", cond.Status, cond.Message)
		}
		before := len(fake.AllStatuses())
		a := h.Post(t, "", fluxProgressing(sha2, "app"))
		if a.Code != http.StatusAccepted || a.Config != ns+"/app" {
			t.Fatalf("after the update: %+v", a)
		}
		waitContext(t, fake, "new-manifests", sha2, "dev/Status")
		for _, s := range fake.AllStatuses()[before:] {
			if s.Repo != "new-manifests" || !strings.HasPrefix(s.Context, "dev/") {
				t.Errorf("after the update a status went to %s with context %q", s.Repo, s.Context)
			}
		}
	})

	t.Run("events for a deleted config are ignored with a reason", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		fake := newGitHub(t, "manifests")
		commit(fake, "manifests", sha1)
		c.create(t, ns, "app", githubSpec(fake, "FLUX", "manifests"))
		// Another config stays, so the connector still serves Flux events.
		c.create(t, ns, "other", githubSpec(fake, "FLUX", "manifests"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})
		c.waitReady(t, ns, "app")
		loaded := h.waitSnapshots(t, 0)

		c.delete(t, ns, "app")
		h.waitSnapshots(t, loaded)
		for _, tc := range []struct{ path, name, want string }{
			{"", "app", `no config named "app"`},
			{"/gitopsphase/app", "", `no config named "app"`},
			{"/gitopsphase/" + ns + "/app", "", `no config named "` + ns + `/app"`},
		} {
			a := h.Post(t, tc.path, fluxProgressing(sha1, tc.name))
			if a.Code != http.StatusOK || a.Status != "ignored" || !strings.Contains(a.Reason, tc.want) {
				t.Errorf("POST %q naming %q: %+v, want 200 ignored: %s", tc.path, tc.name, a, tc.want)
			}
		}
		if n := len(fake.AllStatuses()); n != 0 {
			t.Errorf("%d statuses posted for a deleted config", n)
		}
	})

	t.Run("an invalid config is Ready=False naming the field and receives no events", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		fake := newGitHub(t, "manifests")
		c.putSecret(t, ns, "github", map[string]string{"PAT": fake.Token()})
		cases := []struct {
			name   string
			change func(spec map[string]any)
			reason string
			// message must contain these.
			message []string
		}{
			{"unknown-type", func(s map[string]any) { s["gitRepositoryType"] = "GITLAB" },
				"UnknownType", []string{"gitRepositoryType", "GITLAB", "GITHUB"}},
			{"plugin-rejects", func(s map[string]any) { delete(s, "gitHubOrgUrl") },
				"PluginRejected", []string{"gitHubOrgUrl: is required"}},
			{"missing-secret", func(s map[string]any) { s["secretRef"] = map[string]any{"name": "absent"} },
				"InvalidSpec", []string{`secretRef: the Secret "` + ns + `/absent" does not exist`}},
			{"missing-key", func(s map[string]any) { s["secretRef"] = map[string]any{"name": "github", "key": "token"} },
				"InvalidSpec", []string{`secretRef: the Secret "` + ns + `/github" has no key "token"`}},
			{"not-a-string", func(s map[string]any) { s["customTimeout"] = int64(30) },
				"InvalidSpec", []string{"customTimeout: must be a string"}},
			{"bad-status-context", func(s map[string]any) { s["statusContext"] = "dev/eu" },
				"InvalidSpec", []string{"statusContext: must be"}},
		}
		for _, tc := range cases {
			spec := githubSpec(fake, "FLUX", "manifests")
			tc.change(spec)
			c.create(t, ns, tc.name, spec)
		}
		// A valid Flux config, so the connector reads the config names of
		// Flux events.
		c.create(t, ns, "valid", githubSpec(fake, "FLUX", "manifests"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cond := c.waitStatus(t, ns, tc.name, 1)
				if cond.Status != metav1.ConditionFalse || cond.Reason != tc.reason {
					t.Errorf("Ready=%s reason %s, want False %s (message %q)", cond.Status, cond.Reason, tc.reason, cond.Message)
				}
				for _, m := range tc.message {
					if !strings.Contains(cond.Message, m) {
						t.Errorf("message %q does not say %q", cond.Message, m)
					}
				}
				for _, path := range []string{"", "/gitopsphase/" + ns + "/" + tc.name} {
					name := tc.name
					if path != "" {
						name = ""
					}
					a := h.Post(t, path, fluxProgressing(sha1, name))
					if a.Code != http.StatusOK || a.Status != "ignored" || !strings.Contains(a.Reason, "is invalid") || !strings.Contains(a.Reason, tc.message[0]) {
						t.Errorf("POST %q: %+v, want 200 ignored, config invalid: %s", path, a, tc.message[0])
					}
				}
			})
		}
		if n := len(fake.AllStatuses()); n != 0 {
			t.Errorf("%d statuses posted for invalid configs", n)
		}

		t.Run("fixing it makes it Ready", func(t *testing.T) {
			gen := c.update(t, ns, "unknown-type", githubSpec(fake, "FLUX", "manifests"))
			cond := c.waitStatus(t, ns, "unknown-type", gen)
			if cond.Status != metav1.ConditionTrue || cond.Reason != "Valid" {
				t.Errorf("after the fix: Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
			}
		})

		t.Run("the CRD rejects a spec without a required field", func(t *testing.T) {
			spec := githubSpec(fake, "FLUX", "manifests")
			delete(spec, "gitOpsAppURL")
			_, err := c.Dynamic.Resource(gvr).Namespace(ns).Create(context.Background(), gitOpsConfig(ns, "no-url", spec), metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.gitOpsAppURL") {
				t.Errorf("create without gitOpsAppURL: %v, want Invalid naming spec.gitOpsAppURL", err)
			}
		})
	})

	t.Run("a GitHub App in a secretRef makes the config Ready and authenticates its statuses", func(t *testing.T) {
		testGitHubAppSecretRef(t, c)
	})
	t.Run("a GitHub App that cannot work makes the config not Ready with the reason and no secret", func(t *testing.T) {
		testGitHubAppNotReady(t, c)
	})
	t.Run("a config without orchestrator is accepted, Ready, and posts statuses only", func(t *testing.T) {
		testStatusesOnly(t, c)
	})

	t.Run("one name in two namespaces is ambiguous alone and routed with its namespace", func(t *testing.T) {
		nss := c.namespaces(t, "x", "y")
		fake := newGitHub(t, "manifests-x", "manifests-y")
		commit(fake, "manifests-x", sha1)
		commit(fake, "manifests-y", sha1)
		c.create(t, nss[0], "shared", githubSpec(fake, "FLUX", "manifests-x"))
		c.create(t, nss[1], "shared", githubSpec(fake, "FLUX", "manifests-y"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: nss, PAT: fake.Token()})
		c.waitReady(t, nss[0], "shared")
		c.waitReady(t, nss[1], "shared")

		for _, tc := range []struct{ path, name string }{{"", "shared"}, {"/gitopsphase/shared", ""}} {
			a := h.Post(t, tc.path, fluxProgressing(sha1, tc.name))
			if a.Code != http.StatusOK || a.Status != "ignored" || !strings.Contains(a.Reason, "ambiguous") ||
				!strings.Contains(a.Reason, nss[0]+"/shared") || !strings.Contains(a.Reason, nss[1]+"/shared") {
				t.Errorf("POST %q naming %q: %+v, want ignored as ambiguous, naming both", tc.path, tc.name, a)
			}
		}
		a := h.Post(t, "/gitopsphase/"+nss[1]+"/shared", fluxProgressing(sha1, ""))
		if a.Code != http.StatusAccepted || a.Config != nss[1]+"/shared" {
			t.Fatalf("POST with the namespace: %+v", a)
		}
		waitContext(t, fake, "manifests-y", sha1, "Status")
		if got := contexts(fake, "manifests-x", sha1); len(got) != 0 {
			t.Errorf("the other namespace's config posted %v", got)
		}
	})

	t.Run("a rotated Secret's token is used without a restart", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		const rotated = "ghp_rotatedToken0123456789abcdefABCDEFGHIJ"
		fake := newGitHubWith(t, []fakegithub.Option{fakegithub.WithToken(rotated)}, "manifests")
		commit(fake, "manifests", sha1)
		commit(fake, "manifests", sha2)
		c.putSecret(t, ns, "github-token", map[string]string{"token": "ghp_expiredToken0123456789abcdefABCDEFGHIJ"})
		spec := githubSpec(fake, "FLUX", "manifests")
		spec["secretRef"] = map[string]any{"name": "github-token", "key": "token"}
		c.create(t, ns, "app", spec)
		// The global PAT is not the one GitHub accepts either.
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: "ghp_globalToken0123456789abcdefABCDEFGHIJK"})
		c.waitReady(t, ns, "app")

		if a := h.Post(t, "", fluxProgressing(sha1, "app")); a.Code != http.StatusAccepted {
			t.Fatalf("before the rotation: %+v", a)
		}
		h.Settle(t, 1)
		calls := fake.Calls(fakegithub.OpCreateStatus)
		if len(calls) == 0 || slices.ContainsFunc(calls, func(r fakegithub.Request) bool { return r.Answer != http.StatusUnauthorized }) {
			t.Fatalf("before the rotation GitHub answered %+v, want 401 to every status (the expired token)", calls)
		}

		loaded := h.waitSnapshots(t, 0)
		c.putSecret(t, ns, "github-token", map[string]string{"token": rotated})
		h.waitSnapshots(t, loaded)
		if a := h.Post(t, "", fluxProgressing(sha2, "app")); a.Code != http.StatusAccepted {
			t.Fatalf("after the rotation: %+v", a)
		}
		waitContext(t, fake, "manifests", sha2, "Status")
		if strings.Contains(h.Log.String(), rotated) || strings.Contains(h.Log.String(), "ghp_expiredToken") {
			t.Error("the host logged a token")
		}
	})

	t.Run("Flux and Argo CD events are routed by name and by path", func(t *testing.T) {
		ns := c.namespaces(t, "a")[0]
		fake := newGitHub(t, "flux-manifests", "argo-manifests")
		c.create(t, ns, "flux-app", githubSpec(fake, "FLUX", "flux-manifests"))
		c.create(t, ns, "argo-app", githubSpec(fake, "ARGOCD", "argo-manifests"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})
		c.waitReady(t, ns, "flux-app")
		c.waitReady(t, ns, "argo-app")

		cases := []struct {
			name string
			path string
			body func(sha string) []byte
			repo string
			// status is a context the operator's event posts.
			status string
		}{
			{"flux by eventMetadata", "", func(sha string) []byte { return fluxProgressing(sha, "flux-app") }, "flux-manifests", "Status"},
			{"flux by path name", "/gitopsphase/flux-app", func(sha string) []byte { return fluxProgressing(sha, "") }, "flux-manifests", "Status"},
			{"flux by path namespace and name", "/gitopsphase/" + ns + "/flux-app", func(sha string) []byte { return fluxProgressing(sha, "") }, "flux-manifests", "Status"},
			{"argo by annotation", "", func(sha string) []byte { return argoRunning(sha, "argo-app") }, "argo-manifests", "Phase"},
			{"argo by path name", "/gitopsphase/argo-app", func(sha string) []byte { return argoRunning(sha, "") }, "argo-manifests", "Phase"},
			{"argo by path namespace and name", "/gitopsphase/" + ns + "/argo-app", func(sha string) []byte { return argoRunning(sha, "") }, "argo-manifests", "Phase"},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				sha := fmt.Sprintf("%040x", 0xabc0+i)
				commit(fake, tc.repo, sha)
				a := h.Post(t, tc.path, tc.body(sha))
				config := ns + "/" + strings.TrimSuffix(tc.repo, "-manifests") + "-app"
				if a.Code != http.StatusAccepted || a.Config != config || a.Commit != sha {
					t.Fatalf("answer %+v, want 202 for %s", a, config)
				}
				waitContext(t, fake, tc.repo, sha, tc.status)
			})
		}
	})

	t.Run("permissions in the watched namespaces alone suffice", func(t *testing.T) {
		nss := c.namespaces(t, "m", "n")
		fake := newGitHub(t, "manifests")
		commit(fake, "manifests", sha3)
		// The chart's namespaced mode: the ClusterRole bound with a
		// RoleBinding in each watched namespace only.
		account := "scoped-" + nss[0]
		c.Apply(t, connectorNamespace, []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: "+account+"\n"))
		for _, ns := range nss {
			c.Apply(t, ns, []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: gitops-connector
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: gitops-connector
subjects:
  - kind: ServiceAccount
    name: `+account+`
    namespace: `+connectorNamespace+"\n"))
		}
		c.putSecret(t, nss[1], "github", map[string]string{"PAT": fake.Token()})
		c.create(t, nss[0], "global-token", githubSpec(fake, "FLUX", "manifests"))
		spec := githubSpec(fake, "FLUX", "manifests")
		spec["secretRef"] = map[string]any{"name": "github"}
		c.create(t, nss[1], "own-token", spec)

		h := startHost(t, hostOptions{Kubeconfig: c.KubeconfigFor(t, connectorNamespace, account), Namespaces: nss, PAT: fake.Token()})
		c.waitReady(t, nss[0], "global-token")
		c.waitReady(t, nss[1], "own-token")
		if a := h.Post(t, "", fluxProgressing(sha3, "own-token")); a.Code != http.StatusAccepted || a.Config != nss[1]+"/own-token" {
			t.Fatalf("event: %+v", a)
		}
		waitContext(t, fake, "manifests", sha3, "Status")
	})

	t.Run("every namespace is watched when none is named", func(t *testing.T) {
		nss := c.namespaces(t, "p", "q")
		fake := newGitHub(t, "manifests")
		commit(fake, "manifests", sha3)
		c.create(t, nss[0], "everywhere-p", githubSpec(fake, "FLUX", "manifests"))
		c.create(t, nss[1], "everywhere-q", githubSpec(fake, "ARGOCD", "manifests"))
		h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, PAT: fake.Token()})
		c.waitReady(t, nss[0], "everywhere-p")
		c.waitReady(t, nss[1], "everywhere-q")
		if a := h.Post(t, "", fluxProgressing(sha3, "everywhere-p")); a.Code != http.StatusAccepted || a.Config != nss[0]+"/everywhere-p" {
			t.Errorf("flux event: %+v", a)
		}
		if a := h.Post(t, "", argoRunning(sha3, "everywhere-q")); a.Code != http.StatusAccepted || a.Config != nss[1]+"/everywhere-q" {
			t.Errorf("argo event: %+v", a)
		}
	})
}
