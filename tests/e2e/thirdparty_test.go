package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
)

// webhookSink records what the third-party webhook plugin posts.
type webhookSink struct {
	mu          sync.Mutex
	statuses    []string
	completions []map[string]any
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = jsonDecode(r, &m)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/statuses":
		s.statuses = append(s.statuses, fmt.Sprintf("%s=%s", m["context"], m["state"]))
	case "/completions":
		s.completions = append(s.completions, m)
	}
}

func TestAThirdPartyPluginIsLoadedByTypeAndUsed(t *testing.T) {
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "configs.yaml")
	err := os.WriteFile(cfg, []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: to-webhook
spec:
  gitOpsOperatorType: FLUX
  gitRepositoryType: webhook
  ciCdOrchestratorType: WEBHOOK
  gitOpsAppURL: https://app.example
  webhookUrl: `+srv.URL+`
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOptions{
		Args:       []string{"--config", cfg},
		PluginDirs: []string{bundle.PluginDir(), extraPlugins},
	})
	revision := "main@sha1:" + sha
	// Routed by the URL path, since the Flux alert names no config.
	a := h.Post(t, "/gitopsphase/to-webhook", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	if a.Code != 202 || a.Config != "to-webhook" {
		t.Fatalf("answer %+v", a)
	}
	h.Settle(t, 1)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if !slices.Equal(sink.statuses, []string{"Status=succeeded"}) {
		t.Fatalf("statuses %v", sink.statuses)
	}
	if len(sink.completions) != 1 || sink.completions[0]["successful"] != true ||
		sink.completions[0]["message"] != "deployed by the webhook plugin" || sink.completions[0]["config"] != "to-webhook" {
		t.Fatalf("completions %v", sink.completions)
	}
}

func TestAConfigNamingAMissingPluginTypeIsRejectedWithTheTypesAvailable(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "configs.yaml")
	err := os.WriteFile(cfg, []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: gitlab
spec:
  gitOpsOperatorType: FLUX
  gitRepositoryType: GITLAB
  ciCdOrchestratorType: GITHUB
  gitOpsAppURL: https://app.example
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOptions{Args: []string{"--config", cfg}})
	a := h.Post(t, "/gitopsphase/gitlab", events.Flux("Kustomization", "ReconciliationSucceeded", "x", "main@sha1:"+sha, ""))
	if a.Code != 200 || !strings.Contains(a.Reason, `unknown repository type "GITLAB"; available: AZDO, FORGEJO, GITEA, GITHUB`) {
		t.Fatalf("answer %d %q", a.Code, a.Reason)
	}
}
