package azdoapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

const (
	spClient  = "6f1c3a52-0d4b-4a8e-9c1f-2b7d5e8a9c01"
	spSecret  = "sp-secret-Q~9fK2xLm"
	wiClient  = "a3d5e7f9-1b2c-4d6e-8f0a-1c3e5a7b9d02"
	miClient  = "c4e6a8b0-2d3f-4a5b-9c7d-3e5f7a9b1d03"
	certOwner = "e5f7b9d1-3e4a-4b6c-8d8e-4f6a8b0c2e04"
)

// entraSetup is a fake Entra ID, a fake Azure DevOps that takes its
// tokens, and a client cache that trusts the fake Entra ID's certificate.
type entraSetup struct {
	entra *fakeentra.Server
	azdo  *fakeazdo.Server
	cs    *Clients
}

func newEntraSetup(t *testing.T) entraSetup {
	t.Helper()
	e := fakeentra.New(t, fakeentra.Options{})
	a := fakeazdo.New(t, fakeazdo.Options{Bearer: e.Identity})
	a.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 1: x"})
	t.Cleanup(func() { e.AssertValid(t); a.AssertValid(t) })
	return entraSetup{entra: e, azdo: a, cs: &Clients{Transport: e.HTTPClient().Transport}}
}

// settings are the settings of a config with credential cred.
func (e entraSetup) settings(t *testing.T, cred sdk.Credential) config.Settings {
	t.Helper()
	s := settingsFor(t, e.azdo.ProjectURL(), "")
	s.Credential = cred
	return s
}

func (e entraSetup) servicePrincipal(values map[string]string) sdk.Credential {
	v := map[string]string{"tenantId": e.entra.Tenant(), "authorityHost": e.entra.AuthorityHost()}
	for k, x := range values {
		v[k] = x
	}
	return sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: v}
}

func postStatus(ctx context.Context, c *Client) error {
	name := "Status"
	return c.PostStatus(ctx, "manifests", commit, git.GitStatus{State: &git.GitStatusStateValues.Pending, Context: &git.GitStatusContext{Name: &name}})
}

// assertAllBy checks that Azure DevOps saw every request from identity.
func assertAllBy(t *testing.T, a *fakeazdo.Server, identity string) {
	t.Helper()
	reqs := a.Requests()
	if len(reqs) == 0 {
		t.Fatal("Azure DevOps received no request")
	}
	for _, r := range reqs {
		if r.Identity != identity || r.Status >= 400 {
			t.Errorf("%s %s: by %q (HTTP %d), want by %q", r.Method, r.Path, r.Identity, r.Status, identity)
		}
	}
}

func TestEachEntraIdentityCallsAzureDevOpsWithABearerToken(t *testing.T) {
	certPEM, cert := fakeentra.NewCertificate(t, certOwner)
	for _, tc := range []struct {
		name     string
		identity string
		setup    func(t *testing.T, e entraSetup) sdk.Credential
	}{
		{"service principal with a secret", spClient, func(t *testing.T, e entraSetup) sdk.Credential {
			e.entra.AddSecret(spClient, spSecret)
			return e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
		}},
		{"service principal with a certificate", certOwner, func(t *testing.T, e entraSetup) sdk.Credential {
			e.entra.AddCertificate(certOwner, cert)
			return e.servicePrincipal(map[string]string{"clientId": certOwner, "clientCertificate": certPEM})
		}},
		{"workload identity", wiClient, func(t *testing.T, e entraSetup) sdk.Credential {
			file := filepath.Join(t.TempDir(), "azure-identity-token")
			writeFile(t, file, "eyJhbGciOiJSUzI1NiJ9.sa-token-1.sig")
			e.entra.AddFederated(wiClient, file)
			return sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity, Values: map[string]string{
				"tenantId": e.entra.Tenant(), "clientId": wiClient, "federatedTokenFile": file, "authorityHost": e.entra.AuthorityHost(),
			}}
		}},
		{"user-assigned managed identity", "mi:" + miClient, func(t *testing.T, e entraSetup) sdk.Credential {
			for k, v := range e.entra.ManagedIdentityEnv() {
				t.Setenv(k, v)
			}
			e.entra.AddManagedIdentity(miClient)
			return sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: map[string]string{"clientId": miClient}}
		}},
		{"system-assigned managed identity", "mi:", func(t *testing.T, e entraSetup) sdk.Credential {
			for k, v := range e.entra.ManagedIdentityEnv() {
				t.Setenv(k, v)
			}
			e.entra.AddManagedIdentity("")
			return sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: map[string]string{}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEntraSetup(t)
			cfg := sdk.Config{Name: "c", Revision: "r1"}
			s := e.settings(t, tc.setup(t, e))
			if errs := e.cs.CheckCredential(context.Background(), cfg, s); len(errs) > 0 {
				t.Fatalf("a valid credential was reported: %v", errs)
			}
			for range 3 {
				if err := postStatus(context.Background(), mustFor(t, e.cs, cfg, s)); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(e.azdo.Statuses("manifests", commit)); n != 3 {
				t.Errorf("%d statuses, want 3", n)
			}
			assertAllBy(t, e.azdo, tc.identity)
			// One token for the check and the three calls: azidentity
			// reuses it until five minutes before it expires.
			if n := e.entra.Issued(tc.identity); n != 1 {
				t.Errorf("%d access tokens issued, want 1 reused", n)
			}
		})
	}
}

func TestAnAccessTokenNearItsExpiryIsRenewed(t *testing.T) {
	e := newEntraSetup(t)
	e.entra.AddSecret(spClient, spSecret)
	// Entra ID may issue tokens that live less than the five minutes
	// before expiry at which clients renew them: every call takes a new one.
	e.entra.SetExpiresIn(4 * time.Minute)
	s := e.settings(t, e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret}))
	c := mustFor(t, e.cs, sdk.Config{Revision: "r1"}, s)
	for range 2 {
		if err := postStatus(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.entra.Issued(spClient); n < 2 {
		t.Errorf("%d access tokens issued for two calls with tokens near expiry, want a new one per call", n)
	}
	assertAllBy(t, e.azdo, spClient)
}

func TestTheFederatedTokenFileIsReadAgainWhenItRotates(t *testing.T) {
	e := newEntraSetup(t)
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	writeFile(t, file, "sa-token-1")
	e.entra.AddFederated(wiClient, file)
	e.entra.SetExpiresIn(4 * time.Minute) // every call needs a new access token
	s := e.settings(t, sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity, Values: map[string]string{
		"tenantId": e.entra.Tenant(), "clientId": wiClient, "federatedTokenFile": file, "authorityHost": e.entra.AuthorityHost(),
	}})
	c := mustFor(t, e.cs, sdk.Config{Revision: "r1"}, s)
	if err := postStatus(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// Kubernetes replaces the projected token; the fake now accepts only
	// the new one.
	writeFile(t, file, "sa-token-2")
	if err := postStatus(context.Background(), c); err != nil {
		t.Fatalf("after the token file rotated: %v", err)
	}
	if n := e.entra.Issued(wiClient); n < 2 {
		t.Errorf("%d access tokens issued, want a new one after the rotation", n)
	}
	assertAllBy(t, e.azdo, wiClient)
}

func TestARefusedCredentialIsReportedWithoutItsSecret(t *testing.T) {
	certPEM, _ := fakeentra.NewCertificate(t, certOwner)
	for _, tc := range []struct {
		name    string
		cred    func(e entraSetup) sdk.Credential
		message string
		secret  string
	}{
		{"wrong secret", func(e entraSetup) sdk.Credential {
			e.entra.AddSecret(spClient, "the-real-secret")
			return e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
		}, "AADSTS7000215", spSecret},
		{"revoked", func(e entraSetup) sdk.Credential {
			e.entra.AddSecret(spClient, spSecret)
			e.entra.Refuse(spClient, true)
			return e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
		}, "invalid_client", spSecret},
		{"unknown application", func(e entraSetup) sdk.Credential {
			return e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
		}, "AADSTS700016", spSecret},
		{"certificate of another application", func(e entraSetup) sdk.Credential {
			_, other := fakeentra.NewCertificate(t, certOwner)
			e.entra.AddCertificate(certOwner, other)
			return e.servicePrincipal(map[string]string{"clientId": certOwner, "clientCertificate": certPEM})
		}, "AADSTS700027", "PRIVATE KEY"},
		{"certificate that does not parse", func(e entraSetup) sdk.Credential {
			return e.servicePrincipal(map[string]string{"clientId": certOwner, "clientCertificate": "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----"})
		}, "does not parse", "bm90LWEta2V5"},
		{"authority host that is not https", func(e entraSetup) sdk.Credential {
			c := e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
			c.Values["authorityHost"] = "http://login.example.com/"
			return c
		}, "https URL", spSecret},
		{"unknown managed identity", func(e entraSetup) sdk.Credential {
			// Not miClient: MSAL caches managed identity tokens process-wide.
			return sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: map[string]string{"clientId": "0b1d3f5a-7c9e-4a2b-8d6f-000000000005"}}
		}, "identity was not found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEntraSetup(t)
			for k, v := range e.entra.ManagedIdentityEnv() {
				t.Setenv(k, v)
			}
			cfg := sdk.Config{Name: "c", Revision: "r1"}
			s := e.settings(t, tc.cred(e))
			errs := e.cs.CheckCredential(context.Background(), cfg, s)
			if len(errs) != 1 || errs[0].Field != "credential" || !strings.Contains(errs[0].Message, tc.message) {
				t.Fatalf("CheckCredential = %v, want one credential error with %q", errs, tc.message)
			}
			if tc.secret != "" && strings.Contains(errs[0].Message, tc.secret) {
				t.Errorf("the error shows the secret: %s", errs[0].Message)
			}
			// While delivering: not retried, and nothing reached Azure DevOps.
			var err error
			if c, ferr := e.cs.For(cfg, s); ferr != nil {
				err = ferr
			} else {
				err = postStatus(context.Background(), c)
			}
			if kind := sdk.KindOf(err); kind != sdk.KindPermissionDenied {
				t.Errorf("delivering: %v (kind %v), want permission denied", err, kind)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if n := len(e.azdo.Requests()); n != 0 {
				t.Errorf("Azure DevOps received %d requests", n)
			}
		})
	}
}

func TestAnIdentityAzureDevOpsDoesNotKnowIsPermissionDenied(t *testing.T) {
	e := fakeentra.New(t, fakeentra.Options{})
	e.AddSecret(spClient, spSecret)
	// An organization the service principal was not added to.
	a := fakeazdo.New(t, fakeazdo.Options{})
	a.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 1: x"})
	cs := &Clients{Transport: e.HTTPClient().Transport}
	s := settingsFor(t, a.ProjectURL(), "")
	s.Credential = entraSetup{entra: e}.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
	err := postStatus(context.Background(), mustFor(t, cs, sdk.Config{Revision: "r1"}, s))
	if sdk.KindOf(err) != sdk.KindPermissionDenied || !strings.Contains(err.Error(), "Microsoft Entra ID access token") || !strings.Contains(err.Error(), "user of the organization") {
		t.Errorf("PostStatus = %v (kind %v), want permission denied naming the Entra ID token", err, sdk.KindOf(err))
	}
	if n := len(a.Requests()); n != 1 || a.Requests()[0].Status != 401 {
		t.Errorf("Azure DevOps received %+v, want one refused request", a.Requests())
	}
}

func TestAnUnreachableEntraIDIsRetriedAndNotReported(t *testing.T) {
	e := newEntraSetup(t)
	e.entra.AddSecret(spClient, spSecret)
	cred := e.servicePrincipal(map[string]string{"clientId": spClient, "clientSecret": spSecret})
	cred.Values["authorityHost"] = "https://127.0.0.1:1/" // nothing listens there
	s := e.settings(t, cred)
	cfg := sdk.Config{Name: "c", Revision: "r1"}
	if errs := e.cs.CheckCredential(context.Background(), cfg, s); len(errs) > 0 {
		t.Errorf("a failure that may pass was reported: %v", errs)
	}
	err := postStatus(context.Background(), mustFor(t, e.cs, cfg, s))
	if kind := sdk.KindOf(err); kind != sdk.KindRetryable {
		t.Errorf("delivering: %v (kind %v), want retryable", err, kind)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Kubernetes swaps a projected volume's files by renaming a new
	// directory into place; a rename is atomic here too.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
