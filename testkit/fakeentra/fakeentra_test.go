package fakeentra

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func post(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.TokenEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, doc
}

func grant(client string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "scope": {AzureDevOpsScope}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// assertion signs claims as MSAL does: PS256 with x5t#S256.
func assertion(t *testing.T, certPEM string, claims jwt.MapClaims) string {
	t.Helper()
	var cert *x509.Certificate
	var key *rsa.PrivateKey
	rest := []byte(certPEM)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			cert, _ = x509.ParseCertificate(b.Bytes)
		case "PRIVATE KEY":
			k, _ := x509.ParsePKCS8PrivateKey(b.Bytes)
			key = k.(*rsa.PrivateKey)
		}
	}
	sum := sha256.Sum256(cert.Raw)
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestTokenRequestsAreVerifiedAsEntraIDVerifiesThem(t *testing.T) {
	s := New(t, Options{})
	s.AddSecret("sp", "s3cret")
	certPEM, cert := NewCertificate(t, "cert")
	s.AddCertificate("cert", cert)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("sa-token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.AddFederated("wi", file)
	now := time.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"aud": s.TokenEndpoint(), "iss": "cert", "sub": "cert", "jti": "1", "exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	jwtBearer := "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"secret", grant("sp", "client_secret", "s3cret"), 200, ""},
		{"wrong secret", grant("sp", "client_secret", "other"), 401, "invalid_client"},
		{"unknown client", grant("nobody", "client_secret", "s3cret"), 400, "unauthorized_client"},
		{"certificate", grant("cert", "client_assertion_type", jwtBearer, "client_assertion", assertion(t, certPEM, claims(nil))), 200, ""},
		{"assertion for another audience", grant("cert", "client_assertion_type", jwtBearer, "client_assertion", assertion(t, certPEM, claims(func(c jwt.MapClaims) { c["aud"] = "https://login.example.com/token" }))), 401, "invalid_client"},
		{"expired assertion", grant("cert", "client_assertion_type", jwtBearer, "client_assertion", assertion(t, certPEM, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }))), 401, "invalid_client"},
		{"assertion of another client", grant("cert", "client_assertion_type", jwtBearer, "client_assertion", assertion(t, certPEM, claims(func(c jwt.MapClaims) { c["iss"], c["sub"] = "sp", "sp" }))), 401, "invalid_client"},
		{"federated token", grant("wi", "client_assertion_type", jwtBearer, "client_assertion", "sa-token-1"), 200, ""},
		{"stale federated token", grant("wi", "client_assertion_type", jwtBearer, "client_assertion", "sa-token-0"), 401, "invalid_client"},
		{"another grant", grant("sp", "client_secret", "s3cret", "grant_type", "password"), 400, "invalid_request"},
		{"another scope", grant("sp", "client_secret", "s3cret", "scope", "https://graph.microsoft.com/.default"), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, doc := post(t, s, tc.form)
			if status != tc.status || (tc.code != "" && doc["error"] != tc.code) {
				t.Fatalf("HTTP %d %v, want %d %s", status, doc, tc.status, tc.code)
			}
			if status == 200 {
				tok, _ := doc["access_token"].(string)
				if id, ok := s.Identity(tok); !ok || id != tc.form.Get("client_id") {
					t.Errorf("Identity(access token) = %q, %v", id, ok)
				}
				if doc["expires_in"] != float64(3600) || doc["token_type"] != "Bearer" {
					t.Errorf("answer %v", doc)
				}
			}
		})
	}
	if n := len(s.Errors()); n != 2 {
		t.Errorf("%d invalid requests recorded, want 2: %v", n, s.Errors())
	}
	if _, ok := s.Identity("made-up"); ok {
		t.Error("a token the fake did not issue was accepted")
	}
	s.Refuse("sp", true)
	if status, doc := post(t, s, grant("sp", "client_secret", "s3cret")); status != 401 || !strings.Contains(doc["error_description"].(string), "AADSTS7000215") {
		t.Errorf("refused client: HTTP %d %v", status, doc)
	}
}

func TestTheManagedIdentityEndpointNeedsItsHeader(t *testing.T) {
	s := New(t, Options{})
	s.AddManagedIdentity("")
	env := s.ManagedIdentityEnv()
	get := func(header string) int {
		req, _ := http.NewRequest(http.MethodGet, env["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource="+AzureDevOpsResource, nil)
		req.Header.Set("X-IDENTITY-HEADER", header)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(env["IDENTITY_HEADER"]); code != 200 || s.Issued("mi:") != 1 {
		t.Errorf("HTTP %d, %d tokens", code, s.Issued("mi:"))
	}
	if code := get("wrong"); code != 400 || len(s.Errors()) != 1 {
		t.Errorf("without the header: HTTP %d, errors %v", code, s.Errors())
	}
}
