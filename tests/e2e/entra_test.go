package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// Microsoft Entra ID identities of the tests.
const (
	entraSPClient     = "5d7f9b1c-3e4a-4c6d-8f0b-2d4f6a8c0e21"
	entraSPSecret     = "e2e-sp-secret-Xq8~vN3pL0"
	entraWIClient     = "6e8a0c2d-4f5b-4d7e-9a1c-3e5a7b9d1f22"
	entraFederatedJWT = "eyJhbGciOiJSUzI1NiJ9.e2e-service-account-token.c2lnbmF0dXJl"
)

// newEntraID is a fake Entra ID, and the SSL_CERT_FILE that makes the
// host's processes trust its certificate. Its access tokens, and the
// secrets the test registers, must reach no log.
func newEntraID(t *testing.T) (*fakeentra.Server, string) {
	e := fakeentra.New(t, fakeentra.Options{})
	ca := e.CAFile(t, t.TempDir())
	t.Cleanup(func() {
		e.AssertValid(t)
		for _, tok := range e.Tokens() {
			registerSecret("an Entra ID access token", tok)
		}
	})
	return e, ca
}

// servicePrincipalEnv gives a single instance's AZDO integrations without
// their own token the service principal entraSPClient of e.
func servicePrincipalEnv(env map[string]string, e *fakeentra.Server) {
	env["AZURE_TENANT_ID"] = e.Tenant()
	env["AZURE_CLIENT_ID"] = entraSPClient
	env["AZURE_CLIENT_SECRET"] = entraSPSecret
	env["AZURE_AUTHORITY_HOST"] = e.AuthorityHost()
}

// newAzureDevOpsFor is newAzureDevOps taking the access tokens of e.
func newAzureDevOpsFor(t *testing.T, e *fakeentra.Server, comment string) *fakeazdo.Server {
	fake := fakeazdo.New(t, fakeazdo.Options{Bearer: e.Identity})
	t.Cleanup(func() { fake.AssertValid(t) })
	fake.AddRepository(azdoRepo)
	fake.AddCommit(azdoRepo, fakeazdo.Commit{ID: sha, Comment: comment})
	return fake
}

// checkAzureDevOpsCallers fails the test unless every request Azure DevOps
// received came from identity (and none from a PAT or another identity).
func checkAzureDevOpsCallers(t *testing.T, fake *fakeazdo.Server, identity string) {
	t.Helper()
	for _, r := range fake.Requests() {
		if r.Identity != identity || r.Status == 401 {
			t.Errorf("Azure DevOps: %s %s by %q (HTTP %d), want by %s", r.Method, r.Path, r.Identity, r.Status, identity)
		}
	}
}

// checkGitHubCallers fails the test unless every request GitHub received
// carried its token (the fake answers 401 to any other credential).
func checkGitHubCallers(t *testing.T, fake *fakegithub.Server) {
	t.Helper()
	if len(fake.Requests()) == 0 {
		t.Error("GitHub received no request")
	}
	for _, r := range fake.Requests() {
		if r.Answer == 401 {
			t.Errorf("GitHub: %s %s without its token (401)", r.Method, r.Path)
		}
	}
}

// Azure Repos with workload identity and GitHub Actions with a PAT: the
// Azure DevOps plugin calls Azure DevOps with Entra ID access tokens of the
// federated identity, the GitHub plugin dispatches with the GitHub token,
// and neither plugin sends the other's credential.
func TestAzureReposWithWorkloadIdentityAndGitHubActions(t *testing.T) {
	gh := newGitHub(t)
	entra, ca := newEntraID(t)
	azdo := newAzureDevOpsFor(t, entra, mergeMessage)
	env := azdoEnv(azdo, "FLUX")
	env["SSL_CERT_FILE"] = ca
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(tokenFile, []byte(entraFederatedJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	registerSecret("the federated service account token", entraFederatedJWT)
	entra.AddFederated(entraWIClient, tokenFile)
	delete(env, "PAT")
	env["CICD_ORCHESTRATOR_TYPE"] = "GITHUB"
	env["GITHUB_ORG_URL"] = gh.OrgURL(owner)
	env["GITHUB_GITOPS_REPO_NAME"] = actions
	env["CICD_ORCHESTRATOR_PAT"] = gh.Token()
	// As the Azure Workload Identity webhook injects them.
	env["AZURE_CLIENT_ID"] = entraWIClient
	env["AZURE_TENANT_ID"] = entra.Tenant()
	env["AZURE_FEDERATED_TOKEN_FILE"] = tokenFile
	env["AZURE_AUTHORITY_HOST"] = entra.AuthorityHost()
	h := startHost(t, hostOptions{Env: env})

	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	h.Settle(t, 1)
	checkStatuses(t, "Azure Repos statuses", azdoContexts(azdo), []string{"Status=succeeded"})
	if d := gh.Dispatches(owner, actions); len(d) != 1 || d[0].ClientPayload["sha"] != sourceSHA {
		t.Fatalf("dispatches %+v, want one for %s", d, sourceSHA)
	}
	checkAzureDevOpsCallers(t, azdo, entraWIClient)
	checkGitHubCallers(t, gh)
	// One access token, asked for when the config was validated and
	// reused for every call since.
	if n := entra.Issued(entraWIClient); n != 1 {
		t.Errorf("%d access tokens issued, want 1", n)
	}
	checkNoSecrets(t, "the host's log", h.Log.String())
}

// A GitHub repository with its own PAT and the Azure Pipelines
// orchestrator as a service principal: the GitHub plugin posts statuses
// with the GitHub token, the Azure DevOps plugin authenticates as the
// service principal, and neither receives the other's credential. The
// orchestrator finds the pipeline's callback on a pull request it reads
// through the config's repository, so with a GitHub repository it cannot
// complete the task: the log says which pull request it could not find.
func TestAGitHubRepositoryWithAnAzurePipelinesServicePrincipal(t *testing.T) {
	gh := newGitHub(t)
	env := githubEnv(gh, "FLUX")
	entra, ca := newEntraID(t)
	env["SSL_CERT_FILE"] = ca
	entra.AddSecret(entraSPClient, entraSPSecret)
	azdo := newAzureDevOpsFor(t, entra, mergeMessage)
	delete(env, "PAT")
	env["GIT_REPOSITORY_PAT"] = gh.Token()
	env["CICD_ORCHESTRATOR_TYPE"] = "AZDO"
	env["AZDO_ORG_URL"] = azdo.ProjectURL()
	env["AZDO_PR_REPO_NAME"] = azdoRepo
	servicePrincipalEnv(env, entra)
	h := startHost(t, hostOptions{Env: env})

	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	eventually(t, "the orchestrator to give up", func() string {
		if len(h.Log.Messages("notify orchestrator failed permanently")) == 0 {
			return "not yet"
		}
		return ""
	})
	checkStatuses(t, "GitHub statuses", contexts(gh), []string{"Status=success"})
	checkGitHubCallers(t, gh)
	checkAzureDevOpsCallers(t, azdo, entraSPClient)
	// The Azure DevOps plugin asked Entra ID for a token as the service
	// principal when it validated the config: it received the service
	// principal, and the GitHub token went to GitHub only.
	if n := entra.Issued(entraSPClient); n != 1 {
		t.Errorf("%d access tokens issued to the service principal, want 1 (for the validation)", n)
	}
	checkNoSecrets(t, "the host's log", h.Log.String())
}

// A service principal whose secret Entra ID refuses leaves the config not
// ready: the log gives Entra ID's reason, never the secret, and the config
// takes no events.
func TestAServicePrincipalEntraIDRefusesKeepsTheConfigFromServing(t *testing.T) {
	entra, ca := newEntraID(t)
	entra.AddSecret(entraSPClient, "the-secret-entra-id-knows")
	azdo := newAzureDevOpsFor(t, entra, "Merged PR 7: deploy")
	env := azdoEnv(azdo, "FLUX")
	env["SSL_CERT_FILE"] = ca
	delete(env, "PAT")
	servicePrincipalEnv(env, entra)
	h := launchHost(t, hostOptions{Env: env}.proc())
	waitInvalid(t, h, "AADSTS7000215")
	revision := "main@sha1:" + sha
	if a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")); a.Code == 202 {
		t.Errorf("answer %+v: the invalid config took the event", a)
	}
	if n := len(azdo.Requests()); n != 0 {
		t.Errorf("Azure DevOps received %d requests", n)
	}
	checkNoSecrets(t, "the host's log", h.Log.String())
}

// One Azure DevOps plugin serves both integrations of a config with two
// credentials: the repository's PAT and the orchestrator's service
// principal. Statuses and the reads the orchestrator makes through the
// repository go with the PAT, the pipeline calls with the service
// principal's access tokens.
func TestAzureReposWithAPATAndAzurePipelinesWithAServicePrincipal(t *testing.T) {
	entra, ca := newEntraID(t)
	entra.AddSecret(entraSPClient, entraSPSecret)
	azdo := newAzureDevOpsWith(t, fakeazdo.Options{Bearer: entra.Identity})
	env := azdoEnv(azdo, "FLUX")
	env["SSL_CERT_FILE"] = ca
	delete(env, "PAT")
	env["GIT_REPOSITORY_PAT"] = azdo.Token()
	servicePrincipalEnv(env, entra)
	h := startHost(t, hostOptions{Env: env})

	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	h.Settle(t, 1)
	checkStatuses(t, "statuses", azdoContexts(azdo), []string{"Status=succeeded"})
	if ev := azdo.Events(); len(ev) != 1 || ev[0].Result != "succeeded" {
		t.Fatalf("plan events %+v, want one TaskCompleted succeeded", ev)
	}
	byRoute := map[fakeazdo.Route]string{
		fakeazdo.RouteCreateStatus: fakeazdo.IdentityPAT, fakeazdo.RouteGetCommit: fakeazdo.IdentityPAT,
		fakeazdo.RoutePullRequestProperties: fakeazdo.IdentityPAT,
		fakeazdo.RouteGetPlan:               entraSPClient, fakeazdo.RouteGetTimeline: entraSPClient, fakeazdo.RoutePostEvent: entraSPClient,
	}
	for route, want := range byRoute {
		reqs := azdo.RequestsTo(route)
		if len(reqs) == 0 {
			t.Errorf("%s: no request", route)
		}
		for _, r := range reqs {
			if r.Identity != want {
				t.Errorf("%s %s by %q, want by %s", r.Method, r.Path, r.Identity, want)
			}
		}
	}
	checkNoSecrets(t, "the host's log", h.Log.String())
}
