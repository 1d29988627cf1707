package sweep

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// countingOrchestrator records the sweeps in progress per config revision.
type countingOrchestrator struct {
	sdk.UnimplementedOrchestrator
	mu        sync.Mutex
	running   map[string]int // config key → sweeps in progress
	maxAtOnce int
	calls     map[string]int // revision → calls
	since     []time.Time
	unimpl    bool
	// unimplCalls counts the calls answered ErrUnimplemented.
	unimplCalls int
}

func (o *countingOrchestrator) Sweep(ctx context.Context, req sdk.SweepRequest, _ sdk.Repository) (sdk.SweepResult, error) {
	if o.unimpl {
		o.mu.Lock()
		o.unimplCalls++
		o.mu.Unlock()
		return sdk.SweepResult{}, sdk.ErrUnimplemented
	}
	key := req.Config.Name
	o.mu.Lock()
	o.running[key]++
	o.maxAtOnce = max(o.maxAtOnce, o.running[key])
	o.calls[req.Config.Revision]++
	o.since = append(o.since, req.Since)
	o.mu.Unlock()
	time.Sleep(time.Millisecond)
	o.mu.Lock()
	o.running[key]--
	o.mu.Unlock()
	return sdk.SweepResult{Until: time.Unix(int64(len(o.since)), 0)}, nil
}

// waitFor polls cond (under the lock) until it holds.
func (o *countingOrchestrator) waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		ok := cond()
		o.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func (o *countingOrchestrator) Repository(string) (sdk.Repository, error) {
	return sdk.UnimplementedRepository{}, nil
}
func (o *countingOrchestrator) Orchestrator(string) (sdk.Orchestrator, error) { return o, nil }

func azdo(name, repo string) config.Config {
	c, _ := config.FromSpec(name, "", map[string]any{"gitRepositoryType": "AZDO", "ciCdOrchestratorType": "AZDO",
		"gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "azdoGitOpsRepoName": repo})
	return c
}

func TestOneWorkerPerConfigAcrossUpdates(t *testing.T) {
	o := &countingOrchestrator{running: map[string]int{}, calls: map[string]int{}}
	r := &Runner{Plugins: o, Interval: 2 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	v1, v2 := azdo("c", "repo-1"), azdo("c", "repo-2")
	r.Reconcile([]config.Config{v1})
	o.waitFor(t, func() bool { return o.calls[v1.Revision()] > 0 })
	r.Reconcile([]config.Config{v2}) // an update replaces the worker
	if r.Workers() != 1 {
		t.Fatalf("%d workers after an update, want 1", r.Workers())
	}
	o.mu.Lock()
	before := o.calls[v1.Revision()]
	o.mu.Unlock()
	o.waitFor(t, func() bool { return o.calls[v2.Revision()] > 1 })
	o.mu.Lock()
	after := o.calls[v1.Revision()]
	o.mu.Unlock()
	if after != before {
		t.Fatalf("the old config's worker still sweeps after the update (%d → %d calls)", before, after)
	}
	r.Reconcile(nil) // deleted
	if r.Workers() != 0 {
		t.Fatalf("%d workers after delete", r.Workers())
	}
	if o.maxAtOnce != 1 {
		t.Fatalf("%d sweeps of one config ran at once", o.maxAtOnce)
	}
}

func TestSinceIsTheUntilOfThePreviousSweep(t *testing.T) {
	o := &countingOrchestrator{running: map[string]int{}, calls: map[string]int{}}
	r := &Runner{Plugins: o, Interval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.Reconcile([]config.Config{azdo("c", "repo")})
	o.waitFor(t, func() bool { return len(o.since) >= 3 })
	r.Stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.since) < 3 || !o.since[0].IsZero() || o.since[1] != time.Unix(1, 0) || o.since[2] != time.Unix(2, 0) {
		t.Fatalf("since values %v", o.since)
	}
}

func TestAnOrchestratorWithoutSweepIsNotCalledAgain(t *testing.T) {
	o := &countingOrchestrator{running: map[string]int{}, calls: map[string]int{}, unimpl: true}
	r := &Runner{Plugins: o, Interval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.Reconcile([]config.Config{azdo("c", "repo")})
	o.waitFor(t, func() bool { return o.unimplCalls == 1 })
	time.Sleep(20 * time.Millisecond)               // twenty intervals
	r.Reconcile([]config.Config{azdo("c", "repo")}) // unchanged: the finished worker is kept, not restarted
	r.Stop()
	if o.unimplCalls != 1 {
		t.Fatalf("an orchestrator without sweep was called %d times, want 1", o.unimplCalls)
	}
}

type flag struct{ on atomic.Bool }

func (f *flag) Leading() bool { return f.on.Load() }

func TestOnlyTheLeadingReplicaSweepsAndANewLeadSweepsFromTheStart(t *testing.T) {
	o := &countingOrchestrator{running: map[string]int{}, calls: map[string]int{}}
	lead := &flag{}
	r := &Runner{Plugins: o, Interval: time.Millisecond, Leader: lead, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c := azdo("c", "repo")
	r.Reconcile([]config.Config{c})
	defer r.Stop()
	time.Sleep(50 * time.Millisecond) // 50 intervals
	o.mu.Lock()
	if n := o.calls[c.Revision()]; n != 0 {
		t.Fatalf("a replica that does not lead swept %d times", n)
	}
	o.mu.Unlock()
	lead.on.Store(true)
	o.waitFor(t, func() bool { return o.calls[c.Revision()] > 2 })
	lead.on.Store(false)
	o.mu.Lock()
	n := len(o.since)
	o.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	lead.on.Store(true)
	o.waitFor(t, func() bool { return len(o.since) > n+1 })
	o.mu.Lock()
	defer o.mu.Unlock()
	// The sweep in flight when the lead was lost may end after it; the
	// first sweep of the new lead starts from nothing.
	for i := n; i < len(o.since); i++ {
		if o.since[i].IsZero() {
			return
		}
	}
	t.Fatalf("after a new lead, no sweep started from the start: %v", o.since[n:])
}
