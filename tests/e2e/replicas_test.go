package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Three replicas on a 3-node JetStream cluster (docs/reliability.md,
// "Several replicas"): Flux's events are spread over the replicas, each
// sent again to the next replica as a sender's retry; mid-stream a host,
// or a NATS node, is killed.

const replicaCommits = 30

func TestReplicasSurviveAKilledHostDeliveringEveryAcceptedEventAndDispatchingEachOnce(t *testing.T) {
	runReplicas(t, func(t *testing.T, hosts []*host, _ *natsserver.Cluster) []*host {
		// The replica that dispatched is pinned to partitions: kill it.
		for i, h := range hosts {
			if len(h.Log.Messages("orchestrator notified")) > 0 {
				h.kill(t)
				return append(append([]*host{}, hosts[:i]...), hosts[i+1:]...)
			}
		}
		t.Fatal("no replica dispatched before the kill")
		return nil
	})
}

func TestReplicasSurviveAKilledNATSNode(t *testing.T) {
	runReplicas(t, func(t *testing.T, hosts []*host, cluster *natsserver.Cluster) []*host {
		cluster.Nodes[0].Stop()
		return hosts
	})
}

func runReplicas(t *testing.T, kill func(*testing.T, []*host, *natsserver.Cluster) []*host) {
	const told = 5 // dispatches that complete before the kill
	cluster := natsserver.NewCluster(t, 3)
	fake := newStreamGitHub(t, replicaCommits)
	killed := make(chan struct{})
	fake.Fail(func(c fakegithub.Call) *fakegithub.Fault {
		select {
		case <-killed:
		default:
			if c.Operation == fakegithub.OpDispatch && c.N > told {
				// In flight when the host dies: GitHub never carries it out.
				f := fakegithub.Hang()
				return &f
			}
		}
		return &fakegithub.Fault{Delay: 10 * time.Millisecond}
	})
	opts := groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX"),
		Args: []string{"--queue", cluster.URLs(), "--queue-ack-wait", "2s"}}}
	hosts := []*host{startGroupHost(t, opts), startGroupHost(t, opts), startGroupHost(t, opts)}
	post := func(live []*host, from, to int) {
		n := 0
		for i := from; i < to; i++ {
			for _, ev := range []struct {
				what string
				body []byte
			}{{"progressing", progressingEvent(i)}, {"succeeded", succeededEvent(i)}} {
				send(t, live[n%len(live)], ev.what, i, ev.body)
				send(t, live[(n+1)%len(live)], ev.what+" (sent again)", i, ev.body)
				n++
			}
		}
	}
	post(hosts, 0, replicaCommits/2)
	eventually(t, "the first dispatches recorded", func() string {
		n := 0
		for _, h := range hosts {
			n += len(h.Log.Messages("orchestrator notified"))
		}
		if n < told {
			return fmt.Sprintf("%d of %d", n, told)
		}
		return ""
	})
	if t.Failed() {
		t.FailNow()
	}
	live := kill(t, hosts, cluster)
	close(killed)
	post(live, replicaCommits/2, replicaCommits)
	eventually(t, "every commit dispatched", func() string {
		if n := len(dispatchesBySource(t, fake, replicaCommits)); n < replicaCommits {
			return fmt.Sprintf("%d of %d", n, replicaCommits)
		}
		return ""
	})
	eventually(t, "the stream to be empty", func() string {
		if n := streamMessages(t, cluster); n != 0 {
			return fmt.Sprintf("%d messages left", n)
		}
		return ""
	})
	checkDelivered(t, fake, hosts, replicaCommits)
	checkInOrder(t, fake, replicaCommits)
}

// checkInOrder fails when a commit's context went back to pending after it
// was finished: a Progressing event delivered after the commit's
// ReconciliationSucceeded.
func checkInOrder(t *testing.T, fake *fakegithub.Server, commits int) {
	t.Helper()
	for i := range commits {
		finished := map[string]bool{}
		var states []string
		for _, s := range fake.Statuses(owner, manifests, streamSHA(i)) {
			states = append(states, s.Context+"="+s.State)
			if s.State == "pending" && finished[s.Context] {
				t.Errorf("commit %d: statuses out of order: %v", i, states)
				break
			}
			finished[s.Context] = s.State != "pending"
		}
	}
}

// send posts an event as a sender does: again while the replica answers
// 503 (its JetStream node is gone and it reconnects), until 202.
func send(t *testing.T, h *host, what string, i int, body []byte) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		a := h.Post(t, "", body)
		switch {
		case a.Code == http.StatusAccepted:
			return
		case a.Code != http.StatusServiceUnavailable || time.Now().After(deadline):
			t.Errorf("%s event of commit %d: %d %s", what, i, a.Code, a.Raw)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streamMessages counts the events left in the connector's stream.
func streamMessages(t *testing.T, cluster *natsserver.Cluster) uint64 {
	t.Helper()
	nc, err := nats.Connect(cluster.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "gitops-connector-events")
	if err != nil {
		return 1 << 20 // not there yet
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 1 << 20
	}
	return info.State.Msgs
}

// The sweep runs on the replica holding the JetStream lock. Azure
// Pipelines' agentless tasks waiting on abandoned pull requests are what
// it completes (failed), so each task completed is one plan event the
// fake recorded.
func TestReplicasSweepOnOneAndAnotherTakesOverWhenTheLeaderIsKilled(t *testing.T) {
	cluster := natsserver.NewCluster(t, 3)
	fake := fakeazdo.New(t, fakeazdo.Options{})
	t.Cleanup(func() { fake.AssertValid(t) })
	fake.AddRepository(azdoRepo)
	abandon := func(from, to int) {
		for i := from; i < to; i++ {
			fake.AddPlan(fakeazdo.Plan{ID: sweptPlan(i), BuildID: 3000 + i, Jobs: map[string]string{jobID: fakeazdo.StateInProgress}})
			fake.AddPullRequest(fakeazdo.PullRequest{
				ID: 200 + i, Repository: azdoRepo, Title: "Deploy az-vote", Status: fakeazdo.PullRequestAbandoned,
				ClosedDate: time.Now(), Properties: map[string]string{"callback-task-id": fake.Callback(sweptPlan(i), jobID, taskID, 200+i)},
			})
		}
	}
	completed := func(n int) func() string {
		return func() string {
			if got := len(fake.Events()); got < n {
				return fmt.Sprintf("%d of %d tasks completed", got, n)
			}
			return ""
		}
	}
	leading := func(hosts []*host) []*host {
		var out []*host
		for _, h := range hosts {
			if len(h.Log.Messages("this replica leads: it runs the periodic work")) > 0 {
				out = append(out, h)
			}
		}
		return out
	}
	opts := groupOptions{hostOptions: hostOptions{Env: azdoEnv(fake, "FLUX"),
		Args: []string{"--queue", cluster.URLs(), "--sweep-interval", "1s"}}}
	hosts := []*host{startGroupHost(t, opts), startGroupHost(t, opts), startGroupHost(t, opts)}

	abandon(0, 4)
	eventually(t, "the leader's sweep", completed(4))
	leaders := leading(hosts)
	if len(leaders) != 1 {
		t.Fatalf("%d replicas led, want 1", len(leaders))
	}
	leader := leaders[0]
	// The leader is killed in the middle of a sweep: Azure DevOps holds
	// its completion of the next task, which never happens.
	fake.Fail(fakeazdo.RoutePostEvent, 1, fakeazdo.Fault{Delay: time.Hour})
	abandon(4, 8)
	eventually(t, "the leader's sweep to wait on a task completion", func() string {
		if fake.Held(fakeazdo.RoutePostEvent) == 0 {
			return "no completion held"
		}
		return ""
	})
	leader.kill(t)
	var live []*host
	for _, h := range hosts {
		if h != leader {
			live = append(live, h)
		}
	}
	// The lock expires and another replica sweeps: from the start, so it
	// meets the tasks the dead leader completed, and leaves them alone.
	eventually(t, "the new leader's sweep", completed(8))
	if leaders := leading(live); len(leaders) != 1 {
		t.Fatalf("%d live replicas led after the kill, want 1", len(leaders))
	}
	sweeps := len(fake.RequestsTo(fakeazdo.RouteListPullRequests))
	eventually(t, "two more sweeps", func() string {
		if n := len(fake.RequestsTo(fakeazdo.RouteListPullRequests)) - sweeps; n < 2 {
			return fmt.Sprintf("%d sweeps", n)
		}
		return ""
	})
	perPlan := map[string]int{}
	for _, e := range fake.Events() {
		if e.Name != "TaskCompleted" || e.JobID != jobID || e.TaskID != taskID || e.Result != "failed" {
			t.Errorf("plan event %+v, want the task failed", e)
		}
		perPlan[e.PlanID]++
	}
	for i := range 8 {
		if n := perPlan[sweptPlan(i)]; n != 1 {
			t.Errorf("the task of pull request %d completed %d times, want exactly once", 200+i, n)
		}
	}
}

// sweptPlan is the plan of the pipeline run waiting on abandoned pull
// request 200+i.
func sweptPlan(i int) string { return fmt.Sprintf("5a3e%04x-0c1d-4e2f-8a3b-%012x", i, i) }
