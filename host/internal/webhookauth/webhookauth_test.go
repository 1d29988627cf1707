package webhookauth

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
)

// The body Flux's notification-controller posts, and its signatures keyed
// by fluxToken, computed independently with
// `openssl dgst -<hash> -hmac flux-provider-token-6f1c -r`.
const (
	fluxToken  = "flux-provider-token-6f1c"
	fluxSHA256 = "f183ba90e6129b388ac8cca03bfa8bf6a9b6d9634d06331c853a379c0599292c"
	fluxSHA224 = "eba16476daea36a34955fdd0b5ba1f4ddbd183ff09b09337acb4bf1e"
	fluxSHA384 = "bc491e461b8ee93b5f02e8150c99ca3d87ee4f94bdf785e99cad5cc1f083f5d64d5c80bdac28c24d0401588f68c5f036"
	fluxSHA512 = "2de72bbe336221555bfba0d362a6f9c9927412d5fb54dff8ed1f5701821300ec56ba2b23e63082c2d7db667713e56fc7f304254b61ba27c75a6482a218fbde45"
	argoToken  = "argo-webhook-token-3b9e"
)

func fluxBody(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "flux-reconciliation-succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestCheckAcceptsOnlyARequestThatProvesTheSecret(t *testing.T) {
	body := fluxBody(t)
	tampered := []byte(strings.Replace(string(body), "ReconciliationSucceeded", "ReconciliationSucceeded ", 1))
	hmacOnly := Credentials{HMACKey: fluxToken}
	bearerOnly := Credentials{BearerToken: argoToken}
	both := Credentials{HMACKey: fluxToken, BearerToken: argoToken}
	tests := []struct {
		name   string
		creds  Credentials
		header http.Header
		body   []byte
		// refusal is part of the logged reason; "" means accepted.
		refusal string
	}{
		{"off accepts anything", Credentials{}, headers(), body, ""},
		{"flux X-Signature sha256", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256), body, ""},
		{"flux X-Signature upper-case hex", hmacOnly, headers("X-Signature", "sha256="+strings.ToUpper(fluxSHA256)), body, ""},
		{"flux X-Signature sha224", hmacOnly, headers("X-Signature", "sha224="+fluxSHA224), body, ""},
		{"flux X-Signature sha384", hmacOnly, headers("X-Signature", "sha384="+fluxSHA384), body, ""},
		{"flux X-Signature sha512", hmacOnly, headers("X-Signature", "sha512="+fluxSHA512), body, ""},
		{"X-Hub-Signature-256", hmacOnly, headers("X-Hub-Signature-256", "sha256="+fluxSHA256), body, ""},
		{"both signature headers right", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256, "X-Hub-Signature-256", "sha256="+fluxSHA256), body, ""},
		{"argo bearer", bearerOnly, headers("Authorization", "Bearer "+argoToken), body, ""},
		{"bearer scheme in lower case", bearerOnly, headers("Authorization", "bearer "+argoToken), body, ""},
		{"either proof when both are configured: signature", both, headers("X-Signature", "sha256="+fluxSHA256), body, ""},
		{"either proof when both are configured: bearer", both, headers("Authorization", "Bearer "+argoToken), body, ""},

		{"no signature", hmacOnly, headers(), body, "no X-Signature or X-Hub-Signature-256 signature"},
		{"no bearer", bearerOnly, headers(), body, "no Authorization: Bearer token"},
		{"nothing when both are configured", both, headers(), body, "no X-Signature or X-Hub-Signature-256 signature or Authorization: Bearer token"},
		{"signature of another body", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256), tampered, "signature does not match the body"},
		{"signature with another key", hmacOnly, headers("X-Signature", "sha256="+strings.Repeat("0", 64)), body, "signature does not match the body"},
		{"truncated signature", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256[:32]), body, "signature does not match the body"},
		{"signature without hash name", hmacOnly, headers("X-Signature", fluxSHA256), body, "is not <hash>=<hex>"},
		{"signature not hex", hmacOnly, headers("X-Signature", "sha256=zz"+fluxSHA256[2:]), body, "is not hexadecimal"},
		{"unsupported hash", hmacOnly, headers("X-Signature", "md5=0123456789abcdef0123456789abcdef"), body, "unsupported hash function"},
		{"X-Hub-Signature-256 names another hash", hmacOnly, headers("X-Hub-Signature-256", "sha512="+fluxSHA512), body, "unsupported hash function"},
		{"one of two signature headers wrong", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256, "X-Hub-Signature-256", "sha256="+strings.Repeat("1", 64)), body, "X-Hub-Signature-256 signature does not match"},
		{"signature header twice", hmacOnly, headers("X-Signature", "sha256="+fluxSHA256, "X-Signature", "sha256="+fluxSHA256), body, "X-Signature given 2 times"},
		{"wrong bearer", bearerOnly, headers("Authorization", "Bearer "+argoToken+"x"), body, "bearer token does not match"},
		{"empty bearer", bearerOnly, headers("Authorization", "Bearer "), body, "no Authorization: Bearer token"},
		{"basic auth is not a bearer token", bearerOnly, headers("Authorization", "Basic "+argoToken), body, "no Authorization: Bearer token"},
		{"a right bearer does not excuse a wrong signature", both, headers("X-Signature", "sha256="+strings.Repeat("0", 64), "Authorization", "Bearer "+argoToken), body, "signature does not match"},
		{"a signature is not looked at when only bearer is configured", bearerOnly, headers("X-Signature", "sha256="+fluxSHA256), body, "no Authorization: Bearer token"},
		{"the bearer token is not an HMAC key", Credentials{HMACKey: argoToken}, headers("Authorization", "Bearer "+argoToken), body, "no X-Signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.creds.Check(tt.header, tt.body)
			if tt.refusal == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), tt.refusal) {
				t.Fatalf("error %v, want ErrUnauthorized with %q", err, tt.refusal)
			}
			for _, secret := range []string{fluxToken, argoToken, fluxSHA256} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error %q carries a secret or a presented value", err)
				}
			}
		})
	}
}

func TestEveryCredentialIsComparedInConstantTime(t *testing.T) {
	body := fluxBody(t)
	var compared [][2]int
	real := equal
	equal = func(a, b []byte) bool {
		compared = append(compared, [2]int{len(a), len(b)})
		return real(a, b)
	}
	t.Cleanup(func() { equal = real })

	both := Credentials{HMACKey: fluxToken, BearerToken: argoToken}
	for _, h := range []http.Header{
		headers("X-Signature", "sha256="+fluxSHA256),
		headers("X-Signature", "sha256="+strings.Repeat("0", 64)),
		headers("X-Hub-Signature-256", "sha256="+fluxSHA256),
		headers("X-Signature", "sha512="+fluxSHA512),
		headers("Authorization", "Bearer "+argoToken),
		headers("Authorization", "Bearer short"),
	} {
		_ = both.Check(h, body)
	}
	// One comparison per proof. Bearer tokens are compared as SHA-256
	// digests, so a token's length does not show either.
	want := [][2]int{{32, 32}, {32, 32}, {32, 32}, {64, 64}, {32, 32}, {32, 32}}
	if len(compared) != len(want) {
		t.Fatalf("%d comparisons through the constant-time function, want %d: %v", len(compared), len(want), compared)
	}
	for i := range want {
		if compared[i] != want[i] {
			t.Errorf("comparison %d of lengths %v, want %v", i, compared[i], want[i])
		}
	}
}

func TestPolicyGivesAConfigWithItsOwnSecretOnlyThatSecret(t *testing.T) {
	global := Credentials{HMACKey: "global-hmac", BearerToken: "global-bearer"}
	own := config.Config{Name: "team-a", WebhookSecret: "team-a-secret"}
	plain := config.Config{Name: "team-b"}
	tests := []struct {
		name   string
		policy *Policy
		cfg    *config.Config
		want   Credentials
		scheme string
	}{
		{"own secret, global set", &Policy{Global: global}, &own, Shared("team-a-secret"), "config secret"},
		{"own secret, no global", &Policy{}, &own, Shared("team-a-secret"), "config secret"},
		{"own secret, no policy", nil, &own, Shared("team-a-secret"), "config secret"},
		{"no own secret", &Policy{Global: global}, &plain, global, "global"},
		{"config not known", &Policy{Global: global}, nil, global, ""},
		{"nothing set", &Policy{}, &plain, Credentials{}, "off"},
		{"no policy", nil, nil, Credentials{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.For(tt.cfg); got != tt.want {
				t.Errorf("For = %+v, want %+v", got, tt.want)
			}
			if tt.cfg != nil {
				if got := tt.policy.Scheme(*tt.cfg); got != tt.scheme {
					t.Errorf("Scheme = %q, want %q", got, tt.scheme)
				}
			}
		})
	}
	// A config's own secret works for Flux and Argo CD alike; the global
	// credentials do not open it.
	body := fluxBody(t)
	creds := (&Policy{Global: Credentials{HMACKey: fluxToken}}).For(&config.Config{Name: "x", WebhookSecret: argoToken})
	if err := creds.Check(headers("Authorization", "Bearer "+argoToken), body); err != nil {
		t.Errorf("the config's secret as a bearer token: %v", err)
	}
	if err := creds.Check(headers("X-Signature", "sha256="+fluxSHA256), body); err == nil {
		t.Error("a signature with the global key opened a config with its own secret")
	}
}

func TestFromEnvironmentReadsValuesAndFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hmacFile := write("hmac", "from-file-hmac\n")
	bearerFile := write("bearer", "  from-file-bearer\n")
	blank := write("blank", "\n")
	tests := []struct {
		name               string
		env                map[string]string
		hmacFlag, bearFlag string
		want               Credentials
		err                string
	}{
		{"nothing: off", nil, "", "", Credentials{}, ""},
		{"values from the environment", map[string]string{EnvHMACSecret: " env-hmac ", EnvBearerToken: "env-bearer"}, "", "", Credentials{HMACKey: "env-hmac", BearerToken: "env-bearer"}, ""},
		{"files from flags", nil, hmacFile, bearerFile, Credentials{HMACKey: "from-file-hmac", BearerToken: "from-file-bearer"}, ""},
		{"value and file", map[string]string{EnvHMACSecret: "env-hmac"}, hmacFile, "", Credentials{}, "GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET and --webhook-hmac-secret-file are both set"},
		{"missing file", nil, "", filepath.Join(dir, "nope"), Credentials{}, "--webhook-bearer-token-file: open"},
		{"empty file", nil, blank, "", Credentials{}, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromEnvironment(func(k string) string { return tt.env[k] }, tt.hmacFlag, tt.bearFlag)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "env-hmac") {
					t.Fatalf("the error %q carries the secret", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
