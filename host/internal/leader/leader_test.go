package leader

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type candidate struct {
	kv     *KV
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func campaign(t *testing.T, url, identity string) *candidate {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := &candidate{nc: nc, done: make(chan struct{}),
		kv: &KV{JetStream: js, Bucket: "leases", Key: "sweep", Identity: identity, TTL: 900 * time.Millisecond,
			Replicas: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { defer close(c.done); c.kv.Run(ctx) }()
	t.Cleanup(func() { c.stop(); nc.Close() })
	return c
}

// stop ends the campaign, releasing the lock.
func (c *candidate) stop() {
	c.cancel()
	<-c.done
}

// leaders returns the candidates that lead, checked over a while: never
// more than one at once.
func leaders(t *testing.T, cs []*candidate, over time.Duration) *candidate {
	t.Helper()
	var last *candidate
	for end := time.Now().Add(over); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var now []*candidate
		for _, c := range cs {
			if c.kv.Leading() {
				now = append(now, c)
			}
		}
		if len(now) > 1 {
			t.Fatalf("%d replicas lead at once", len(now))
		}
		if len(now) == 1 {
			last = now[0]
		}
	}
	return last
}

func TestOneReplicaLeadsAndAnotherTakesOverWhenItDiesOrLeaves(t *testing.T) {
	srv := natsserver.Single(t)
	cs := []*candidate{campaign(t, srv.URL(), "a"), campaign(t, srv.URL(), "b"), campaign(t, srv.URL(), "c")}
	first := leaders(t, cs, 2*time.Second)
	if first == nil {
		t.Fatal("no replica leads")
	}
	// Killed: its connection is gone, it renews nothing and releases
	// nothing; the lock expires.
	first.nc.Close()
	var rest []*candidate
	for _, c := range cs {
		if c != first {
			rest = append(rest, c)
		}
	}
	waitLeader(t, rest, 10*time.Second)
	second := leaders(t, rest, time.Second)
	if second == nil || first.kv.Leading() {
		t.Fatalf("after the leader died: %v leads, the dead one thinks it leads: %v", second, first.kv.Leading())
	}
	// Leaves: it releases the lock, and the last one takes it.
	second.stop()
	var last *candidate
	for _, c := range rest {
		if c != second {
			last = c
		}
	}
	waitLeader(t, []*candidate{last}, 5*time.Second)
}

func waitLeader(t *testing.T, cs []*candidate, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		for _, c := range cs {
			if c.kv.Leading() {
				return
			}
		}
	}
	t.Fatal("no replica took the lead")
}
