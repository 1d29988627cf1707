package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
)

const (
	giteaOwner    = "platform"
	giteaWorkflow = "sync-success.yaml"
	// giteaMerge is Gitea's merge commit of the CD workflow's pull request
	// from branch deploy/<run id>/<source commit>.
	giteaMerge = "Merge pull request 'Deploy hello-world' (#12) from deploy/4242/" + sourceSHA + " into main\n\nReviewed-on: https://gitea.example.com/platform/gitops-manifests/pulls/12\n"
)

// giteaEnv is a single instance on a fake Gitea; typ is GITEA or its alias
// FORGEJO.
func giteaEnv(fake *fakegitea.Server, typ, operator string) map[string]string {
	return map[string]string{
		"GIT_REPOSITORY_TYPE":             typ,
		"CICD_ORCHESTRATOR_TYPE":          typ,
		"GITOPS_OPERATOR_TYPE":            operator,
		"GITOPS_APP_URL":                  "https://argocd.example.com/applications/hello-world",
		"GITEA_URL":                       fake.URL,
		"GITEA_OWNER":                     giteaOwner,
		"GITEA_GITOPS_MANIFEST_REPO_NAME": manifests,
		"GITEA_GITOPS_APP_REPO_NAME":      actions,
		"GITEA_WORKFLOW":                  giteaWorkflow,
		"PAT":                             fake.Token(),
	}
}

func newGitea(t *testing.T) *fakegitea.Server {
	fake := fakegitea.Start(t)
	fake.SetCommit(giteaOwner, manifests, sha, giteaMerge)
	fake.AddWorkflow(giteaOwner, actions, giteaWorkflow)
	return fake
}

func giteaContexts(fake *fakegitea.Server) []string {
	var out []string
	for _, s := range fake.Statuses(giteaOwner, manifests, sha) {
		out = append(out, s.Context+"="+s.State)
	}
	return out
}

// checkGiteaDispatch fails the test unless the fake got exactly one
// dispatch, of the workflow on main with the sync-success inputs, and every
// request carried the token as "token".
func checkGiteaDispatch(t *testing.T, fake *fakegitea.Server) {
	t.Helper()
	ds := fake.Dispatches(giteaOwner, actions)
	if len(ds) != 1 {
		t.Fatalf("%d dispatches, want exactly 1", len(ds))
	}
	in := ds[0].Inputs
	if ds[0].Workflow != giteaWorkflow || ds[0].Ref != "main" || in["sha"] != sourceSHA || in["runid"] != "4242" || in["commitmessage"] != giteaMerge {
		t.Errorf("dispatch %s on %s with %v", ds[0].Workflow, ds[0].Ref, in)
	}
	for _, r := range fake.Requests() {
		if r.AuthScheme != "token" {
			t.Errorf("%s %s authenticated with %q", r.Method, r.Path, r.AuthScheme)
		}
	}
}

func TestFluxEventsBecomeGiteaStatusesAndOneWorkflowDispatch(t *testing.T) {
	fake := newGitea(t)
	h := startHost(t, hostOptions{Env: giteaEnv(fake, "GITEA", "FLUX")})
	revision := "main@sha1:" + sha

	if a := h.Post(t, "", events.Flux("Kustomization", "Progressing", progressingMessage, revision, "")); a.Code != 202 || a.Commit != sha || a.Finished {
		t.Fatalf("progressing: %+v", a)
	}
	h.Settle(t, 1)
	want := []string{"Status=pending", "Deployment=success", "Service=success", "HorizontalPodAutoscaler=success", "Status=pending"}
	checkStatuses(t, "statuses after Progressing", giteaContexts(fake), want)

	succeeded := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
	for i := range 3 { // Flux repeats it every interval
		if a := h.Post(t, "", succeeded); !a.Taken() || !a.Finished {
			t.Fatalf("succeeded #%d: %+v", i, a)
		}
	}
	h.Settle(t, 4)
	checkStatuses(t, "statuses after ReconciliationSucceeded ×3", giteaContexts(fake), append(want, "Status=success"))
	for _, s := range fake.Statuses(giteaOwner, manifests, sha) {
		if s.TargetURL != "https://argocd.example.com/applications/hello-world" {
			t.Errorf("target_url %q", s.TargetURL)
		}
	}
	checkGiteaDispatch(t, fake)
}

func TestArgoEventsBecomeForgejoStatusesAndOneDispatchThroughFaults(t *testing.T) {
	fake := newGitea(t)
	// A rate limit on the first status and a failing proxy on the first
	// dispatch: both are retried, the dispatch still arrives once.
	fake.FailNext(fakegitea.OpCreateStatus, fakegitea.RetryAfter(http.StatusTooManyRequests, time.Second))
	fake.FailNext(fakegitea.OpDispatch, fakegitea.Error(http.StatusBadGateway, "upstream unavailable"))
	h := startHost(t, hostOptions{Env: giteaEnv(fake, "FORGEJO", "ARGOCD")})
	running := events.Argo(sha, "Running", "OutOfSync", "Progressing", "waiting for healthy state", "",
		events.Resource("apps/Deployment", "podinfo", "OutOfSync", "Progressing"), events.Resource("Service", "podinfo", "Synced", "Healthy"))
	done := events.Argo(sha, "Succeeded", "Synced", "Healthy", "successfully synced (all tasks run)", "",
		events.Resource("apps/Deployment", "podinfo", "Synced", "Healthy"), events.Resource("Service", "podinfo", "Synced", "Healthy"))
	if a := h.Post(t, "", running); a.Code != 202 || a.Finished {
		t.Fatalf("running: %+v", a)
	}
	for range 2 {
		if a := h.Post(t, "", done); !a.Taken() || !a.Finished {
			t.Fatalf("succeeded: %+v", a)
		}
	}
	h.Settle(t, 3)
	// Once behind, a queued status superseded by a newer one of its
	// context is not posted: each context ends in its newest state.
	latest := map[string]string{}
	for _, s := range fake.Statuses(giteaOwner, manifests, sha) {
		latest[s.Context] = s.State
	}
	if len(latest) != 3 || latest["Phase"] != "success" || latest["Sync"] != "success" || latest["Health"] != "success" {
		t.Errorf("statuses %v: want Phase, Sync and Health ending in success", giteaContexts(fake))
	}
	checkGiteaDispatch(t, fake)
	if calls := fake.Calls(fakegitea.OpDispatch); len(calls) != 2 || calls[0].Answer != http.StatusBadGateway {
		t.Errorf("dispatch calls %+v, want the failed one and its retry", calls)
	}
}
