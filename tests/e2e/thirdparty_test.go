package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
	// reads counts the commits read.
	reads int
	// auth is the Authorization header of every request, by path.
	auth map[string][]string
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = jsonDecode(r, &m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth == nil {
		s.auth = map[string][]string{}
	}
	s.auth[r.URL.Path] = append(s.auth[r.URL.Path], r.Header.Get("Authorization"))
	if id, ok := strings.CutPrefix(r.URL.Path, "/commits/"); ok {
		s.reads++
		_ = json.NewEncoder(w).Encode(map[string]any{"ID": id, "Message": "deployed by the webhook plugin"})
		return
	}
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

// The example's own tests, as its author runs them: the conformance kit,
// with the example as a module of its own that requires only the SDK.
func TestTheThirdPartyExamplePassesTheConformanceKit(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", ".")
	cmd.Dir = filepath.Join("testdata", "thirdparty")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in %s: %v\n%s", cmd.Dir, err, out)
	}
}

// The README's "Write a plugin" shows the example and its conformance
// test whole: the same files.
func TestTheReadmeShowsTheThirdPartyExampleAsItIs(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "### Write a plugin")
	for _, name := range []string{"main.go", "main_test.go"} {
		example, err := os.ReadFile(filepath.Join("testdata", "thirdparty", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(section, "```go\n"+string(example)+"```") {
			t.Errorf("README.md's \"Write a plugin\" does not show testdata/thirdparty/%s as it is", name)
		}
		if name == "main.go" {
			if lines := strings.Count(string(example), "\n"); lines >= 120 {
				t.Errorf("the example has %d lines: keep the shortest correct plugin short", lines)
			}
		}
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

// A third-party repository and the GitHub orchestrator each get their own
// token, and neither the other's: the webhook sees only its token (also
// when GitHub's orchestrator reads the commit through the host), GitHub
// only its own (the fake refuses any other).
func TestAThirdPartyRepositoryAndGitHubEachReceiveOnlyTheirOwnToken(t *testing.T) {
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	gh := newGitHub(t)
	cfg := filepath.Join(t.TempDir(), "configs.yaml")
	err := os.WriteFile(cfg, []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: mixed
spec:
  gitOpsOperatorType: FLUX
  gitRepositoryType: WEBHOOK
  ciCdOrchestratorType: GITHUB
  gitOpsAppURL: https://app.example
  webhookUrl: `+srv.URL+`
  gitHubOrgUrl: `+gh.OrgURL(owner)+`
  gitHubGitOpsRepoName: `+actions+`
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	const webhookToken = "webhook-repository-token-0123456789"
	registerSecret("the webhook repository's token", webhookToken)
	h := startHost(t, hostOptions{
		Args:       []string{"--config", cfg},
		PluginDirs: []string{bundle.PluginDir(), extraPlugins},
		Env:        map[string]string{"GIT_REPOSITORY_PAT": webhookToken, "PAT": gh.Token()},
	})
	revision := "main@sha1:" + sha
	a := h.Post(t, "/gitopsphase/mixed", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	if a.Code != 202 {
		t.Fatalf("answer %+v", a)
	}
	h.Settle(t, 1)
	if d := gh.Dispatches(owner, actions); len(d) != 1 {
		t.Fatalf("dispatches %+v", d)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if !slices.Equal(sink.statuses, []string{"Status=succeeded"}) || sink.reads == 0 {
		t.Fatalf("statuses %v, %d commits read", sink.statuses, sink.reads)
	}
	for path, headers := range sink.auth {
		for _, got := range headers {
			if got != "Bearer "+webhookToken {
				t.Errorf("%s: the webhook plugin sent another credential than its own (GitHub's token: %v)", path, strings.Contains(got, gh.Token()))
			}
		}
	}
}
