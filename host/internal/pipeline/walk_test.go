package pipeline

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// heldGraph is a graphRecorder whose listings wait until held of them are
// in flight at once (or a second passed: then overlapped stays false), and
// that can run a hook while a listing is in flight.
type heldGraph struct {
	*graphRecorder
	held       int
	mu         sync.Mutex
	inFlight   int
	overlapped bool
	arrived    chan struct{}
	during     func(req sdk.ListCommitsRequest)
}

func (h *heldGraph) Repository(string) (sdk.Repository, error)     { return h, nil }
func (h *heldGraph) Orchestrator(string) (sdk.Orchestrator, error) { return h, nil }

func (h *heldGraph) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	h.mu.Lock()
	h.inFlight++
	if h.inFlight == h.held && !h.overlapped {
		h.overlapped = true
		close(h.arrived)
	}
	during := h.during
	h.mu.Unlock()
	if h.held > 1 {
		select {
		case <-h.arrived:
		case <-time.After(time.Second):
		}
	}
	if during != nil {
		during(req)
	}
	list, err := h.graphRecorder.ListCommits(ctx, req)
	h.mu.Lock()
	h.inFlight--
	h.mu.Unlock()
	return list, err
}

func lastDeployed(t *testing.T, st Store) string {
	t.Helper()
	s, err := st.State(configStateKey(testConfig.Key()))
	if err != nil {
		t.Fatal(err)
	}
	return s.LastFinished
}

// Two deployments of one config that finish together list their commits
// at once (a slow repository does not make them finish one after the
// other), and the second to move the config's last deployed commit is
// answered from what the listings showed: no listing more, nothing told
// twice, the newest commit last.
func TestDeploymentsOfAConfigFinishingTogetherListAtOnceAndCoverEachCommitOnce(t *testing.T) {
	g := &heldGraph{graphRecorder: newGraph(), held: 2, arrived: make(chan struct{})}
	c0, _, c2, c3 := history(g.graphRecorder)
	st := NewMemoryStore()
	p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store = g, st })
	deliverAll(t, p, finished(testConfig, c0, true))
	submit(t, p, finished(testConfig, c2, true), finished(testConfig, c3, true))
	waitIdle(t, p)
	closeAndWait(t, p)

	if !g.overlapped {
		t.Error("the two listings did not overlap: the walk lock was held across the listing")
	}
	if g.listCalls() != 2 {
		t.Errorf("%d listings, want 2 (none again for the second)", g.listCalls())
	}
	if got := lastDeployed(t, st); got != c3 {
		t.Errorf("last deployed %s, want %s", got, c3)
	}
	_, notified := g.snapshot()
	told := map[string]int{}
	for _, n := range notified {
		told[n[:7]]++
	}
	// c1 is covered by whichever of c2 and c3 moved the base first; c2
	// tells its own outcome and, when c3 covered it first, the one it got
	// from c3 (the same outcome: told once).
	if told["1111111"] != 1 || told["2222222"] < 1 || told["3333333"] != 1 || told["0000000"] != 1 {
		t.Errorf("notified %v: every commit must be told once", notified)
	}
	for _, n := range notified {
		if n == "2222222:success with 3333333" && slices.Contains(notified, "2222222:success") {
			t.Errorf("c2 told success twice: %v", notified)
		}
	}
}

// A repeat of a finished commit whose finish walked already (Flux repeats
// ReconciliationSucceeded every interval) lists nothing, whether or not it
// is the config's last deployed commit, also after a restart.
func TestARepeatOfAWalkedCommitListsNothing(t *testing.T) {
	g := newGraph()
	c0, _, c2, c3 := history(g)
	st := NewMemoryStore()
	p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store = g, st })
	deliverAll(t, p, finished(testConfig, c0, true), finished(testConfig, c2, true), finished(testConfig, c3, true))
	if g.listCalls() != 2 {
		t.Fatalf("%d listings, want 2", g.listCalls())
	}
	deliverAll(t, p, finished(testConfig, c2, true), finished(testConfig, c3, true), finished(testConfig, c0, true))
	closeAndWait(t, p)
	p = newTestPipeline(t, g.recorder, func(opts *Options) {
		opts.Plugins = g
		restartOn(st)(opts)
	})
	deliverAll(t, p, finished(testConfig, c2, true), finished(testConfig, c0, true))
	closeAndWait(t, p)
	if g.listCalls() != 2 {
		t.Errorf("%d listings, want 2: the repeats listed again", g.listCalls())
	}
	if got := lastDeployed(t, st); got != c3 {
		t.Errorf("last deployed %s, want %s", got, c3)
	}
	_, notified := g.snapshot()
	if want := []string{"0000000:success", "2222222:success", "1111111:success with 2222222", "3333333:success"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
}

// When another replica moves the config's last deployed commit while this
// one lists, the walk is answered again from the new one: from the listing
// when the new one is in it, else by listing again.
func TestAWalkWhoseBaseMovedMeanwhileIsAnsweredFromTheNewBase(t *testing.T) {
	for _, tc := range []struct {
		name      string
		moveTo    func(c1 string) string
		listings  int
		wantTold  []string
		wantFinal string
	}{
		{"to a commit the listing shows", func(c1 string) string { return c1 }, 1,
			[]string{"0000000:success", "3333333:success", "2222222:success with 3333333"}, id('3')},
		{"to a commit it does not show", func(string) string { return id('x') }, 2,
			[]string{"0000000:success", "3333333:success"}, id('3')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &heldGraph{graphRecorder: newGraph(), held: 1, arrived: make(chan struct{})}
			c0, c1, _, c3 := history(g.graphRecorder)
			g.commit(id('x'), time.Now(), c0) // another line: c3 does not descend from it
			st := NewMemoryStore()
			p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store = g, st })
			deliverAll(t, p, finished(testConfig, c0, true))
			moved := false
			g.during = func(req sdk.ListCommitsRequest) {
				if !moved { // as another replica would, during the first listing
					moved = true
					if err := st.Done(Record{ConfigKey: testConfig.Key()}, &State{LastFinished: tc.moveTo(c1)}); err != nil {
						t.Error(err)
					}
					p.states.Remove(configStateKey(testConfig.Key())) // a shared store is read every time

				}
			}
			deliverAll(t, p, finished(testConfig, c3, true))
			closeAndWait(t, p)
			if g.listCalls() != tc.listings {
				t.Errorf("%d listings, want %d", g.listCalls(), tc.listings)
			}
			_, notified := g.snapshot()
			if !slices.Equal(notified, tc.wantTold) {
				t.Errorf("notified %v, want %v", notified, tc.wantTold)
			}
			if got := lastDeployed(t, st); got != tc.wantFinal {
				t.Errorf("last deployed %s, want %s", got, tc.wantFinal)
			}
		})
	}
}
