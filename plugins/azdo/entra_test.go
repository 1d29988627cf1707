package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
)

// withEntra gives a case of TestPlugin the fake Entra ID the plugin
// process trusts.
func withEntra(e *fakeentra.Server, run func(*testing.T, *plugintest.Client, *fakeentra.Server)) func(*testing.T, *plugintest.Client) {
	return func(t *testing.T, p *plugintest.Client) { run(t, p, e) }
}

// entraConfig is configFor(f) with an Entra ID credential instead of the
// PAT.
func entraConfig(f *fakeazdo.Server, cred sdk.Credential) sdk.Config {
	cfg := configFor(f)
	cfg.Token, cfg.Credential = "", cred
	return cfg
}

func testEntraIdentitiesCallAzureDevOpsWithBearerTokens(t *testing.T, p *plugintest.Client, e *fakeentra.Server) {
	dir := t.TempDir()
	certPEM, cert := fakeentra.NewCertificate(t, "7a0c2e4f-6b8d-4f1a-9c3e-5a7c9e1b3d10")
	for _, tc := range []struct {
		name, identity string
		cred           func() sdk.Credential
	}{
		{"service principal with a secret", "1f3b5d7e-9a2c-4e6f-8b1d-3f5a7c9e1b11", func() sdk.Credential {
			e.AddSecret("1f3b5d7e-9a2c-4e6f-8b1d-3f5a7c9e1b11", "plugin-sp-secret")
			return sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{
				"tenantId": e.Tenant(), "clientId": "1f3b5d7e-9a2c-4e6f-8b1d-3f5a7c9e1b11", "clientSecret": "plugin-sp-secret", "authorityHost": e.AuthorityHost(),
			}}
		}},
		{"service principal with a certificate", "7a0c2e4f-6b8d-4f1a-9c3e-5a7c9e1b3d10", func() sdk.Credential {
			e.AddCertificate("7a0c2e4f-6b8d-4f1a-9c3e-5a7c9e1b3d10", cert)
			return sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{
				"tenantId": e.Tenant(), "clientId": "7a0c2e4f-6b8d-4f1a-9c3e-5a7c9e1b3d10", "clientCertificate": certPEM, "authorityHost": e.AuthorityHost(),
			}}
		}},
		{"workload identity", "2a4c6e8f-0b1d-4f3a-9c5e-7a9c1e3b5d12", func() sdk.Credential {
			file := filepath.Join(dir, "azure-identity-token")
			if err := os.WriteFile(file, []byte("service-account-token-1"), 0o600); err != nil {
				t.Fatal(err)
			}
			e.AddFederated("2a4c6e8f-0b1d-4f3a-9c5e-7a9c1e3b5d12", file)
			return sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity, Values: map[string]string{
				"tenantId": e.Tenant(), "clientId": "2a4c6e8f-0b1d-4f3a-9c5e-7a9c1e3b5d12", "federatedTokenFile": file, "authorityHost": e.AuthorityHost(),
			}}
		}},
		{"managed identity", "mi:3b5d7f9a-1c2e-4a4b-8d6f-8b0d2f4a6c13", func() sdk.Credential {
			e.AddManagedIdentity("3b5d7f9a-1c2e-4a4b-8d6f-8b0d2f4a6c13")
			return sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: map[string]string{"clientId": "3b5d7f9a-1c2e-4a4b-8d6f-8b0d2f4a6c13"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeazdo.New(t, fakeazdo.Options{Bearer: e.Identity})
			f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 42: deploy"})
			cfg := entraConfig(f, tc.cred())
			errs, err := p.Repository.ValidateConfig(callCtx(t), cfg)
			if err != nil || len(errs) > 0 {
				t.Fatalf("ValidateConfig = %v, %v", errs, err)
			}
			status := sdk.Status{Name: "Status", State: sdk.StateSucceeded, Description: "applied", Operator: "Flux"}
			for range 2 {
				if err := p.Repository.PostStatus(callCtx(t), sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: status}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.Repository.GetCommit(callCtx(t), sdk.GetCommitRequest{Config: cfg, CommitID: commit}); err != nil {
				t.Fatal(err)
			}
			if n := len(f.Statuses("manifests", commit)); n != 2 {
				t.Errorf("%d statuses, want 2", n)
			}
			for _, r := range f.Requests() {
				if r.Identity != tc.identity || r.Status >= 400 {
					t.Errorf("%s %s: by %q (HTTP %d), want by %s", r.Method, r.Path, r.Identity, r.Status, tc.identity)
				}
			}
			if n := e.Issued(tc.identity); n != 1 {
				t.Errorf("%d access tokens for the validation and three calls, want 1 reused", n)
			}
			f.AssertValid(t)
			e.AssertValid(t)
		})
	}
}

func testACredentialEntraRefusesMakesTheConfigInvalid(t *testing.T, p *plugintest.Client, e *fakeentra.Server) {
	const client, secret = "4c6e8a0b-2d3f-4b5c-9e7a-9c1e3a5b7d14", "refused-sp-secret"
	e.AddSecret(client, secret)
	e.Refuse(client, true)
	f := fakeazdo.New(t, fakeazdo.Options{Bearer: e.Identity})
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 42: deploy"})
	f.AddRepository("hld")
	cfg := entraConfig(f, sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{
		"tenantId": e.Tenant(), "clientId": client, "clientSecret": secret, "authorityHost": e.AuthorityHost(),
	}})
	cfg.Settings["azdoPrRepoName"] = "hld"
	for name, validate := range map[string]func() ([]sdk.FieldError, error){
		"repository":   func() ([]sdk.FieldError, error) { return p.Repository.ValidateConfig(callCtx(t), cfg) },
		"orchestrator": func() ([]sdk.FieldError, error) { return p.Orchestrator.ValidateConfig(callCtx(t), cfg) },
	} {
		errs, err := validate()
		if err != nil || len(errs) != 1 || errs[0].Field != "credential" || !strings.Contains(errs[0].Message, "AADSTS7000215") {
			t.Fatalf("%s: ValidateConfig = %v, %v; want the refusal", name, errs, err)
		}
		if strings.Contains(errs[0].Message, secret) {
			t.Errorf("%s: the reason shows the secret: %s", name, errs[0].Message)
		}
	}
	err := p.Repository.PostStatus(callCtx(t), sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: sdk.Status{Name: "Status", State: sdk.StatePending}})
	if sdk.KindOf(err) != sdk.KindPermissionDenied || strings.Contains(err.Error(), secret) {
		t.Errorf("PostStatus = %v (kind %v), want permission denied without the secret", err, sdk.KindOf(err))
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("Azure DevOps received %d requests", n)
	}
	t.Logf("the reason: %v", err)
}
