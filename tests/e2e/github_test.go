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
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

const (
	owner     = "kaizentm"
	manifests = "gitops-manifests"
	actions   = "hello-world"
	sha       = "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	sourceSHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	// mergeMessage is GitHub's merge commit of the CD workflow's pull
	// request from branch deploy/<run id>/<source commit>.
	mergeMessage = "Merge pull request #12 from kaizentm/deploy/4242424242/" + sourceSHA + "\n\nDeploy hello-world"
)

func githubEnv(fake *fakegithub.Server, operator string) map[string]string {
	return map[string]string{
		"GIT_REPOSITORY_TYPE":              "GITHUB",
		"CICD_ORCHESTRATOR_TYPE":           "GITHUB",
		"GITOPS_OPERATOR_TYPE":             operator,
		"GITOPS_APP_URL":                   "https://github.com/kaizentm/gitops-manifests/commit",
		"GITHUB_ORG_URL":                   fake.OrgURL(owner),
		"GITHUB_GITOPS_MANIFEST_REPO_NAME": manifests,
		"GITHUB_GITOPS_REPO_NAME":          actions,
		"PAT":                              fake.Token(),
	}
}

func newGitHub(t *testing.T, opts ...fakegithub.Option) *fakegithub.Server {
	fake := fakegithub.Start(t, opts...)
	fake.AddRepo(owner, manifests)
	fake.AddRepo(owner, actions)
	fake.SetCommit(owner, manifests, sha, mergeMessage)
	return fake
}

// contexts lists "context=state" of the statuses the fake holds, in order.
func contexts(fake *fakegithub.Server) []string {
	var out []string
	for _, s := range fake.Statuses(owner, manifests, sha) {
		out = append(out, s.Context+"="+s.State)
	}
	return out
}

// checkStatuses fails the test unless got, the "context=state" of the
// statuses a fake holds, is want.
func checkStatuses(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s\n%v\nwant\n%v", what, got, want)
	}
}

// subscriberSink records the raw JSON subscribers receive.
type subscriberSink struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (s *subscriberSink) handler(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = jsonDecode(r, &m)
	s.mu.Lock()
	s.bodies = append(s.bodies, m)
	s.mu.Unlock()
}

func (s *subscriberSink) got() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

func TestFluxEventsBecomeGitHubStatusesAndOneDispatch(t *testing.T) {
	fake := newGitHub(t)
	sink := &subscriberSink{}
	sub := httptest.NewServer(http.HandlerFunc(sink.handler))
	defer sub.Close()
	subsDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(subsDir, "spektate"), []byte(sub.URL+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX"), Args: []string{"--subscribers-dir", subsDir}})
	revision := "main@sha1:" + sha

	a := h.Post(t, "", events.Flux("Kustomization", "Progressing", progressingMessage, revision, ""))
	if a.Code != 202 || a.Commit != sha || a.Finished {
		t.Fatalf("progressing: %+v", a)
	}
	h.Settle(t, 1)
	want := []string{"Status=pending", "Deployment=success", "Service=success", "HorizontalPodAutoscaler=success", "Status=pending"}
	checkStatuses(t, "statuses after Progressing", contexts(fake), want)
	for _, s := range fake.Statuses(owner, manifests, sha) {
		if s.Context == "Deployment" && s.Description != "2 configured" {
			t.Errorf("Deployment description %q, want %q", s.Description, "2 configured")
		}
		if s.TargetURL != "https://github.com/kaizentm/gitops-manifests/commit" {
			t.Errorf("target_url %q", s.TargetURL)
		}
	}

	succeeded := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
	for i := 0; i < 3; i++ { // Flux repeats it every interval
		if a := h.Post(t, "", succeeded); !a.Taken() || !a.Finished {
			t.Fatalf("succeeded #%d: %+v", i, a)
		}
	}
	h.Settle(t, 4)
	want = append(want, "Status=success")
	checkStatuses(t, "statuses after ReconciliationSucceeded ×3", contexts(fake), want)
	ds := fake.Dispatches(owner, actions)
	if len(ds) != 1 {
		t.Fatalf("%d dispatches, want exactly 1", len(ds))
	}
	p := ds[0].ClientPayload
	if ds[0].EventType != "sync-success" || p["sha"] != sourceSHA || p["runid"] != "4242424242" || p["commitmessage"] != mergeMessage {
		t.Errorf("dispatch %s %v", ds[0].EventType, p)
	}

	// Raw subscribers got every status posted, as the old connector sent them.
	eventually(t, "subscribers to receive every status", func() string {
		if n := len(sink.got()); n != len(want) {
			return fmt.Sprintf("%d payloads, want %d", n, len(want))
		}
		return ""
	})
	first := sink.got()[0]
	for k, v := range map[string]any{"commit_id": sha, "status_name": "Status", "state": "Progressing",
		"callback_url": "https://github.com/kaizentm/gitops-manifests/commit", "gitops_operator": "Flux", "genre": "Kustomization"} {
		if first[k] != v {
			t.Errorf("subscriber payload %s = %v, want %v", k, first[k], v)
		}
	}
	if _, ok := first["message"]; !ok {
		t.Error("subscriber payload lacks message")
	}
}

func TestAFailureThenARecoveryOnOneCommitIsShownAndDispatched(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX")})
	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "HealthCheckFailed",
		"health check failed after 30s: timeout waiting for: [Deployment/default/podinfo status: 'InProgress']", revision, ""))
	h.Accept(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	h.Settle(t, 2)
	got := contexts(fake)
	if len(got) < 2 || got[len(got)-1] != "Status=success" || !slices.Contains(got, "Status=failure") {
		t.Fatalf("statuses %v: want the failure, then the recovery", got)
	}
	if n := len(fake.Dispatches(owner, actions)); n != 1 {
		t.Fatalf("%d dispatches after the recovery, want 1", n)
	}
}

func TestArgoEventsBecomeGitHubStatusesAndOneDispatch(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "ARGOCD")})
	running := events.Argo(sha, "Running", "OutOfSync", "Progressing", "waiting for healthy state", "",
		events.Resource("apps/Deployment", "podinfo", "OutOfSync", "Progressing"), events.Resource("Service", "podinfo", "Synced", "Healthy"))
	done := events.Argo(sha, "Succeeded", "Synced", "Healthy", "successfully synced (all tasks run)", "",
		events.Resource("apps/Deployment", "podinfo", "Synced", "Healthy"), events.Resource("Service", "podinfo", "Synced", "Healthy"))
	if a := h.Post(t, "", running); a.Code != 202 || a.Finished {
		t.Fatalf("running: %+v", a)
	}
	for i := 0; i < 2; i++ {
		if a := h.Post(t, "", done); !a.Taken() || !a.Finished {
			t.Fatalf("succeeded: %+v", a)
		}
	}
	h.Settle(t, 3)
	want := []string{"Phase=pending", "Sync=pending", "Health=pending", "Phase=success", "Sync=success", "Health=success"}
	checkStatuses(t, "statuses", contexts(fake), want)
	for _, s := range fake.Statuses(owner, manifests, sha) {
		if s.Context == "Sync" && s.State == "pending" && !strings.Contains(s.Description, "1/2 OutOfSync") {
			t.Errorf("Sync description %q", s.Description)
		}
	}
	if n := len(fake.Dispatches(owner, actions)); n != 1 {
		t.Fatalf("%d dispatches, want 1", n)
	}
}

func TestBadInputIsAnsweredWith4xxAndNeverReachesGitHub(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX")})
	cases := []struct {
		name string
		body string
		code int
	}{
		{"not json", "revision=main", 400},
		{"array", `[{"involvedObject":{}}]`, 400},
		{"new artifact", string(events.Flux("GitRepository", "NewArtifact", "stored artifact", "main@sha1:"+sha, "")), 200},
		{"path traversal revision", string(events.Flux("Kustomization", "ReconciliationSucceeded", "x", "main@sha1:../../other-repo/commits/"+sha, "")), 200},
		{"oci revision", string(events.Flux("Kustomization", "ReconciliationSucceeded", "x", "latest@sha256:"+strings.Repeat("ab", 32), "")), 200},
		{"argo body to a flux config", `{"commitid":"<no value>","phase":"Running","resources":[]}`, 400},
		{"involved object not an object", `{"involvedObject":"Kustomization/flux-system/apps","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:` + sha + `"}}`, 400},
		{"helm chart version", string(events.Flux("HelmRelease", "UpgradeSucceeded", "x", "6.5.0+4b5a2e1f9c0d", "")), 200},
		{"huge", `{"m":"` + strings.Repeat("x", 5<<20) + `"}`, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.Post(t, "", []byte(c.body))
			if a.Code != c.code || a.Reason == "" {
				t.Fatalf("answer %d %q, want %d with a reason", a.Code, a.Raw, c.code)
			}
			if len(a.Raw) > 2000 {
				t.Fatal("the answer echoes the body")
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("bad input made %d requests to GitHub", n)
	}
}

func TestDryRunLogsActionsAndSendsNothing(t *testing.T) {
	fake := newGitHub(t)
	env := githubEnv(fake, "FLUX")
	delete(env, "PAT")
	h := startHost(t, hostOptions{Env: env, Args: []string{"--dry-run"}})
	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
	h.Settle(t, 1)
	var wouldPost, wouldNotify bool
	for _, l := range h.Log.Lines() {
		wouldPost = wouldPost || (l["msg"] == "dry run: would post commit status" && l["commit"] == sha && l["context"] == "Status" && l["state"] == "succeeded")
		wouldNotify = wouldNotify || (l["msg"] == "dry run: would notify the orchestrator" && l["successful"] == true)
	}
	if !wouldPost || !wouldNotify {
		t.Fatalf("dry-run log lacks the actions (post %v, notify %v):\n%s", wouldPost, wouldNotify, h.Log.String())
	}
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}
}

// A config without an orchestrator posts the statuses and tells no
// pipeline.
func TestAConfigWithoutAnOrchestratorPostsStatusesOnly(t *testing.T) {
	for _, orchestrator := range []string{"", "NONE"} {
		t.Run("CICD_ORCHESTRATOR_TYPE="+orchestrator, func(t *testing.T) {
			fake := newGitHub(t)
			env := githubEnv(fake, "FLUX")
			env["CICD_ORCHESTRATOR_TYPE"] = orchestrator
			delete(env, "GITHUB_GITOPS_REPO_NAME")
			h := startHost(t, hostOptions{Env: env})
			revision := "main@sha1:" + sha
			a := h.Post(t, "", events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""))
			if a.Code != 202 || !a.Finished {
				t.Fatalf("answer %+v", a)
			}
			h.Settle(t, 1)
			checkStatuses(t, "statuses", contexts(fake), []string{"Status=success"})
			if d := fake.Dispatches(owner, actions); len(d) != 0 {
				t.Errorf("dispatches %+v, want none", d)
			}
			if len(h.Log.Messages("event delivered; the config tells no pipeline")) != 1 {
				t.Errorf("no log line says the config tells no pipeline:\n%s", h.Log.String())
			}
		})
	}
}
