package multiinstance

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// testApp is the GitHub App of the fake: id 4242, installation 777.
func testApp(t *testing.T) fakegithub.App {
	t.Helper()
	app, err := fakegithub.TestApp()
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// appSecret is a Secret holding a GitHub App under the keys Flux and Argo CD
// use, without the installation id: the connector looks it up.
func appSecret(app fakegithub.App, privateKey string) map[string]string {
	return map[string]string{"githubAppID": strconv.FormatInt(app.ID, 10), "githubAppPrivateKey": privateKey}
}

// A GitOpsConfig whose secretRef names a Secret holding a GitHub App is
// Ready once the connector got an installation token, and posts its
// statuses with installation tokens; the global PAT is not GitHub's.
func testGitHubAppSecretRef(t *testing.T, c *cluster) {
	ns := c.namespaces(t, "a")[0]
	app := testApp(t)
	fake := newGitHubWith(t, []fakegithub.Option{fakegithub.WithApp(app)}, "manifests")
	commit(fake, "manifests", sha1)
	c.putSecret(t, ns, "github-app", appSecret(app, app.PrivateKeyPEM()))
	spec := githubSpec(fake, "FLUX", "manifests")
	spec["secretRef"] = map[string]any{"name": "github-app"}
	c.create(t, ns, "app", spec)
	h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: "ghp_globalToken0123456789abcdefABCDEFGHIJK"})

	cond := c.waitStatus(t, ns, "app", 1)
	if cond.Status != metav1.ConditionTrue || cond.Reason != "Valid" {
		t.Fatalf("Ready=%s %s: %s, want True Valid", cond.Status, cond.Reason, cond.Message)
	}
	if n := len(fake.Calls(fakegithub.OpGetRepoInstallation)); n == 0 {
		t.Error("the connector did not look the installation up from the repository")
	}
	if a := h.Post(t, "", fluxProgressing(sha1, "app")); a.Code != http.StatusAccepted || a.Config != ns+"/app" {
		t.Fatalf("event: %+v", a)
	}
	waitContext(t, fake, "manifests", sha1, "Status")
	h.Settle(t, 1)
	calls := fake.Calls(fakegithub.OpCreateStatus)
	if len(calls) == 0 || slices.ContainsFunc(calls, func(r fakegithub.Request) bool { return r.Answer != http.StatusCreated }) {
		t.Errorf("status calls %+v, want every one 201 (authenticated with an installation token)", calls)
	}
	tokens := fake.TokensIssued()
	if len(tokens) == 0 {
		t.Fatal("no installation token was issued")
	}
	fake.AssertValid(t)
	noSecretIn(t, "the host's log", h.Log.String(), append(tokens, app.PrivateKeyPEM())...)
}

// A GitHub App that cannot work makes its GitOpsConfig Ready=False with
// the reason, and no secret is in the condition or the log.
func testGitHubAppNotReady(t *testing.T, c *cluster) {
	ns := c.namespaces(t, "a")[0]
	app := testApp(t)
	// The app is installed on another owner only.
	elsewhere := app
	elsewhere.Owners = []string{"another-org"}
	fake := newGitHubWith(t, []fakegithub.Option{fakegithub.WithApp(elsewhere)}, "manifests")
	const garbled = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbCBidXQgYSBzZWNyZXQgc3RpbGw=\n-----END RSA PRIVATE KEY-----\n"
	c.putSecret(t, ns, "bad-key", appSecret(app, garbled))
	c.putSecret(t, ns, "not-installed", appSecret(app, app.PrivateKeyPEM()))
	cases := []struct {
		name, secret string
		message      []string
	}{
		{"bad-key", "bad-key", []string{"private key of GitHub App 4242 cannot be parsed"}},
		{"not-installed", "not-installed", []string{"GitHub App 4242", "kaizentm/manifests", "not installed"}},
	}
	for _, tc := range cases {
		spec := githubSpec(fake, "FLUX", "manifests")
		spec["secretRef"] = map[string]any{"name": tc.secret}
		c.create(t, ns, tc.name, spec)
	}
	h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cond := c.waitStatus(t, ns, tc.name, 1)
			if cond.Status != metav1.ConditionFalse || cond.Reason != "PluginRejected" {
				t.Errorf("Ready=%s %s, want False PluginRejected (message %q)", cond.Status, cond.Reason, cond.Message)
			}
			for _, m := range tc.message {
				if !strings.Contains(cond.Message, m) {
					t.Errorf("message %q does not say %q", cond.Message, m)
				}
			}
			noSecretIn(t, "the Ready condition", cond.Message, garbled, app.PrivateKeyPEM())
		})
	}
	if n := len(fake.TokensIssued()); n != 0 {
		t.Errorf("%d installation tokens issued for an app not installed on the owner", n)
	}
	fake.AssertValid(t)
	noSecretIn(t, "the host's log", h.Log.String(), garbled, app.PrivateKeyPEM())
}

// A GitOpsConfig without ciCdOrchestratorType is accepted by the API server
// and Ready, posts its statuses and tells no pipeline.
func testStatusesOnly(t *testing.T, c *cluster) {
	ns := c.namespaces(t, "a")[0]
	fake := newGitHub(t, "manifests")
	commit(fake, "manifests", sha1)
	spec := githubSpec(fake, "FLUX", "manifests")
	delete(spec, "ciCdOrchestratorType")
	delete(spec, "gitHubGitOpsRepoName")
	c.create(t, ns, "statuses-only", spec)
	h := startHost(t, hostOptions{Kubeconfig: c.kubeconfig, Namespaces: []string{ns}, PAT: fake.Token()})
	c.waitReady(t, ns, "statuses-only")

	revision := "main@sha1:" + sha1
	a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "statuses-only"))
	if a.Code != http.StatusAccepted || a.Config != ns+"/statuses-only" || !a.Finished {
		t.Fatalf("event: %+v, want accepted as a finished deployment", a)
	}
	h.Settle(t, 1)
	var got []string
	for _, s := range fake.Statuses(owner, "manifests", sha1) {
		got = append(got, s.Context+"="+s.State)
	}
	if !slices.Equal(got, []string{"Status=success"}) {
		t.Errorf("statuses %v, want [Status=success]", got)
	}
	if d := fake.AllDispatches(); len(d) != 0 {
		t.Errorf("dispatches %+v, want none: the config has no orchestrator", d)
	}
	if len(h.Log.Messages("event delivered; the config tells no pipeline")) != 1 {
		t.Errorf("no log line says the config tells no pipeline:\n%s", h.Log.String())
	}
	fake.AssertValid(t)
}

// noSecretIn fails the test when text holds any of the secrets (or a
// line of a multi-line one, such as a PEM's body).
func noSecretIn(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
				t.Errorf("%s holds a secret: %q", where, line)
			}
		}
	}
}
