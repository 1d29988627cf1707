// Package webhookauth decides whether a notification on /gitopsphase comes
// from a sender that knows a shared secret, so that nobody who merely
// reaches the Service can report a deployment as succeeded.
//
// Two proofs are accepted:
//
//   - a signature of the raw body, as Flux's generic-hmac provider sends it:
//     X-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the secret>
//     (sha224, sha384 and sha512 too, which Flux documents as possible), or
//     the same in X-Hub-Signature-256 (sha256 only), as GitHub-style senders
//     do;
//   - Authorization: Bearer <token>, which Argo CD's webhook service sends
//     as a configured header.
//
// Secrets come from the environment or a file (the global credentials) and,
// per config, from the Kubernetes Secret a GitOpsConfig names in
// spec.webhookSecretRef; see Policy for how the two combine. Every
// comparison of a credential is constant-time, and no error, log line or
// answer carries a secret or the value a request presented.
package webhookauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"strings"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
)

// Environment variables of the global credentials, as the Helm chart sets
// them.
const (
	EnvHMACSecret  = "GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET"
	EnvBearerToken = "GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN"
)

// Headers a signature may arrive in.
const (
	HeaderSignature    = "X-Signature"
	HeaderHubSignature = "X-Hub-Signature-256"
)

// ErrUnauthorized is wrapped by every refusal. Its text, and the reasons
// wrapped with it, are for the host's log only: the sender is answered 401
// without detail.
var ErrUnauthorized = errors.New("not authenticated")

// Credentials are the secrets a request may prove it knows. The zero value
// asks for nothing: authentication is off.
type Credentials struct {
	// HMACKey keys the body signature; empty means signatures are not
	// accepted.
	HMACKey string
	// BearerToken is the token of Authorization: Bearer; empty means bearer
	// tokens are not accepted.
	BearerToken string
}

// Shared returns the credentials of one shared secret, accepted both as the
// key of a body signature and as a bearer token: a config's own secret,
// which its Flux Provider signs with and its Argo CD webhook sends.
func Shared(secret string) Credentials {
	return Credentials{HMACKey: secret, BearerToken: secret}
}

// Enabled reports whether the credentials ask for anything.
func (c Credentials) Enabled() bool { return c.HMACKey != "" || c.BearerToken != "" }

// Methods names the proofs the credentials accept, for the start-up log.
func (c Credentials) Methods() []string {
	var m []string
	if c.HMACKey != "" {
		m = append(m, "hmac")
	}
	if c.BearerToken != "" {
		m = append(m, "bearer")
	}
	return m
}

// Check returns nil when the request proves it knows the credentials, or
// when they ask for nothing. A request must carry at least one proof of a
// kind the credentials accept, and every such proof it carries must hold: a
// wrong signature is refused even when a bearer token beside it is right.
// Proofs of a kind the credentials do not accept are not looked at. The
// error wraps ErrUnauthorized and says what was wrong, never with a
// secret or a presented value.
func (c Credentials) Check(h http.Header, body []byte) error {
	if !c.Enabled() {
		return nil
	}
	presented := 0
	if c.HMACKey != "" {
		for _, name := range []string{HeaderSignature, HeaderHubSignature} {
			values := h.Values(name)
			if len(values) == 0 {
				continue
			}
			presented++
			if len(values) > 1 {
				return fmt.Errorf("%w: %s given %d times", ErrUnauthorized, name, len(values))
			}
			if err := checkSignature(name, values[0], []byte(c.HMACKey), body); err != nil {
				return err
			}
		}
	}
	if c.BearerToken != "" {
		values := h.Values("Authorization")
		if len(values) > 1 {
			return fmt.Errorf("%w: Authorization given %d times", ErrUnauthorized, len(values))
		}
		if len(values) == 1 {
			if token, ok := bearer(values[0]); ok {
				presented++
				if !equal(digest(token), digest(c.BearerToken)) {
					return fmt.Errorf("%w: the bearer token does not match", ErrUnauthorized)
				}
			}
		}
	}
	if presented == 0 {
		return fmt.Errorf("%w: no %s", ErrUnauthorized, strings.Join(c.wanted(), " or "))
	}
	return nil
}

// wanted describes the proofs the credentials accept, for the error of a
// request that carries none.
func (c Credentials) wanted() []string {
	var w []string
	if c.HMACKey != "" {
		w = append(w, HeaderSignature+" or "+HeaderHubSignature+" signature")
	}
	if c.BearerToken != "" {
		w = append(w, "Authorization: Bearer token")
	}
	return w
}

// signatureHashes are the hash functions a signature header may name.
var signatureHashes = map[string]map[string]func() hash.Hash{
	HeaderSignature: {
		"sha224": sha256.New224, "sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New,
	},
	HeaderHubSignature: {"sha256": sha256.New},
}

// checkSignature verifies one "<hash>=<hex>" header value against the body.
func checkSignature(header, value string, key, body []byte) error {
	algo, sum, ok := strings.Cut(strings.TrimSpace(value), "=")
	if !ok {
		return fmt.Errorf("%w: %s is not <hash>=<hex>", ErrUnauthorized, header)
	}
	newHash, ok := signatureHashes[header][strings.ToLower(algo)]
	if !ok {
		return fmt.Errorf("%w: %s names an unsupported hash function", ErrUnauthorized, header)
	}
	got, err := hex.DecodeString(sum)
	if err != nil {
		return fmt.Errorf("%w: %s is not hexadecimal", ErrUnauthorized, header)
	}
	mac := hmac.New(newHash, key)
	mac.Write(body)
	if !equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: the %s signature does not match the body", ErrUnauthorized, header)
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(value string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// digest hashes a token, so that comparing two takes the same time whatever
// their lengths.
func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// equal is the only comparison of credentials: constant-time in the
// contents. It is a variable so a test can see every check go through it.
var equal = func(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Policy decides which credentials a request must prove.
//
// A config with its own secret (spec.webhookSecretRef) accepts only that
// secret, as a signature key or a bearer token: the global credentials do
// not open it, so one team's sender cannot report for another team's
// config. Every other config, and every request whose config is not known,
// needs the global credentials; without any, such requests are not
// authenticated.
type Policy struct {
	Global Credentials
}

// For returns the credentials a request for cfg must prove; cfg nil means
// the request's config is not known.
func (p *Policy) For(cfg *config.Config) Credentials {
	if cfg != nil && cfg.WebhookSecret != "" {
		return Shared(cfg.WebhookSecret)
	}
	if p == nil {
		return Credentials{}
	}
	return p.Global
}

// Scheme names what protects cfg, for logs: "config secret", "global" or
// "off".
func (p *Policy) Scheme(cfg config.Config) string {
	switch {
	case cfg.WebhookSecret != "":
		return "config secret"
	case p != nil && p.Global.Enabled():
		return "global"
	}
	return "off"
}

// FromEnvironment reads the global credentials: each from its environment
// variable, or from the file the flag --webhook-hmac-secret-file or
// --webhook-bearer-token-file names (hmacFile, bearerFile; "" for none).
// Surrounding whitespace is dropped (a file usually ends with a newline).
// Setting both a value and a file is an error, as is a file that cannot be
// read or holds nothing: authentication was asked for and must not
// silently be off.
func FromEnvironment(getenv func(string) string, hmacFile, bearerFile string) (Credentials, error) {
	var c Credentials
	var err error
	if c.HMACKey, err = secret(getenv, EnvHMACSecret, "--webhook-hmac-secret-file", hmacFile); err != nil {
		return Credentials{}, err
	}
	if c.BearerToken, err = secret(getenv, EnvBearerToken, "--webhook-bearer-token-file", bearerFile); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

func secret(getenv func(string) string, env, flag, file string) (string, error) {
	value := strings.TrimSpace(getenv(env))
	file = strings.TrimSpace(file)
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("%s and %s are both set; set one", env, flag)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	value = strings.TrimSpace(string(b))
	if value == "" {
		return "", fmt.Errorf("%s: %s is empty", flag, file)
	}
	return value, nil
}
