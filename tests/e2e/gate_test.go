package e2e

// Two clusters, dev-east and dev-west, deploy one manifests repository, each
// with its own connector process; both processes talk to one fake API.
// dev-east is the gatekeeper: it names both environments as required, so
// its pipeline is told only once the commit's statuses show that both
// deployed it. dev-west only posts statuses (ciCdOrchestratorType NONE).

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// gateMaxAge is the shortened --max-age of both connectors: the gate of a
// commit dev-west never deploys is given up after it.
const gateMaxAge = 30 * time.Second

// gateCommit is commit i of the gate tests: 1 both deploy, 2 dev-west
// fails, 3 dev-west never reports.
func gateCommit(i int) string { return fmt.Sprintf("%08x%032x", 0x9a7e0000+i, i) }

// gateSide is what differs between the git hosts: the environment of each
// cluster's connector, and what the pipelines received.
type gateSide struct {
	east, west map[string]string
	// told returns the successes and failures the pipeline of commit i
	// received through the API.
	told func(i int) (successes, failures int)
	// westStatus returns the state of the latest dev-west/Status of commit
	// i on the git host ("" when none).
	westStatus func(i int) string
}

func githubGateSide(t *testing.T) gateSide {
	fake := fakegithub.Start(t)
	fake.AddRepo(owner, actions)
	for i := 1; i <= 3; i++ {
		fake.SetCommit(owner, manifests, gateCommit(i), fmt.Sprintf("Merge pull request #%d from kaizentm/deploy/%d/%s", i, 7000+i, sourceSHA))
	}
	east, west := githubEnv(fake, "FLUX"), githubEnv(fake, "FLUX")
	east["STATUS_CONTEXT"], east["REQUIRED_ENVIRONMENTS"] = "dev-east", "dev-east,dev-west"
	west["STATUS_CONTEXT"], west["CICD_ORCHESTRATOR_TYPE"] = "dev-west", "NONE"
	delete(west, "GITHUB_GITOPS_REPO_NAME")
	return gateSide{east: east, west: west, westStatus: func(i int) string {
		state := ""
		for _, st := range fake.Statuses(owner, manifests, gateCommit(i)) {
			if st.Context == "dev-west/Status" {
				state = st.State
			}
		}
		return state
	}, told: func(i int) (int, int) {
		n := 0
		for _, d := range fake.Dispatches(owner, actions) {
			if d.ClientPayload["runid"] == fmt.Sprint(7000+i) {
				n++
			}
		}
		return n, 0 // GitHub Actions hear of successes only
	}}
}

func azdoGateSide(t *testing.T) gateSide {
	fake := fakeazdo.New(t, fakeazdo.Options{})
	t.Cleanup(func() { fake.AssertValid(t) })
	fake.AddRepository(azdoRepo)
	plan := func(i int) string { return fmt.Sprintf("4d6cd8e3-6f1c-4a41-9d3a-2c9e0b1f7a%02d", i) }
	for i := 1; i <= 3; i++ {
		pr := 70 + i
		fake.AddCommit(azdoRepo, fakeazdo.Commit{ID: gateCommit(i), Comment: fmt.Sprintf("Merged PR %d: Deploy az-vote 1.2.%d", pr, i)})
		fake.AddPullRequest(fakeazdo.PullRequest{
			ID: pr, Repository: azdoRepo, Status: fakeazdo.PullRequestCompleted, ClosedDate: time.Now().Add(-time.Minute),
			LastMergeCommit: gateCommit(i), Properties: map[string]string{"callback-task-id": fake.Callback(plan(i), jobID, taskID, pr)},
		})
		fake.AddPlan(fakeazdo.Plan{ID: plan(i), BuildID: buildID + i, Jobs: map[string]string{jobID: fakeazdo.StateInProgress}})
	}
	east, west := azdoEnv(fake, "FLUX"), azdoEnv(fake, "FLUX")
	east["STATUS_CONTEXT"], east["REQUIRED_ENVIRONMENTS"] = "dev-east", "dev-east,dev-west"
	west["STATUS_CONTEXT"], west["CICD_ORCHESTRATOR_TYPE"] = "dev-west", "NONE"
	return gateSide{east: east, west: west, westStatus: func(i int) string {
		state := ""
		for _, st := range fake.Statuses(azdoRepo, gateCommit(i)) {
			if st.Context.Name == "dev-west/Status" {
				state = st.State
			}
		}
		return state
	}, told: func(i int) (int, int) {
		s, f := 0, 0
		for _, e := range fake.Events() {
			switch {
			case e.PlanID != plan(i) || e.Name != "TaskCompleted":
			case e.Result == "succeeded":
				s++
			case e.Result == "failed":
				f++
			}
		}
		return s, f
	}}
}

func giteaGateSide(t *testing.T) gateSide {
	fake := fakegitea.Start(t)
	fake.AddWorkflow(giteaOwner, actions, giteaWorkflow)
	for i := 1; i <= 3; i++ {
		fake.SetCommit(giteaOwner, manifests, gateCommit(i), fmt.Sprintf("Merge pull request 'Deploy %d' (#%d) from deploy/%d/%s into main", i, i, 7000+i, sourceSHA))
	}
	east, west := giteaEnv(fake, "GITEA", "FLUX"), giteaEnv(fake, "GITEA", "FLUX")
	east["STATUS_CONTEXT"], east["REQUIRED_ENVIRONMENTS"] = "dev-east", "dev-east,dev-west"
	west["STATUS_CONTEXT"], west["CICD_ORCHESTRATOR_TYPE"] = "dev-west", "NONE"
	delete(west, "GITEA_GITOPS_APP_REPO_NAME")
	delete(west, "GITEA_WORKFLOW")
	return gateSide{east: east, west: west, westStatus: func(i int) string {
		state := ""
		for _, st := range fake.Statuses(giteaOwner, manifests, gateCommit(i)) {
			if st.Context == "dev-west/Status" {
				state = st.State
			}
		}
		return state
	}, told: func(i int) (int, int) {
		n := 0
		for _, d := range fake.Dispatches(giteaOwner, actions) {
			if d.Inputs["runid"] == fmt.Sprint(7000+i) {
				n++
			}
		}
		return n, 0 // Gitea Actions hear of successes only
	}}
}

func TestAGatekeeperTellsItsGiteaPipelineOnceEveryClusterDeployed(t *testing.T) {
	t.Parallel()
	testGate(t, giteaGateSide(t), 0)
}

func TestAGatekeeperTellsItsGitHubPipelineOnceEveryClusterDeployed(t *testing.T) {
	t.Parallel()
	testGate(t, githubGateSide(t), 0)
}

func TestAGatekeeperTellsItsAzurePipelineOnceEveryClusterDeployed(t *testing.T) {
	t.Parallel()
	testGate(t, azdoGateSide(t), 1)
}

// testGate runs the three commits through both clusters; failuresTold is
// how many failures the git host's pipeline hears of (GitHub Actions: none).
func testGate(t *testing.T, side gateSide, failuresTold int) {
	flux := func(i int, reason, message string) []byte {
		rev := "main@sha1:" + gateCommit(i)
		if message == "" {
			message = "Applied revision: " + rev
		}
		return events.Flux("Kustomization", reason, message, rev, "")
	}
	succeeded := func(i int) []byte { return flux(i, "ReconciliationSucceeded", "") }
	args := []string{"--max-age", gateMaxAge.String()}
	eastOpts := groupOptions{hostOptions: hostOptions{Env: side.east, Args: args}, DataDir: t.TempDir()}
	east := startGroupHost(t, eastOpts)
	west := startHost(t, hostOptions{Env: side.west, Args: args})

	// dev-east deploys all three commits first: three gates open.
	for i := 1; i <= 3; i++ {
		east.Accept(t, "", succeeded(i))
	}
	gatesOpen := func(h *host, n int) func() string {
		return func() string {
			if got := len(h.Log.Messages("gate open: waiting for the required environments")); got < n {
				return fmt.Sprintf("%d gates opened, want %d", got, n)
			}
			return ""
		}
	}
	eventually(t, "dev-east's gates to open", gatesOpen(east, 3))
	for _, l := range east.Log.Messages("gate open: waiting for the required environments")[:3] {
		if l["waiting_for"] != "dev-west (no status)" {
			t.Errorf("gate open: %v", l)
		}
	}

	// dev-west: commit 2 fails its health check, commit 1 is underway.
	west.Accept(t, "", flux(2, "HealthCheckFailed", "Health check failed after 5m: [Deployment/default/podinfo]"))
	west.Accept(t, "", flux(1, "Progressing", progressingMessage))
	westPosted := func(i int, states ...string) func() string {
		return func() string {
			if got := side.westStatus(i); !slices.Contains(states, got) {
				return fmt.Sprintf("commit %d: dev-west/Status is %q", i, got)
			}
			return ""
		}
	}
	eventually(t, "dev-west's failure of commit 2", westPosted(2, "failure", "failed"))
	eventually(t, "dev-west's progress of commit 1", westPosted(1, "pending"))

	// dev-east's connector crashes with its gates open and starts again on
	// its data directory: every gate is read again at once.
	east.kill(t)
	for i := 1; i <= 3; i++ {
		if s, _ := side.told(i); s != 0 {
			t.Fatalf("commit %d: the pipeline was told success before dev-west deployed it", i)
		}
	}
	east2 := startGroupHost(t, eastOpts)
	eventually(t, "commit 2's failure to be told", func() string {
		if n := countFor(east, gateCommit(2), "gate decided: a required environment failed") +
			countFor(east2, gateCommit(2), "gate decided: a required environment failed"); n != 1 {
			return fmt.Sprintf("%d failure decisions", n)
		}
		return ""
	})
	eventually(t, "the gates of commits 1 and 3 to open again", gatesOpen(east2, 2))
	if s, _ := side.told(1); s != 0 {
		t.Fatal("commit 1: the pipeline was told success before dev-west deployed it")
	}

	// dev-west deploys commit 1; Flux repeats dev-east's success, which
	// reads commit 1's gate at once.
	west.Accept(t, "", succeeded(1))
	eventually(t, "dev-west's success of commit 1", westPosted(1, "success", "succeeded"))
	east2.Accept(t, "", succeeded(1))
	eventually(t, "commit 1's success to be told", func() string {
		if s, _ := side.told(1); s != 1 {
			return fmt.Sprintf("%d successes told", s)
		}
		return ""
	})

	// Commit 3: dev-west never reports; the gate is given up at the maximum
	// age, visibly.
	eventually(t, "commit 3's gate to be given up", func() string {
		if n := countFor(east2, gateCommit(3), "gate given up: the required environments did not all deploy the commit within the event's maximum age"); n != 1 {
			return fmt.Sprintf("%d give-ups", n)
		}
		return ""
	})
	gaveUp := east2.Log.Messages("gate given up: the required environments did not all deploy the commit within the event's maximum age")
	if gaveUp[0]["waiting_for"] != "dev-west (no status)" || gaveUp[0]["level"] != "ERROR" {
		t.Errorf("give-up line %v", gaveUp[0])
	}
	eventually(t, "the metrics to show the give-up and no open gate", func() string {
		all, _ := east2.scrape(t)
		if v := sample(all, "gitops_connector_given_up_total", map[string]string{"step": "gate", "reason": "MaxAgeExceeded"}); v != 1 {
			return fmt.Sprintf("given_up_total{step=gate} = %v", v)
		}
		if v := sample(all, "gitops_connector_gates_open", map[string]string{}); v != 0 {
			return fmt.Sprintf("gates_open = %v", v)
		}
		return ""
	})

	// Flux repeats dev-east's success of commit 2 and commit 1: nothing more.
	east2.Accept(t, "", succeeded(1))
	east2.Accept(t, "", succeeded(2))
	eventually(t, "the repeats to be delivered", func() string {
		if n := east2.Log.CountPrefixed("event delivered; the orchestrator was already told"); n < 2 {
			return fmt.Sprintf("%d repeats delivered", n)
		}
		return ""
	})
	for i, want := range map[int][2]int{1: {1, 0}, 2: {0, failuresTold}, 3: {0, 0}} {
		if s, f := side.told(i); s != want[0] || f != want[1] {
			t.Errorf("commit %d: the pipeline was told %d successes and %d failures, want %v", i, s, f, want)
		}
	}
	failureTold := 0
	for _, h := range []*host{east, east2} {
		for _, l := range h.Log.Lines() {
			if l["commit"] == gateCommit(2) && l["outcome"] == "failure" && slices.Contains([]any{"orchestrator notified", "orchestrator had nothing to notify"}, l["msg"]) {
				failureTold++
			}
		}
	}
	if failureTold != 1 {
		t.Errorf("commit 2's failure was told %d times, want once", failureTold)
	}
}

// countFor counts the log lines of h with message msg about commit.
func countFor(h *host, commit, msg string) int {
	n := 0
	for _, l := range h.Log.Messages(msg) {
		if l["commit"] == commit {
			n++
		}
	}
	return n
}
