package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// A single instance authenticated as a GitHub App (key in a file, the
// installation looked up) posts statuses and dispatches with installation
// tokens; the fake verifies the app's JWTs and refuses them on repository
// calls. Neither the key nor a token reaches the log.
func TestAGitHubAppPostsStatusesAndDispatches(t *testing.T) {
	app, err := fakegithub.TestApp()
	if err != nil {
		t.Fatal(err)
	}
	fake := newGitHub(t, fakegithub.WithApp(app), fakegithub.WithToken("ghp_notUsedByThisTest0123456789"))
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, []byte(app.PrivateKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	registerSecret("the GitHub App's private key", app.PrivateKeyPEM())
	env := githubEnv(fake, "FLUX")
	delete(env, "PAT")
	env["GITHUB_APP_ID"] = "4242"
	env["GITHUB_APP_PRIVATE_KEY_FILE"] = keyFile
	h := startHost(t, hostOptions{Env: env})
	t.Cleanup(func() {
		for _, tok := range fake.TokensIssued() {
			registerSecret("an installation token", tok)
		}
	})
	revision := "main@sha1:" + sha
	if a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")); a.Code != 202 {
		t.Fatalf("answer %+v", a)
	}
	h.Settle(t, 1)
	checkStatuses(t, "statuses", contexts(fake), []string{"Status=success"})
	if d := fake.Dispatches(owner, actions); len(d) != 1 {
		t.Fatalf("dispatches %+v", d)
	}
	// The repository and the orchestrator plugin each hold their own
	// client: at most one token each (and one for validation each).
	if n := len(fake.TokensIssued()); n == 0 || n > 4 {
		t.Errorf("%d installation tokens issued", n)
	}
}

// An app that is not installed on the repository's owner leaves the config
// not ready, and the log says what to install.
func TestAGitHubAppNotInstalledKeepsTheConfigFromServing(t *testing.T) {
	app, err := fakegithub.TestApp()
	if err != nil {
		t.Fatal(err)
	}
	app.Owners = []string{"another-org"}
	fake := newGitHub(t, fakegithub.WithApp(app))
	env := githubEnv(fake, "FLUX")
	delete(env, "PAT")
	env["GITHUB_APP_ID"] = "4242"
	env["GITHUB_APP_PRIVATE_KEY"] = app.PrivateKeyPEM()
	h := launchHost(t, hostOptions{Env: env}.proc())
	waitInvalid(t, h, "the app is not installed there (404)")
	revision := "main@sha1:" + sha
	a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	if a.Code == 202 || len(fake.Statuses(owner, manifests, sha)) != 0 {
		t.Errorf("answer %+v: the invalid config took the event", a)
	}
}
