// Package fakeentra is an in-process fake of Microsoft Entra ID's token
// endpoint for tests, and of the managed identity endpoint of App Service
// and Container Apps.
//
// It serves, over TLS as the real service (MSAL accepts only https
// authorities):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   tenant discovery
//	POST /{tenant}/oauth2/v2.0/token                       client credentials
//	GET  /msi/token                                        managed identity
//
// and verifies what Entra ID verifies: grant_type=client_credentials, a
// registered client_id, a scope, and either its client_secret or a
// client_assertion (client_assertion_type jwt-bearer) that is, for a
// certificate, a JWT signed with the certificate's key (RS256 with x5t, or
// PS256 with x5t#S256), with aud the token endpoint, iss and sub the client
// id and an exp to come; for workload identity, exactly the current contents
// of the federated token file. A wrong secret or assertion is refused as
// Entra ID refuses it (401 invalid_client, AADSTS7000215 or AADSTS700027),
// and any client can be refused on demand (Refuse). A request that is not
// one Entra ID would accept is recorded (Errors, AssertValid) and answered
// 400.
//
// Access tokens are opaque, live Options.ExpiresIn (an hour by default) and
// are counted per client (Issued), so tests can prove that a client reuses
// one until it nears expiry. Identity tells which client an access token
// belongs to: give it to fakeazdo so that Azure DevOps accepts the tokens.
//
// Instance discovery is not served: the authority host of the fake is a
// private cloud's, for which clients disable it.
//
// A Server is safe for concurrent use.
package fakeentra

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults.
const (
	// DefaultTenant is the tenant of the fake.
	DefaultTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	// AzureDevOpsScope is the scope clients must ask for.
	AzureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"
	// AzureDevOpsResource is the managed identity endpoint's resource.
	AzureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798"
	assertionType       = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Options configure a fake.
type Options struct {
	// Tenant is the only tenant served; DefaultTenant when empty.
	Tenant string
	// ExpiresIn is the lifetime of access tokens; an hour when zero.
	ExpiresIn time.Duration
}

type clientKind int

const (
	kindSecret clientKind = iota
	kindCertificate
	kindFederated
	kindManaged
)

type client struct {
	kind   clientKind
	secret string
	cert   *x509.Certificate
	file   string
}

type issued struct {
	client  string
	expires time.Time
}

// Server is a running fake.
type Server struct {
	srv            *httptest.Server
	tenant         string
	identityHeader string

	mu        sync.Mutex
	expiresIn time.Duration
	clients   map[string]*client
	refused   map[string]bool
	tokens    map[string]issued
	counts    map[string]int
	seq       int
	// log holds what was wrong with the requests (the fake keeps no
	// request log: tests count tokens with Issued).
	log fakeapi.Log[struct{}]
}

// New starts a fake; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	if opts.ExpiresIn == 0 {
		opts.ExpiresIn = time.Hour
	}
	s := &Server{
		tenant:         opts.Tenant,
		identityHeader: randomHex(16),
		expiresIn:      opts.ExpiresIn,
		clients:        map[string]*client{},
		refused:        map[string]bool{},
		tokens:         map[string]issued{},
		counts:         map[string]int{},
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Tenant is the tenant id the fake serves.
func (s *Server) Tenant() string { return s.tenant }

// AuthorityHost is the authority host clients take
// (authorityHost, AZURE_AUTHORITY_HOST), with a trailing slash.
func (s *Server) AuthorityHost() string { return s.srv.URL + "/" }

// TokenEndpoint is the token endpoint of the tenant.
func (s *Server) TokenEndpoint() string {
	return s.srv.URL + "/" + s.tenant + "/oauth2/v2.0/token"
}

// HTTPClient is a client that trusts the fake's certificate.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// CAFile writes the fake's certificate as PEM to a file in dir and returns
// its path: SSL_CERT_FILE for a process that must trust the fake.
func (s *Server) CAFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fakeentra-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("fakeentra: %v", err)
	}
	return path
}

// ManagedIdentityEnv is the environment of a process on App Service or
// Container Apps whose managed identity is this fake (IDENTITY_ENDPOINT,
// IDENTITY_HEADER), as azidentity reads it.
func (s *Server) ManagedIdentityEnv() map[string]string {
	return map[string]string{"IDENTITY_ENDPOINT": s.srv.URL + "/msi/token", "IDENTITY_HEADER": s.identityHeader}
}

// AddSecret registers a client that authenticates with a secret.
func (s *Server) AddSecret(clientID, secret string) {
	s.add(clientID, &client{kind: kindSecret, secret: secret})
}

// AddCertificate registers a client that authenticates with a certificate.
func (s *Server) AddCertificate(clientID string, cert *x509.Certificate) {
	s.add(clientID, &client{kind: kindCertificate, cert: cert})
}

// AddFederated registers a client whose federated credential trusts the
// token in file: the assertion must be the file's contents at the time of
// the request.
func (s *Server) AddFederated(clientID, file string) {
	s.add(clientID, &client{kind: kindFederated, file: file})
}

// AddManagedIdentity registers a managed identity; clientID "" is the
// system-assigned one.
func (s *Server) AddManagedIdentity(clientID string) {
	s.add("mi:"+clientID, &client{kind: kindManaged})
}

func (s *Server) add(id string, c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = c
}

// Refuse makes the fake refuse (or, with false, accept again) every token
// request of a client (a managed identity: "mi:" + its client id), as
// Entra ID does for a deleted secret: 401 invalid_client, AADSTS7000215.
func (s *Server) Refuse(clientID string, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[clientID] = refuse
}

// SetExpiresIn changes the lifetime of the tokens issued from now on.
func (s *Server) SetExpiresIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = d
}

// Issued is the number of access tokens issued to a client (a managed
// identity: "mi:" + its client id).
func (s *Server) Issued(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[clientID]
}

// Tokens are the access tokens issued so far, for tests that check no log
// shows one.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for tok := range s.tokens {
		out = append(out, tok)
	}
	return out
}

// Identity returns the client an unexpired access token was issued to.
func (s *Server) Identity(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.tokens[token]
	if !ok || time.Now().After(is.expires) {
		return "", false
	}
	return is.client, true
}

// Errors are the requests the fake found invalid.
func (s *Server) Errors() []error { return s.log.Errors() }

// AssertValid fails t for every invalid request the fake received.
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	s.log.AssertValid(t, "fakeentra: invalid request: ")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	tenantPath := "/" + s.tenant + "/"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == tenantPath+"v2.0/.well-known/openid-configuration":
		base := s.srv.URL + "/" + s.tenant
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "WW",
		})
	case r.URL.Path == tenantPath+"oauth2/v2.0/token":
		s.token(w, r)
	case r.URL.Path == "/msi/token":
		s.managed(w, r)
	case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration") || strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		// Another tenant: Entra ID's answer to an unknown tenant.
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", "AADSTS90002: Tenant not found. Check to make sure you have the correct tenant ID.")
	default:
		s.reject(w, fmt.Errorf("%s %s: not an endpoint of Entra ID the fake serves", r.Method, r.URL.Path))
	}
}

// token serves the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.reject(w, fmt.Errorf("%s %s: the token endpoint takes POST", r.Method, r.URL.Path))
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.reject(w, fmt.Errorf("token request with Content-Type %q, not a form", ct))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.reject(w, fmt.Errorf("token request: %w", err))
		return
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != "client_credentials" {
		s.reject(w, fmt.Errorf("token request with grant_type %q, not client_credentials", g))
		return
	}
	if scopes := strings.Fields(f.Get("scope")); !slices.Contains(scopes, AzureDevOpsScope) {
		s.reject(w, fmt.Errorf("token request for the scopes %q, not Azure DevOps's %s", scopes, AzureDevOpsScope))
		return
	}
	id := f.Get("client_id")
	s.mu.Lock()
	c, known := s.clients[id]
	refused := s.refused[id]
	s.mu.Unlock()
	if !known || c.kind == kindManaged {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client",
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory.", id))
		return
	}
	secret, assertion := f.Get("client_secret"), f.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		s.reject(w, errors.New("token request with both client_secret and client_assertion"))
		return
	case assertion != "" && f.Get("client_assertion_type") != assertionType:
		s.reject(w, fmt.Errorf("client_assertion_type %q, not %s", f.Get("client_assertion_type"), assertionType))
		return
	case secret == "" && assertion == "":
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	var bad string
	switch c.kind {
	case kindSecret:
		if secret != c.secret {
			bad = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + id + "'."
		}
	case kindCertificate:
		if err := s.verifyAssertion(assertion, id, c.cert); err != nil {
			bad = "AADSTS700027: Client assertion failed signature validation. " + err.Error()
		}
	case kindFederated:
		want, err := os.ReadFile(c.file)
		if err != nil || assertion != strings.TrimSpace(string(want)) {
			bad = "AADSTS700213: No matching federated identity record found for presented assertion subject."
		}
	}
	if bad == "" && refused {
		bad = "AADSTS7000215: Invalid client secret provided. The credentials of app '" + id + "' were revoked."
	}
	if bad != "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", bad)
		return
	}
	tok, expiresIn := s.issue(id)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(expiresIn.Seconds()),
		"ext_expires_in": int(expiresIn.Seconds()),
		"access_token":   tok,
	})
}

// verifyAssertion checks a certificate's client assertion as Entra ID does.
func (s *Server) verifyAssertion(raw, clientID string, cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the registered certificate has no RSA key")
	}
	sha1Sum := sha1.Sum(cert.Raw) //nolint:gosec // x5t
	sha256Sum := sha256.Sum256(cert.Raw)
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		var key string
		var want []byte
		switch t.Method.Alg() {
		case "PS256":
			key, want = "x5t#S256", sha256Sum[:]
		case "RS256":
			key, want = "x5t", sha1Sum[:]
		}
		if !thumbprintIs(t.Header[key], want) {
			return nil, fmt.Errorf("the assertion's %s is not the registered certificate's thumbprint", key)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience(s.TokenEndpoint()), jwt.WithIssuer(clientID), jwt.WithSubject(clientID))
	if err != nil {
		return err
	}
	if claims.ID == "" {
		return errors.New("the assertion has no jti")
	}
	return nil
}

// thumbprintIs reports whether a JWT header's thumbprint is want, in
// base64url (RFC 7515) or, as MSAL sends it, standard base64.
func thumbprintIs(header any, want []byte) bool {
	got, _ := header.(string)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(got); err == nil && bytes.Equal(b, want) {
			return true
		}
	}
	return false
}

// managed serves the App Service managed identity protocol (api-version
// 2019-08-01).
func (s *Server) managed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet:
		s.reject(w, fmt.Errorf("%s %s: the managed identity endpoint takes GET", r.Method, r.URL.Path))
		return
	case r.Header.Get("X-IDENTITY-HEADER") != s.identityHeader:
		s.reject(w, errors.New("managed identity request without the X-IDENTITY-HEADER of IDENTITY_HEADER"))
		return
	case q.Get("api-version") != "2019-08-01":
		s.reject(w, fmt.Errorf("managed identity request with api-version %q", q.Get("api-version")))
		return
	case q.Get("resource") != AzureDevOpsResource:
		s.reject(w, fmt.Errorf("managed identity request for the resource %q, not Azure DevOps's %s", q.Get("resource"), AzureDevOpsResource))
		return
	}
	id := "mi:" + q.Get("client_id")
	s.mu.Lock()
	_, known := s.clients[id]
	refused := s.refused[id]
	s.mu.Unlock()
	if !known || refused {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"statusCode": "400", "message": "An unexpected error occured while fetching the AAD Token: the identity was not found.",
		})
		return
	}
	tok, expiresIn := s.issue(id)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(time.Now().Add(expiresIn).Unix(), 10),
		"resource":     AzureDevOpsResource,
		"token_type":   "Bearer",
		"client_id":    q.Get("client_id"),
	})
}

func (s *Server) issue(id string) (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	tok := fmt.Sprintf("fake-entra-at-%d-%s", s.seq, randomHex(16))
	s.tokens[tok] = issued{client: id, expires: time.Now().Add(s.expiresIn)}
	s.counts[id]++
	return tok, s.expiresIn
}

func (s *Server) reject(w http.ResponseWriter, err error) {
	s.log.AddError(err)
	writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: "+err.Error())
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc + " Trace ID: " + randomHex(8) + " Correlation ID: " + randomHex(8) + " Timestamp: " + time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"error_codes":       []int{aadsts(desc)},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

// aadsts returns the number of an "AADSTS<n>: ..." description.
func aadsts(desc string) int {
	rest, ok := strings.CutPrefix(desc, "AADSTS")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
