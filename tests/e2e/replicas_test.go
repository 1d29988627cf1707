package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

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
