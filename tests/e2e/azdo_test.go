package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
)

const (
	azdoRepo = "manifests"
	azdoPR   = 7
	planID   = "4d6cd8e3-6f1c-4a41-9d3a-2c9e0b1f7a21"
	jobID    = "0f5b5c3e-1a2b-4c3d-8e9f-a0b1c2d3e4f5"
	taskID   = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	buildID  = 1234
)

func azdoEnv(fake *fakeazdo.Server, operator string) map[string]string {
	return map[string]string{
		"GIT_REPOSITORY_TYPE":    "AZDO",
		"CICD_ORCHESTRATOR_TYPE": "AZDO",
		"GITOPS_OPERATOR_TYPE":   operator,
		"GITOPS_APP_URL":         "https://dev.azure.com/org/project/_git/manifests",
		"AZDO_ORG_URL":           fake.ProjectURL(),
		"AZDO_GITOPS_REPO_NAME":  azdoRepo,
		// AZDO_PR_REPO_NAME unset: it defaults to the manifests repository.
		"PAT": fake.Token(),
	}
}

// newAzureDevOps is a fake whose pipeline run waits on pull request 7,
// which merged sha into the manifests repository. When the test ends it
// fails the test for every request outside the API description.
func newAzureDevOps(t *testing.T) *fakeazdo.Server {
	return newAzureDevOpsWith(t, fakeazdo.Options{})
}

// newAzureDevOpsWith is newAzureDevOps with the fake's options.
func newAzureDevOpsWith(t *testing.T, opts fakeazdo.Options) *fakeazdo.Server {
	fake := fakeazdo.New(t, opts)
	t.Cleanup(func() { fake.AssertValid(t) })
	fake.AddRepository(azdoRepo)
	fake.AddCommit(azdoRepo, fakeazdo.Commit{ID: sha, Comment: fmt.Sprintf("Merged PR %d: Deploy az-vote 1.2.3", azdoPR)})
	fake.AddPullRequest(fakeazdo.PullRequest{
		ID: azdoPR, Repository: azdoRepo, Title: "Deploy az-vote 1.2.3", Status: fakeazdo.PullRequestCompleted,
		ClosedDate: time.Now().Add(-10 * time.Minute), LastMergeCommit: sha,
		Properties: map[string]string{"callback-task-id": fake.Callback(planID, jobID, taskID, azdoPR)},
	})
	fake.AddPlan(fakeazdo.Plan{ID: planID, BuildID: buildID, Jobs: map[string]string{jobID: fakeazdo.StateInProgress}})
	return fake
}

func azdoContexts(fake *fakeazdo.Server) []string {
	var out []string
	for _, s := range fake.Statuses(azdoRepo, sha) {
		out = append(out, s.Context.Name+"="+s.State)
	}
	return out
}

func TestFluxEventsBecomeAzureDevOpsStatusesAndOneTaskCompleted(t *testing.T) {
	fake := newAzureDevOps(t)
	h := startHost(t, hostOptions{Env: azdoEnv(fake, "FLUX")})
	revision := "main@sha1:" + sha
	h.Accept(t, "", events.Flux("Kustomization", "Progressing", progressingMessage, revision, ""))
	succeeded := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
	h.Accept(t, "", succeeded)
	h.Accept(t, "", succeeded)
	h.Settle(t, 3)
	want := []string{"Status=pending", "Deployment=notApplicable", "Service=notApplicable", "HorizontalPodAutoscaler=notApplicable", "Status=pending", "Status=succeeded"}
	checkStatuses(t, "statuses", azdoContexts(fake), want)
	st := fake.Statuses(azdoRepo, sha)[0]
	if st.Description != "Status: Reconciliation underway." || st.TargetURL != "https://dev.azure.com/org/project/_git/manifests?noop=Status" || st.Context.Genre != "Kustomization" {
		t.Errorf("first status %+v", st)
	}
	planEvents := fake.Events()
	if len(planEvents) != 1 {
		t.Fatalf("%d plan events, want exactly 1: %+v", len(planEvents), planEvents)
	}
	if e := planEvents[0]; e.Name != "TaskCompleted" || e.PlanID != planID || e.JobID != jobID || e.TaskID != taskID || e.Result != "succeeded" {
		t.Errorf("event %+v", e)
	}
}

func TestArgoFailureCompletesTheTaskAsFailedOnce(t *testing.T) {
	fake := newAzureDevOps(t)
	h := startHost(t, hostOptions{Env: azdoEnv(fake, "ARGOCD")})
	running := events.Argo(sha, "Running", "OutOfSync", "Progressing", "syncing", "",
		events.Resource("apps/Deployment", "az-vote", "OutOfSync", "Progressing"))
	failed := events.Argo(sha, "Failed", "OutOfSync", "Degraded", "one or more objects failed to apply", "",
		events.Resource("apps/Deployment", "az-vote", "OutOfSync", "Degraded"))
	h.Accept(t, "", running)
	h.Accept(t, "", failed)
	h.Accept(t, "", failed)
	h.Settle(t, 3)
	// The finishing event is posted whole, its Sync not applicable (no
	// later event would resolve a pending one); its repeat posts nothing.
	want := []string{"Phase=pending", "Sync=pending", "Health=pending", "Phase=failed", "Sync=notApplicable", "Health=error"}
	checkStatuses(t, "statuses", azdoContexts(fake), want)
	planEvents := fake.Events()
	if len(planEvents) != 1 || planEvents[0].Result != "failed" {
		t.Fatalf("plan events %+v, want one TaskCompleted failed", planEvents)
	}
}
