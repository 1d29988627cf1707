// Package entra authenticates the plugin to Azure DevOps with Microsoft
// Entra ID: it turns a config's azure_* credential into an azidentity
// credential, hands out its access tokens for Azure DevOps (azidentity
// caches each until five minutes before it expires) and says whether a
// failed token request may pass or needs the operator.
package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Scope is Azure DevOps's resource (its well-known application id) with
// the default scope: the token carries what the identity was granted in
// the organization.
const Scope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

// Kinds reports whether kind is a credential of Microsoft Entra ID.
func Kinds(kind string) bool {
	switch kind {
	case sdk.CredentialAzureServicePrincipal, sdk.CredentialAzureWorkloadIdentity, sdk.CredentialAzureManagedIdentity:
		return true
	}
	return false
}

// Credential is one Entra ID identity. It is safe for concurrent use;
// keep one per credential so that its tokens are reused.
type Credential struct {
	// who names the identity in errors: kind, client and tenant, no secret.
	who  string
	cred azcore.TokenCredential
}

// Check reports a credential that cannot work whatever Entra ID answers:
// a missing value, a certificate that does not parse, an authority host
// that is not an https URL. Its error names values, never shows them.
func Check(c sdk.Credential) error {
	_, err := New(c, nil)
	return err
}

// New builds the credential c. transport sends its requests to Entra ID
// (or to the managed identity endpoint); nil means azcore's default. It
// sends nothing yet.
func New(c sdk.Credential, transport policy.Transporter) (*Credential, error) {
	tenant, client := c.Value("tenantId"), c.Value("clientId")
	opts := azcore.ClientOptions{
		Transport: transport,
		// The host retries with its own policy and deadline.
		Retry: policy.RetryOptions{MaxRetries: -1},
	}
	host, discover, err := authority(c.Value("authorityHost"))
	if err != nil {
		return nil, err
	}
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: host}
	need := func(keys ...string) error {
		var missing []string
		for _, k := range keys {
			if c.Value(k) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("the %s credential has no %s", c.Kind, strings.Join(missing, ", "))
		}
		return nil
	}
	out := &Credential{who: fmt.Sprintf("%s %s of tenant %s", c.Kind, client, tenant)}
	switch c.Kind {
	case sdk.CredentialAzureServicePrincipal:
		if err := need("tenantId", "clientId"); err != nil {
			return nil, err
		}
		secret, pem := c.Value("clientSecret"), c.Value("clientCertificate")
		switch {
		case (secret == "") == (pem == ""):
			return nil, fmt.Errorf("the service principal %s needs exactly one of clientSecret and clientCertificate", client)
		case secret != "":
			out.cred, err = azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
				ClientOptions: opts, DisableInstanceDiscovery: !discover,
			})
		default:
			// The password opens PKCS#12 only: given a password,
			// azidentity would not read PEM at all.
			var pass []byte
			if p := c.Values["clientCertificatePassword"]; p != "" && !strings.Contains(pem, "-----BEGIN") {
				pass = []byte(p)
			}
			certs, key, perr := azidentity.ParseCertificates([]byte(pem), pass)
			if perr != nil {
				// The library's message may quote the input: say what to fix instead.
				// PKCS#12 cannot pass: credential values cross the plugin
				// protocol as UTF-8 strings.
				return nil, fmt.Errorf("the client certificate of service principal %s does not parse: it must be PEM holding the certificate and its unencrypted private key (clientCertificate, AZURE_CLIENT_CERTIFICATE_PATH)", client)
			}
			out.cred, err = azidentity.NewClientCertificateCredential(tenant, client, certs, key, &azidentity.ClientCertificateCredentialOptions{
				ClientOptions: opts, DisableInstanceDiscovery: !discover,
			})
		}
	case sdk.CredentialAzureWorkloadIdentity:
		if err := need("tenantId", "clientId", "federatedTokenFile"); err != nil {
			return nil, err
		}
		// azidentity's WorkloadIdentityCredential keeps the file's
		// contents ten minutes; reading it for every new access token
		// takes a rotated service account token at once.
		file := c.Value("federatedTokenFile")
		out.cred, err = azidentity.NewClientAssertionCredential(tenant, client, func(context.Context) (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("read the federated token file (AZURE_FEDERATED_TOKEN_FILE): %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: !discover})
	case sdk.CredentialAzureManagedIdentity:
		mi := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if client != "" {
			mi.ID = azidentity.ClientID(client)
			out.who = fmt.Sprintf("%s %s", c.Kind, client)
		} else {
			out.who = "the system-assigned managed identity"
		}
		out.cred, err = azidentity.NewManagedIdentityCredential(mi)
	default:
		return nil, fmt.Errorf("a %s credential is not one of Microsoft Entra ID", c)
	}
	if err != nil {
		// azidentity checks ids only (e.g. invalid characters in the tenant).
		return nil, fmt.Errorf("the %s credential is not valid: %w", c.Kind, err)
	}
	return out, nil
}

// authority returns the authority host (Azure's public cloud when raw is
// empty) and whether Entra ID's instance discovery applies: it does for the
// public, China and US Government clouds; another host is a private or
// disconnected cloud (Azure Stack Hub) that has none.
func authority(raw string) (host string, discover bool, err error) {
	if raw == "" {
		return cloud.AzurePublic.ActiveDirectoryAuthorityHost, true, nil
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false, errors.New("the authority host (authorityHost, AZURE_AUTHORITY_HOST) must be an https URL such as https://login.microsoftonline.com/")
	}
	host = u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/") + "/"
	for _, c := range []cloud.Configuration{cloud.AzurePublic, cloud.AzureChina, cloud.AzureGovernment} {
		if strings.EqualFold(host, c.ActiveDirectoryAuthorityHost) {
			return host, true, nil
		}
	}
	return host, false, nil
}

// Token returns an access token for Azure DevOps: azidentity's cached one
// until five minutes before it expires, else a new one. Its error is a
// *TokenError.
func (c *Credential) Token(ctx context.Context) (string, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		return "", c.tokenError(ctx, err)
	}
	return tok.Token, nil
}

// TokenError is a failed token request. Refused is set when Entra ID (or
// the managed identity endpoint) answered and refused: a wrong secret, an
// expired certificate, an unknown client, a federated token it does not
// trust. Such a failure needs the operator; any other may pass.
type TokenError struct {
	Refused bool
	msg     string
	err     error
}

func (e *TokenError) Error() string { return e.msg }
func (e *TokenError) Unwrap() error { return e.err }

// Classified returns the error with its kind for the host's retry policy:
// refused → permission denied (not retried), else retryable.
func (e *TokenError) Classified(what string) error {
	err := fmt.Errorf("%s: %w", what, e)
	if e.Refused {
		return sdk.PermissionDenied(err)
	}
	return sdk.Retryable(err, 0)
}

// tokenError describes a failed token request from Entra ID's answer: its
// error code and description (AADSTS...), never the request.
func (c *Credential) tokenError(ctx context.Context, err error) *TokenError {
	if ctx.Err() != nil {
		return &TokenError{msg: fmt.Sprintf("%s: no access token for Azure DevOps: %v", c.who, ctx.Err()), err: ctx.Err()}
	}
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil {
		// No answer (a connection failure) or a local failure (an
		// unreadable federated token file): azidentity's message holds no
		// secret.
		return &TokenError{msg: fmt.Sprintf("%s: no access token for Azure DevOps: %s", c.who, firstLine(err.Error())), err: err}
	}
	resp := afe.RawResponse
	refused := resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout
	reason := describe(resp)
	msg := fmt.Sprintf("%s: Microsoft Entra ID refused an access token for Azure DevOps (HTTP %d%s)", c.who, resp.StatusCode, reason)
	if !refused {
		msg = fmt.Sprintf("%s: Microsoft Entra ID gave no access token for Azure DevOps (HTTP %d%s)", c.who, resp.StatusCode, reason)
	}
	return &TokenError{Refused: refused, msg: msg}
}

// describe returns ": <error>: <description>" from an OAuth error document,
// the description cut before Entra ID's trace and correlation ids.
func describe(resp *http.Response) string {
	var doc struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"` // managed identity endpoints
	}
	body, err := runtime.Payload(resp)
	if err != nil || json.Unmarshal(body, &doc) != nil {
		return ""
	}
	desc := doc.Description
	if desc == "" {
		desc = doc.Message
	}
	if i := strings.Index(desc, " Trace ID:"); i >= 0 {
		desc = desc[:i]
	}
	desc = firstLine(desc)
	switch {
	case doc.Error != "" && desc != "":
		return ": " + doc.Error + ": " + desc
	case doc.Error != "":
		return ": " + doc.Error
	case desc != "":
		return ": " + desc
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// Transport sends every request with "Authorization: Bearer <access
// token>" of Cred. A failed token request is a *TokenError.
type Transport struct {
	Cred *Credential
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Cred.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.Base.RoundTrip(r)
}
