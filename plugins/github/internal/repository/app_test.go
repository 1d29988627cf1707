package repository

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// appEnv is a fake GitHub that is also a GitHub App installed on owner, and
// a repository whose config authenticates as that app. The fake verifies
// every JWT (RS256 with the app's key, iss, iat, exp) and refuses the JWT on
// repository calls.
func appEnv(t *testing.T, enterprise bool, installationID string) (env, fakegithub.App) {
	t.Helper()
	app, err := fakegithub.TestApp()
	if err != nil {
		t.Fatal(err)
	}
	app.Owners = []string{owner}
	fake := fakegithub.Start(t, fakegithub.WithApp(app))
	fake.SetCommit(owner, manifests, sha, "deploy", otherSHA)
	orgURL := fake.OrgURL(owner)
	if enterprise {
		orgURL = fake.EnterpriseOrgURL(owner)
	}
	values := map[string]string{"appId": "4242", "privateKey": app.PrivateKeyPEM()}
	if installationID != "" {
		values["installationId"] = installationID
	}
	return env{
		fake: fake,
		repo: New(ghapi.NewClients(10 * time.Second)),
		cfg: sdk.Config{
			Name:       "app",
			Settings:   map[string]string{settings.OrgURL: orgURL, settings.ManifestsRepo: manifests},
			Credential: sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: values},
			Revision:   "rev-1",
		},
	}, app
}

func TestAGitHubAppPostsWithAnInstallationTokenItReusesUntilNearExpiry(t *testing.T) {
	for _, tc := range []struct {
		name           string
		enterprise     bool
		installationID string
	}{{"github.com, installation looked up", false, ""}, {"GitHub Enterprise Server, installation given", true, "777"}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := appEnv(t, tc.enterprise, tc.installationID)
			if errs, err := e.repo.ValidateConfig(context.Background(), e.cfg); err != nil || len(errs) > 0 {
				t.Fatalf("validate: %v %v", errs, err)
			}
			for i := 0; i < 3; i++ {
				if err := e.post(status("Status", sdk.StateSucceeded, "ok")); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			if got := len(e.fake.Statuses(owner, manifests, sha)); got != 3 {
				t.Errorf("%d statuses, want 3", got)
			}
			// One token for validation and three posts: it lives an hour.
			if n := len(e.fake.TokensIssued()); n != 1 {
				t.Errorf("%d installation tokens issued, want 1 reused", n)
			}
			lookups := 0
			for _, r := range e.fake.Requests() {
				if r.Operation == fakegithub.OpGetRepoInstallation {
					lookups++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tc.installationID == ""]; lookups != want {
				t.Errorf("%d installation lookups, want %d", lookups, want)
			}
		})
	}
}

func TestAnInstallationTokenNearItsExpiryIsRenewed(t *testing.T) {
	e, _ := appEnv(t, false, "777")
	// A token with less than a minute left is renewed before it is used.
	e.fake.SetTokenLifetime(30 * time.Second)
	for i := 0; i < 3; i++ {
		if err := e.post(status("Status", sdk.StateSucceeded, "ok")); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := len(e.fake.TokensIssued()); n != 3 {
		t.Errorf("%d installation tokens issued, want one per post", n)
	}
}

func TestARevokedTokenIsRenewedOnceThenASuspendedInstallationFailsVisibly(t *testing.T) {
	e, _ := appEnv(t, false, "777")
	if err := e.post(status("Status", sdk.StateSucceeded, "ok")); err != nil {
		t.Fatal(err)
	}
	e.fake.RevokeTokens()
	if err := e.post(status("Status", sdk.StateSucceeded, "again")); err != nil {
		t.Fatalf("after a revoked token: %v", err)
	}
	if n := len(e.fake.TokensIssued()); n != 2 {
		t.Fatalf("%d tokens issued, want 2 (one renewal)", n)
	}
	e.fake.SuspendInstallation()
	err := e.post(status("Status", sdk.StateFailed, "suspended"))
	if sdk.KindOf(err) != sdk.KindPermissionDenied || !strings.Contains(err.Error(), "installation was removed or suspended") {
		t.Fatalf("err %v (%v), want permission denied saying the installation is suspended", err, sdk.KindOf(err))
	}
	for _, tok := range e.fake.TokensIssued() {
		assertNoToken(t, err, tok)
	}
	// The refused request was sent once and renewed once.
	creates := 0
	for _, r := range e.fake.Requests() {
		if r.Operation == fakegithub.OpCreateInstallationToken {
			creates++
		}
	}
	if creates != 3 {
		t.Errorf("%d token requests, want 3 (first, renewal after revocation, refused renewal)", creates)
	}
}

func TestGitHubAppProblemsMakeTheConfigInvalid(t *testing.T) {
	e, _ := appEnv(t, false, "")
	bad := e.cfg
	bad.Credential = sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: map[string]string{"appId": "4242", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n"}}
	errs, err := e.repo.ValidateConfig(context.Background(), bad)
	if err != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, "private key of GitHub App 4242 cannot be parsed") || strings.Contains(errs[0].Message, "not a key") {
		t.Errorf("bad key: %v %v", errs, err)
	}
	notInstalled := e.cfg
	notInstalled.Settings = map[string]string{settings.OrgURL: e.fake.OrgURL("someone-else"), settings.ManifestsRepo: manifests}
	e.fake.AddRepo("someone-else", manifests)
	notInstalled.Revision = "rev-2"
	errs, err = e.repo.ValidateConfig(context.Background(), notInstalled)
	if err != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, "not installed") {
		t.Errorf("not installed: %v %v", errs, err)
	}
	azure := e.cfg
	azure.Credential = sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity}
	if errs, _ := e.repo.ValidateConfig(context.Background(), azure); len(errs) != 1 || !strings.Contains(errs[0].Message, "cannot authenticate to GitHub") {
		t.Errorf("azure credential: %v", errs)
	}
}
