package fakegithub

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The GitHub App operations the fake serves once WithApp makes it an app.
const (
	// OpGetRepoInstallation is GET /repos/{owner}/{repo}/installation,
	// authenticated with the app's JWT: the installation of the owner; 404
	// when the app is not installed there.
	OpGetRepoInstallation = "apps/get-repo-installation"
	// OpCreateInstallationToken is POST
	// /app/installations/{installation_id}/access_tokens, authenticated
	// with the app's JWT: a new installation token; 404 for an unknown
	// installation, 403 for a suspended one.
	OpCreateInstallationToken = "apps/create-installation-access-token"
)

// App is a GitHub App the fake knows: its id, its private key (the fake
// verifies the JWTs with its public key) and its installation.
type App struct {
	ID             int64
	InstallationID int64
	// Owners the app is installed on; every owner when empty.
	Owners []string
	Key    *rsa.PrivateKey
}

var testKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

// TestApp is an app with id 4242, installation 777 on every owner, and a
// key generated once per process.
func TestApp() (App, error) {
	testKey.once.Do(func() { testKey.key, testKey.err = rsa.GenerateKey(rand.Reader, 2048) })
	return App{ID: 4242, InstallationID: 777, Key: testKey.key}, testKey.err
}

// PrivateKeyPEM is the app's private key as GitHub hands it out (PKCS#1
// PEM).
func (a App) PrivateKeyPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(a.Key)}))
}

// WithApp makes the fake a GitHub App: it serves the app endpoints, verifies
// the app's JWTs and accepts the installation tokens it issued on
// repository calls (besides the token of WithToken).
func WithApp(app App) Option {
	return func(s *Server) {
		s.app = &appState{App: app, lifetime: time.Hour, tokens: map[string]time.Time{}}
	}
}

type appState struct {
	App
	lifetime  time.Duration
	suspended bool
	tokens    map[string]time.Time // current installation token → expiry
	issued    []string             // every installation token issued
}

// SetTokenLifetime sets how long the installation tokens issued from now on
// live (GitHub: one hour).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app.lifetime = d
}

// RevokeTokens makes every installation token issued so far invalid: the
// repository calls that carry one are answered 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.app.tokens)
}

// SuspendInstallation revokes the tokens and refuses new ones (403), as
// GitHub does when an installation is suspended.
func (s *Server) SuspendInstallation() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.app.tokens)
	s.app.suspended = true
}

// TokensIssued returns the installation tokens the fake issued, in order
// (for counting, and for tests that check no token reaches a log).
func (s *Server) TokensIssued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.app.issued)
}

// matchApp maps the app paths (without EnterprisePrefix) to their
// operations.
func matchApp(method string, seg []string) (route, bool) {
	if method == http.MethodPost && len(seg) == 4 && seg[0] == "app" && seg[1] == "installations" && seg[3] == "access_tokens" {
		return route{op: OpCreateInstallationToken, ref: seg[2]}, true
	}
	if method == http.MethodGet && len(seg) == 4 && seg[0] == "repos" && seg[3] == "installation" {
		return route{op: OpGetRepoInstallation, owner: seg[1], repo: seg[2]}, true
	}
	return route{}, false
}

// verifyJWT checks an app JWT as GitHub does: RS256 signed with the app's
// key, iss the app id, issued in the past, expiring in the future and at
// most ten minutes after it was issued.
func (a *appState) verifyJWT(header string) error {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return errors.New("app endpoints need Authorization: Bearer <JWT>")
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return &a.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithIssuer(strconv.FormatInt(a.ID, 10)))
	if err != nil {
		return fmt.Errorf("the app JWT is not valid: %w", err)
	}
	if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute {
		return errors.New("the app JWT must have iat and expire at most 10 minutes after it")
	}
	return nil
}

// looksLikeJWT reports whether a credential is a JWT (three dot-separated
// parts), which GitHub refuses on repository calls.
func looksLikeJWT(header string) bool {
	_, cred, _ := strings.Cut(header, " ")
	return strings.Count(cred, ".") == 2 && strings.HasPrefix(cred, "eyJ")
}

// installationToken reports whether header carries a current installation
// token. s.mu must be held.
func (a *appState) installationToken(header string) bool {
	_, cred, _ := strings.Cut(header, " ")
	exp, ok := a.tokens[cred]
	return ok && time.Now().Before(exp)
}

// handleApp answers an app operation. s.mu must not be held.
func (s *Server) handleApp(rt route, r *http.Request) answer {
	if err := s.app.verifyJWT(r.Header.Get("Authorization")); err != nil {
		return answer{Status: http.StatusUnauthorized, Body: errorBody("A JSON web token could not be decoded: "+err.Error(), "https://docs.github.com/rest")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app
	switch rt.op {
	case OpGetRepoInstallation:
		if _, ok := s.repos[repoKey{rt.owner, rt.repo}]; !ok || !a.installedOn(rt.owner) {
			return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app")}
		}
		return answer{Status: http.StatusOK, Body: map[string]any{
			"id": a.InstallationID, "app_id": a.ID, "target_type": "Organization",
			"account": map[string]any{"login": rt.owner}, "repository_selection": "all",
		}}
	case OpCreateInstallationToken:
		if rt.ref != strconv.FormatInt(a.InstallationID, 10) {
			return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")}
		}
		if a.suspended {
			return answer{Status: http.StatusForbidden, Body: errorBody("This installation has been suspended", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")}
		}
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		tok := "ghs_" + hex.EncodeToString(b)
		exp := time.Now().Add(a.lifetime).UTC().Truncate(time.Second)
		a.tokens[tok] = exp
		a.issued = append(a.issued, tok)
		return answer{Status: http.StatusCreated, Body: map[string]any{
			"token": tok, "expires_at": exp.Format(time.RFC3339), "repository_selection": "all",
			"permissions": map[string]string{"statuses": "write", "contents": "write"},
		}}
	}
	return answer{Status: http.StatusNotImplemented}
}

func (a *appState) installedOn(owner string) bool {
	return len(a.Owners) == 0 || slices.Contains(a.Owners, owner)
}
