package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

func TestEachPluginReceivesOnlyItsIntegrationsCredential(t *testing.T) {
	repo, orch, shared := TokenCredential("repo-token"), TokenCredential("orch-token"), TokenCredential("shared-token")
	tests := []struct {
		name               string
		repoType, orchType string
		cs                 Credentials
		wantRepo, wantOrch string
		wantErr            bool
	}{
		{"one PAT, one type", "GITHUB", "GITHUB", Credentials{Shared: CredentialSource{Credential: shared}}, "shared-token", "shared-token", false},
		{"one PAT, statuses only", "GITEA", "", Credentials{Shared: CredentialSource{Credential: shared}}, "shared-token", "", false},
		{"one PAT, two types", "GITEA", "GITHUB", Credentials{Shared: CredentialSource{Credential: shared}}, "", "", true},
		{"own credentials", "GITEA", "GITHUB", Credentials{Repository: CredentialSource{Credential: repo}, Orchestrator: CredentialSource{Credential: orch}}, "repo-token", "orch-token", false},
		{"the PAT serves the other", "GITEA", "GITHUB", Credentials{Shared: CredentialSource{Credential: shared}, Repository: CredentialSource{Credential: repo}}, "repo-token", "shared-token", false},
		{"one plugin serves both types", "GITEA", "FORGEJO", Credentials{Shared: CredentialSource{Credential: shared}, OneHost: true}, "shared-token", "shared-token", false},
		{"own beats shared", "GITHUB", "GITHUB", Credentials{Shared: CredentialSource{Credential: shared}, Orchestrator: CredentialSource{Credential: orch}}, "shared-token", "orch-token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Name: "c", RepositoryType: tt.repoType, OrchestratorType: tt.orchType, Credentials: tt.cs}
			if got := c.SDK(RoleRepository).Token; got != tt.wantRepo {
				t.Errorf("repository token %q, want %q", got, tt.wantRepo)
			}
			if got := c.SDK(RoleOrchestrator).Token; got != tt.wantOrch {
				t.Errorf("orchestrator token %q, want %q", got, tt.wantOrch)
			}
			if got := c.SDK(RoleOperator); got.Token != "" || got.Credential.Kind != "" {
				t.Errorf("the operator received a credential: %v", got.Credential)
			}
			errs := c.CredentialErrors(false)
			if (len(errs) > 0) != tt.wantErr {
				t.Errorf("errors %v, want some: %v", errs, tt.wantErr)
			}
			for _, e := range errs {
				if strings.Contains(e.Message, "token") && strings.Contains(e.Message, "shared-token") {
					t.Errorf("error reveals the token: %v", e)
				}
			}
		})
	}
}

func TestSingleInstanceCredentialsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN RSA PRIVATE KEY-----\nxyz\n-----END RSA PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"GITOPS_OPERATOR_TYPE": "FLUX", "GITOPS_APP_URL": "https://example.com"}
	with := func(m map[string]string) func(string) string {
		all := map[string]string{}
		for k, v := range base {
			all[k] = v
		}
		for k, v := range m {
			all[k] = v
		}
		return env(all)
	}
	t.Run("GitHub App for the repository, Entra ID workload identity for Azure Pipelines", func(t *testing.T) {
		c, invalid := FromEnv(with(map[string]string{
			"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "AZDO",
			"GITHUB_APP_ID": "123", "GITHUB_APP_PRIVATE_KEY_FILE": keyFile,
			"AZURE_CLIENT_ID": "cid", "AZURE_TENANT_ID": "tid", "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
			"AZURE_AUTHORITY_HOST": "https://login.example/",
		}))
		if len(invalid) > 0 {
			t.Fatalf("invalid: %+v", invalid)
		}
		r, o := c.SDK(RoleRepository).Credential, c.SDK(RoleOrchestrator).Credential
		if r.Kind != sdk.CredentialGitHubApp || r.Value("appId") != "123" || !strings.Contains(r.Value("privateKey"), "BEGIN RSA") || r.Value("installationId") != "" {
			t.Errorf("repository credential %v %v", r, r.Values["appId"])
		}
		if o.Kind != sdk.CredentialAzureWorkloadIdentity || o.Value("clientId") != "cid" || o.Value("tenantId") != "tid" ||
			o.Value("federatedTokenFile") == "" || o.Value("authorityHost") != "https://login.example/" {
			t.Errorf("orchestrator credential %v %v", o, o.Values)
		}
	})
	t.Run("a third-party repository's token and the GitHub orchestrator's", func(t *testing.T) {
		c, invalid := FromEnv(with(map[string]string{
			"GIT_REPOSITORY_TYPE": "GITEA", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "GIT_REPOSITORY_PAT": "gitea-token", "PAT": "ghp-token",
		}))
		if len(invalid) > 0 {
			t.Fatalf("invalid: %+v", invalid)
		}
		if r, o := c.SDK(RoleRepository).Token, c.SDK(RoleOrchestrator).Token; r != "gitea-token" || o != "ghp-token" {
			t.Errorf("repository %q, orchestrator %q", r, o)
		}
	})
	t.Run("one PAT for two kinds of host is refused", func(t *testing.T) {
		c, invalid := FromEnv(with(map[string]string{"GIT_REPOSITORY_TYPE": "GITEA", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "PAT": "ghp-token"}))
		msg := Invalid{Errors: c.CredentialErrors(true)}.Message()
		if len(invalid) != 0 || !strings.Contains(msg, "PAT: serves the repository and the orchestrator only when both are of one type") ||
			strings.Contains(msg, "ghp-token") || c.SDK(RoleRepository).Token != "" || c.SDK(RoleOrchestrator).Token != "" {
			t.Errorf("invalid %+v, errors %q", invalid, msg)
		}
	})
	t.Run("statuses only", func(t *testing.T) {
		for _, orch := range []string{"", "NONE", "none"} {
			c, invalid := FromEnv(with(map[string]string{"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": orch, "PAT": "ghp-token"}))
			if len(invalid) > 0 || c.OrchestratorType != "" || c.SDK(RoleRepository).Token != "ghp-token" {
				t.Errorf("%q: %+v %+v", orch, c, invalid)
			}
		}
	})
	t.Run("service principal with a certificate that cannot be read", func(t *testing.T) {
		_, invalid := FromEnv(with(map[string]string{"GIT_REPOSITORY_TYPE": "AZDO", "CICD_ORCHESTRATOR_TYPE": "AZDO",
			"AZURE_CLIENT_ID": "cid", "AZURE_TENANT_ID": "tid", "AZURE_CLIENT_CERTIFICATE_PATH": filepath.Join(dir, "missing.pem")}))
		if len(invalid) != 1 || !strings.Contains(invalid[0].Message(), "AZURE_CLIENT_CERTIFICATE_PATH: cannot read the file") {
			t.Errorf("invalid %+v", invalid)
		}
	})
}

func TestCredentialFromSecret(t *testing.T) {
	tests := []struct {
		name     string
		ref      SecretRef
		data     map[string]string
		wantKind string
		wantErr  string
	}{
		{"PAT", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"PAT": "tok"}, sdk.CredentialToken, ""},
		{"named key", SecretRef{Name: "s", Key: "token", KeyGiven: true}, map[string]string{"token": "tok", "githubAppID": "1"}, sdk.CredentialToken, ""},
		{"named key missing", SecretRef{Name: "s", Key: "token", KeyGiven: true}, map[string]string{"githubAppID": "1"}, "", `the Secret "s" has no key "token"`},
		{"GitHub App", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"githubAppID": "1", "githubAppInstallationID": "2", "githubAppPrivateKey": "pem"}, sdk.CredentialGitHubApp, ""},
		{"GitHub App without key", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"githubAppID": "1"}, "", `its key "githubAppPrivateKey" is missing`},
		{"service principal", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"tenantId": "t", "clientId": "c", "clientSecret": "sec"}, sdk.CredentialAzureServicePrincipal, ""},
		{"service principal with secret and certificate", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"tenantId": "t", "clientId": "c", "clientSecret": "sec", "clientCertificate": "pem"}, "", "exactly one of"},
		{"nothing known", SecretRef{Name: "s", Key: "PAT"}, map[string]string{"password": "x"}, "", `has no key "PAT" (a token), "githubAppID" (a GitHub App) or "clientId"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := CredentialFromSecret(tt.ref, func(k string) (string, bool) { v, ok := tt.data[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				for _, v := range []string{"tok", "pem", "sec"} {
					if strings.Contains(err.Error(), `"`+v+`"`) {
						t.Errorf("error reveals a value: %v", err)
					}
				}
				return
			}
			if err != nil || cred.Kind != tt.wantKind {
				t.Fatalf("credential %v, err %v; want %s", cred, err, tt.wantKind)
			}
		})
	}
}

func TestAzureIdentityFromTheSpec(t *testing.T) {
	spec := map[string]any{"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "AZDO", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x",
		"repositorySecretRef": map[string]any{"name": "gh-app"}, "orchestratorAzureIdentity": "workload"}
	c, errs := FromSpec("c", "ns", spec)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if errs := c.Credentials.ResolveAzureIdentities(env(map[string]string{"AZURE_CLIENT_ID": "cid"})); len(errs) != 1 ||
		!strings.Contains(errs[0].Message, "AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE") {
		t.Errorf("errors %v", errs)
	}
	spec["orchestratorSecretRef"] = map[string]any{"name": "sp"}
	spec["azureIdentity"] = "kerberos"
	_, errs = FromSpec("c", "ns", spec)
	msg := Invalid{Errors: errs}.Message()
	for _, want := range []string{`azureIdentity: unknown Azure identity "kerberos"`, "orchestratorAzureIdentity: cannot be given with orchestratorSecretRef"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}
