package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// The history of these tests: c0 is deployed first; c1, c2 and c3 are
// merged within one reconciliation interval and the operator reports only
// c3; then the branch is force-pushed to x (on c0) and c4, and c4 is
// deployed.
var (
	c0 = strings.Repeat("0", 39) + "a"
	c1 = strings.Repeat("1", 39) + "a"
	c2 = strings.Repeat("2", 39) + "a"
	c3 = strings.Repeat("3", 39) + "a"
	cx = strings.Repeat("e", 39) + "a"
	c4 = strings.Repeat("4", 39) + "a"
)

// parentOf is the first-parent history.
var parentOf = map[string]string{c1: c0, c2: c1, c3: c2, cx: c0, c4: cx}

var historyOrder = []string{c0, c1, c2, c3, cx, c4}

// deployment is an operator's event that the deployment of commit
// finished, successfully or not.
func deployment(operator, commit string, ok bool) []byte {
	if operator == "FLUX" {
		revision := "main@sha1:" + commit
		if ok {
			return events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
		}
		return events.Flux("Kustomization", "ReconciliationFailed", "kustomize build failed", revision, "")
	}
	if ok {
		return events.Argo(commit, "Succeeded", "Synced", "Healthy", "successfully synced", "",
			events.Resource("apps/Deployment", "hello-world", "Synced", "Healthy"))
	}
	return events.Argo(commit, "Failed", "OutOfSync", "Degraded", "one or more objects failed to apply", "",
		events.Resource("apps/Deployment", "hello-world", "OutOfSync", "Degraded"))
}

// skippedRun is what the test of one operator and outcome checks on a
// fake: which commits' pipelines were told what.
type skippedRun interface {
	// told returns commit → what its pipeline was told ("succeeded",
	// "failed"; for GitHub "dispatched with <deployed_with>" or
	// "dispatched"), each entry once per notification.
	told() map[string][]string
	// statusOf returns "state: description" of the last status of a
	// commit's context Status.
	statusOf(commit string) string
}

func TestCommitsTheOperatorSkippedAreToldTheOutcomeOfTheCommitThatContainedThem(t *testing.T) {
	for _, repo := range []string{"GITHUB", "AZDO", "GITEA"} {
		for _, operator := range []string{"FLUX", "ARGOCD"} {
			for _, ok := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/%s", repo, operator, map[bool]string{true: "succeeded", false: "failed"}[ok])
				t.Run(name, func(t *testing.T) {
					var run skippedRun
					var env map[string]string
					switch repo {
					case "GITHUB":
						g := newSkippedGitHub(t)
						run, env = g, githubEnv(g.fake, operator)
					case "GITEA":
						g := newSkippedGitea(t)
						run, env = g, giteaEnv(g.fake, "GITEA", operator)
					default:
						a := newSkippedAzureDevOps(t)
						run, env = a, azdoEnv(a.fake, operator)
					}
					h := startHost(t, hostOptions{Env: env})
					h.Accept(t, "", deployment(operator, c0, true))
					eventually(t, "the first deployment to be told", func() string {
						if len(run.told()[c0]) == 0 {
							return "not yet"
						}
						return ""
					})
					// c1 and c2 were merged before c3; the operator reports c3
					// only, twice (Flux repeats it every interval).
					h.Accept(t, "", deployment(operator, c3, ok))
					h.Accept(t, "", deployment(operator, c3, ok))
					want := map[string][]string{c0: {"succeeded"}}
					outcome := map[bool]string{true: "succeeded", false: "failed"}[ok]
					for _, c := range []string{c1, c2, c3} {
						want[c] = []string{outcome}
					}
					if repo != "AZDO" { // a workflow dispatch, on success only
						want = map[string][]string{c0: {"dispatched"}}
						if ok {
							want[c1], want[c2], want[c3] = []string{"dispatched with " + c3}, []string{"dispatched with " + c3}, []string{"dispatched"}
						}
					}
					waitTold(t, run, want)
					state := map[bool]string{true: "success", false: "failure"}[ok]
					if repo == "AZDO" {
						state = outcome
					}
					eventually(t, "the skipped commits' statuses", func() string {
						for _, c := range []string{c1, c2} {
							if got := run.statusOf(c); !strings.HasPrefix(got, state+": ") || !strings.Contains(got, "deployed with "+c3[:7]+" ("+c3+")") {
								return fmt.Sprintf("status of skipped commit %s: %q", c[:7], got)
							}
						}
						return ""
					})

					// Force push: c4 does not descend from c3; only c4 is told.
					h.Accept(t, "", deployment(operator, c4, true))
					if repo != "AZDO" {
						want[c4] = []string{"dispatched"}
					} else {
						want[c4] = []string{"succeeded"}
					}
					waitTold(t, run, want)
					h.Settle(t, 4)
					if got := run.told(); !equalTold(got, want) {
						t.Errorf("after the deliveries settled: told %v, want %v", got, want)
					}
					if run.statusOf(cx) != "" {
						t.Errorf("the force-pushed commit x got a status: %q", run.statusOf(cx))
					}
					// Skipped commits are counted apart from direct notifications.
					orch := strings.ToLower(repo)
					eventually(t, "the metrics", func() string {
						all, _ := h.scrape(t)
						direct := sample(all, "gitops_connector_notifications_total", map[string]string{"orchestrator": orch, "outcome": "notified"}) +
							sample(all, "gitops_connector_notifications_total", map[string]string{"orchestrator": orch, "outcome": "nothing_to_notify"})
						skipped := sample(all, "gitops_connector_skipped_notifications_total", map[string]string{"orchestrator": orch, "outcome": "notified"}) +
							sample(all, "gitops_connector_skipped_notifications_total", map[string]string{"orchestrator": orch, "outcome": "nothing_to_notify"})
						walks := sample(all, "gitops_connector_skipped_walks_total", map[string]string{"result": "not_ancestor"})
						if direct != 3 || skipped != 2 || walks != 1 {
							return fmt.Sprintf("%v direct notifications (want 3: c0, c3, c4), %v of skipped commits (want 2), %v force pushes (want 1)", direct, skipped, walks)
						}
						return ""
					})
				})
			}
		}
	}
}

func TestAConfigThatIgnoresSkippedCommitsTellsOnlyWhatTheOperatorReported(t *testing.T) {
	g := newSkippedGitHub(t)
	env := githubEnv(g.fake, "FLUX")
	env["SKIPPED_COMMITS"] = "ignore"
	h := startHost(t, hostOptions{Env: env})
	h.Accept(t, "", deployment("FLUX", c0, true))
	h.Accept(t, "", deployment("FLUX", c3, true))
	h.Settle(t, 2)
	want := map[string][]string{c0: {"dispatched"}, c3: {"dispatched"}}
	waitTold(t, g, want)
	if n := len(g.fake.Calls(fakegithub.OpCompare)); n != 0 {
		t.Errorf("%d comparisons, want none", n)
	}
}

func waitTold(t *testing.T, run skippedRun, want map[string][]string) {
	t.Helper()
	eventually(t, "every pipeline to be told", func() string {
		if got := run.told(); !equalTold(got, want) {
			return fmt.Sprintf("told %v, want %v", got, want)
		}
		return ""
	})
}

func equalTold(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for c, w := range want {
		if !slices.Equal(got[c], w) {
			return false
		}
	}
	return true
}

// skippedGitHub is a fake GitHub holding the history, each commit merged
// from its own deploy branch (run id 100+i).
type skippedGitHub struct{ fake *fakegithub.Server }

func newSkippedGitHub(t *testing.T) *skippedGitHub {
	fake := fakegithub.Start(t)
	fake.AddRepo(owner, actions)
	start := time.Now().Add(-time.Hour)
	for i, c := range historyOrder {
		msg := fmt.Sprintf("Merge pull request #%d from kaizentm/deploy/%d/%s\n\nDeploy", i, 100+i, sourceSHA)
		var parents []string
		if p := parentOf[c]; p != "" {
			parents = []string{p}
		}
		fake.SetCommitAt(owner, manifests, c, msg, start.Add(time.Duration(i)*time.Minute), parents...)
	}
	return &skippedGitHub{fake: fake}
}

func (g *skippedGitHub) told() map[string][]string {
	out := map[string][]string{}
	for _, d := range g.fake.Dispatches(owner, actions) {
		runID, _ := d.ClientPayload["runid"].(string)
		var i int
		fmt.Sscan(runID, &i)
		c := historyOrder[i-100]
		what := "dispatched"
		if w, _ := d.ClientPayload["deployed_with"].(string); w != "" {
			what += " with " + w
		}
		out[c] = append(out[c], what)
	}
	return out
}

func (g *skippedGitHub) statusOf(commit string) string {
	last := ""
	for _, s := range g.fake.Statuses(owner, manifests, commit) {
		if s.Context == "Status" {
			last = s.State + ": " + s.Description
		}
	}
	return last
}

// skippedAzureDevOps is a fake Azure DevOps holding the history, each
// commit merged by pull request 10+i whose pipeline run (plan i) waits.
type skippedAzureDevOps struct{ fake *fakeazdo.Server }

func planOf(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", 500+i) }

func newSkippedAzureDevOps(t *testing.T) *skippedAzureDevOps {
	fake := fakeazdo.New(t, fakeazdo.Options{})
	t.Cleanup(func() { fake.AssertValid(t) })
	fake.AddRepository(azdoRepo)
	start := time.Now().Add(-time.Hour)
	for i, c := range historyOrder {
		var parents []string
		if p := parentOf[c]; p != "" {
			parents = []string{p}
		}
		fake.AddCommit(azdoRepo, fakeazdo.Commit{ID: c, Comment: fmt.Sprintf("Merged PR %d: change %d", 10+i, i), Parents: parents, Date: start.Add(time.Duration(i) * time.Minute)})
		fake.AddPullRequest(fakeazdo.PullRequest{
			ID: 10 + i, Repository: azdoRepo, Title: fmt.Sprintf("change %d", i), Status: fakeazdo.PullRequestCompleted,
			ClosedDate: start.Add(time.Duration(i) * time.Minute), LastMergeCommit: c,
			Properties: map[string]string{"callback-task-id": fake.Callback(planOf(i), jobID, taskID, 10+i)},
		})
		fake.AddPlan(fakeazdo.Plan{ID: planOf(i), BuildID: 2000 + i, Jobs: map[string]string{jobID: fakeazdo.StateInProgress}})
	}
	return &skippedAzureDevOps{fake: fake}
}

func (a *skippedAzureDevOps) told() map[string][]string {
	out := map[string][]string{}
	for _, e := range a.fake.Events() {
		for i, c := range historyOrder {
			if strings.EqualFold(e.PlanID, planOf(i)) && e.Name == "TaskCompleted" {
				out[c] = append(out[c], e.Result)
			}
		}
	}
	return out
}

func (a *skippedAzureDevOps) statusOf(commit string) string {
	last := ""
	for _, s := range a.fake.Statuses(azdoRepo, commit) {
		if s.Context.Name == "Status" {
			last = s.State + ": " + strings.TrimPrefix(s.Description, "Status: ")
		}
	}
	return last
}

// skippedGitea is a fake Gitea holding the history, each commit Gitea's
// merge of its own deploy branch (run id 100+i).
type skippedGitea struct{ fake *fakegitea.Server }

func newSkippedGitea(t *testing.T) *skippedGitea {
	fake := fakegitea.Start(t)
	fake.AddWorkflow(giteaOwner, actions, giteaWorkflow)
	start := time.Now().Add(-time.Hour)
	for i, c := range historyOrder {
		msg := fmt.Sprintf("Merge pull request 'Deploy %d' (#%d) from deploy/%d/%s into main", i, i, 100+i, sourceSHA)
		var parents []string
		if p := parentOf[c]; p != "" {
			parents = []string{p}
		}
		fake.SetCommitAt(giteaOwner, manifests, c, msg, start.Add(time.Duration(i)*time.Minute), parents...)
	}
	return &skippedGitea{fake: fake}
}

func (g *skippedGitea) told() map[string][]string {
	out := map[string][]string{}
	for _, d := range g.fake.Dispatches(giteaOwner, actions) {
		var i int
		fmt.Sscan(d.Inputs["runid"], &i)
		c := historyOrder[i-100]
		what := "dispatched"
		if w := d.Inputs["deployed_with"]; w != "" {
			what += " with " + w
		}
		out[c] = append(out[c], what)
	}
	return out
}

func (g *skippedGitea) statusOf(commit string) string {
	last := ""
	for _, s := range g.fake.Statuses(giteaOwner, manifests, commit) {
		if s.Context == "Status" {
			last = s.State + ": " + s.Description
		}
	}
	return last
}
