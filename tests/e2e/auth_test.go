package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// Webhook authentication against the real host: Flux's generic-hmac
// provider signs the body (X-Signature: sha256=<hex>), Argo CD's webhook
// service sends Authorization: Bearer.

const (
	envHMAC   = "GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET"
	envBearer = "GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN"
	// fluxHMAC is the token of the Flux Provider's Secret.
	fluxHMAC = "e2e-flux-provider-token-5d0a9c"
)

// signature is the X-Signature value Flux sends for body.
func signature(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// refused checks a 401 answer: no detail but the event id.
func refused(t *testing.T, what string, a hostproc.Answer) {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal([]byte(a.Raw), &m)
	if id, _ := m["event"].(string); a.Code != http.StatusUnauthorized || len(m) != 2 || m["status"] != "unauthorized" || id == "" {
		t.Errorf("%s: answer %d %s, want 401 with only the status and the event id", what, a.Code, a.Raw)
	}
}

func TestFluxEventsMustBeSignedWithTheProvidersToken(t *testing.T) {
	fake := newGitHub(t)
	env := githubEnv(fake, "FLUX")
	env[envHMAC] = fluxHMAC
	h := startHost(t, hostOptions{Env: env})
	if len(h.Log.Messages("webhook authentication on")) != 1 {
		t.Error("the start does not say webhook authentication is on")
	}
	revision := "main@sha1:" + sha
	progressing := events.Flux("Kustomization", "Progressing", progressingMessage, revision, "")
	succeeded := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
	forged := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision+" ", revision, "")

	refused(t, "unsigned", h.Post(t, "", succeeded))
	refused(t, "signed with another key", h.PostWith(t, "", succeeded, map[string]string{"X-Signature": signature("guessed", succeeded)}))
	refused(t, "the signature of another body", h.PostWith(t, "", forged, map[string]string{"X-Signature": signature(fluxHMAC, succeeded)}))
	refused(t, "a bearer token instead", h.PostWith(t, "", succeeded, map[string]string{"Authorization": "Bearer " + fluxHMAC}))
	refused(t, "unsigned and not JSON", h.Post(t, "", []byte("revision=main")))
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("refused events made %d requests to GitHub", n)
	}

	if a := h.PostWith(t, "", progressing, map[string]string{"X-Signature": signature(fluxHMAC, progressing)}); a.Code != http.StatusAccepted {
		t.Fatalf("signed Progressing: %d %s", a.Code, a.Raw)
	}
	if a := h.PostWith(t, "", succeeded, map[string]string{"X-Hub-Signature-256": signature(fluxHMAC, succeeded)}); a.Code != http.StatusAccepted {
		t.Fatalf("ReconciliationSucceeded signed in X-Hub-Signature-256: %d %s", a.Code, a.Raw)
	}
	h.Settle(t, 2)
	want := []string{"Status=pending", "Deployment=success", "Service=success", "HorizontalPodAutoscaler=success", "Status=pending", "Status=success"}
	checkStatuses(t, "statuses", contexts(fake), want)
	if n := len(fake.Dispatches(owner, actions)); n != 1 {
		t.Fatalf("%d dispatches, want 1", n)
	}
	lines := h.Log.Messages("event refused: the sender is not authenticated")
	if len(lines) != 5 {
		t.Fatalf("%d refusals logged, want 5", len(lines))
	}
	for _, l := range lines {
		if l["reason"] == nil || l["event"] == nil || l["config"] != "default" {
			t.Errorf("refusal log line %v lacks the reason, the event or the config", l)
		}
	}
}

func TestArgoCDSendsTheBearerTokenFromAFile(t *testing.T) {
	fake := newGitHub(t)
	const token = "e2e-argocd-notifications-token-77b3"
	registerSecret("the bearer token file", token)
	file := filepath.Join(t.TempDir(), "bearer-token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOptions{Env: githubEnv(fake, "ARGOCD"), Args: []string{"--webhook-bearer-token-file", file}})
	done := events.Argo(sha, "Succeeded", "Synced", "Healthy", "successfully synced (all tasks run)", "",
		events.Resource("apps/Deployment", "podinfo", "Synced", "Healthy"))
	refused(t, "no Authorization", h.Post(t, "", done))
	refused(t, "a wrong token", h.PostWith(t, "", done, map[string]string{"Authorization": "Bearer " + token[:len(token)-1]}))
	refused(t, "a signature keyed by the token", h.PostWith(t, "", done, map[string]string{"X-Signature": signature(token, done)}))
	if a := h.PostWith(t, "", done, map[string]string{"Authorization": "Bearer " + token}); a.Code != http.StatusAccepted || !a.Finished {
		t.Fatalf("with the token: %d %s", a.Code, a.Raw)
	}
	h.Settle(t, 1)
	if n := len(fake.Dispatches(owner, actions)); n != 1 {
		t.Fatalf("%d dispatches, want 1", n)
	}
}

func TestWithoutSecretsAuthenticationIsOffAndTheStartWarns(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX")})
	warned := false
	for _, l := range h.Log.Messages("webhook authentication is off: anyone who can reach the connector can report deployment results " +
		"for configs without their own webhookSecretRef; set GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET (Flux generic-hmac) and/or " +
		"GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN (Argo CD)") {
		warned = warned || l["level"] == "WARN"
	}
	if !warned {
		t.Error("no warning at start that webhook authentication is off")
	}
	revision := "main@sha1:" + sha
	if a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")); a.Code != http.StatusAccepted {
		t.Fatalf("unsigned event with authentication off: %d %s", a.Code, a.Raw)
	}
	for _, l := range h.Log.Messages("config loaded") {
		if l["webhook_auth"] != "off" {
			t.Errorf("config loaded with webhook_auth %v, want off", l["webhook_auth"])
		}
	}
}

func TestASecretFileThatCannotBeReadKeepsTheHostFromStarting(t *testing.T) {
	fake := newGitHub(t)
	missing := filepath.Join(t.TempDir(), "no-such-file")
	out, err := runToExit(t, groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX"),
		Args: []string{"--webhook-hmac-secret-file", missing}}})
	if err == nil || !strings.Contains(out, "webhook authentication: --webhook-hmac-secret-file: open "+missing) {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
	bothEnv := githubEnv(fake, "FLUX")
	bothEnv[envBearer] = "e2e-bearer-and-file-3a1f"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("e2e-bearer-in-a-file-90c2"), 0o600); err != nil {
		t.Fatal(err)
	}
	registerSecret("the bearer token file", "e2e-bearer-in-a-file-90c2")
	out, err = runToExit(t, groupOptions{hostOptions: hostOptions{Env: bothEnv, Args: []string{"--webhook-bearer-token-file", file}}})
	if err == nil || !strings.Contains(out, "GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN and --webhook-bearer-token-file are both set; set one") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}
