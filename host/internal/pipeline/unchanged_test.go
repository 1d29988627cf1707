package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// writes returns the writes counted so far.
func (w *writeCounter) writes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.adds + w.progress + w.done
}

func submitted(t *testing.T, p *Pipeline, j Job) Submitted {
	t.Helper()
	s, err := p.Submit(j)
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, p)
	return s
}

// A repeat of a finished commit whose statuses and outcome were delivered
// already is answered Unchanged without a write, a post or a notification;
// an event that differs (another outcome, another status) is recorded, and
// every outcome is told once.
func TestARepeatThatChangesNothingIsAnsweredWithoutAWrite(t *testing.T) {
	r := &recorder{}
	o := &observed{}
	st := &writeCounter{Store: NewMemoryStore()}
	p := newTestPipeline(t, r, func(opts *Options) { opts.Store, opts.Observer = st, o })
	success, failure := finished(testConfig, commitA, true), finished(testConfig, commitA, false)
	progressing := Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}}
	for i, step := range []struct {
		job  Job
		want Submitted
	}{
		{success, Recorded}, {success, Unchanged}, {success, Unchanged},
		{failure, Recorded}, {failure, Unchanged},
		{success, Recorded}, {success, Unchanged},
		{progressing, Recorded}, {success, Recorded}, {success, Unchanged},
	} {
		before := st.writes()
		if got := submitted(t, p, step.job); got != step.want {
			t.Fatalf("step %d: %v, want %v", i, got, step.want)
		}
		if wrote := st.writes() - before; step.want == Unchanged && wrote != 0 {
			t.Fatalf("step %d: %d writes for an event that changes nothing", i, wrote)
		}
	}
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if want := []string{"aaaaaaa/Status=ReconciliationSucceeded", "aaaaaaa/Status=HealthCheckFailed",
		"aaaaaaa/Status=ReconciliationSucceeded", "aaaaaaa/Status=Progressing", "aaaaaaa/Status=ReconciliationSucceeded"}; !slices.Equal(posted, want) {
		t.Errorf("posted %v, want %v", posted, want)
	}
	if want := []string{"aaaaaaa:success", "aaaaaaa:failure"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
	unchanged := 0
	for _, s := range o.statuses {
		if s == "GITHUB/"+StatusUnchanged {
			unchanged++
		}
	}
	if unchanged < 5 {
		t.Errorf("statuses observed %v: the 5 unanswered repeats' statuses are not counted unchanged", o.statuses)
	}
}

// A repeat that changes nothing by itself is still recorded and queued
// when a job of its pair is in flight or waiting, so the pair's jobs are
// delivered in order.
func TestARepeatBehindAJobOfItsCommitIsQueuedInOrder(t *testing.T) {
	r := &recorder{block: map[string]chan struct{}{}, blockedAt: make(chan string, 1)}
	p := newTestPipeline(t, r)
	success := finished(testConfig, commitA, true)
	if submitted(t, p, success) != Recorded {
		t.Fatal("the first event was not recorded")
	}
	release := make(chan struct{})
	r.mu.Lock()
	r.block["Deployment"] = release
	r.mu.Unlock()
	// In flight: a status of another context, then the repeat behind it.
	submit(t, p, Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: false,
		Statuses: []sdk.Status{status("Deployment", "Failed", sdk.StateFailed)}})
	<-r.blockedAt
	if got, err := p.Submit(success); err != nil || got != Recorded {
		t.Fatalf("the repeat behind a job in flight: %v, %v; want it recorded", got, err)
	}
	close(release)
	waitIdle(t, p)
	closeAndWait(t, p)
	_, notified := r.snapshot()
	if want := []string{"aaaaaaa:success", "aaaaaaa:failure"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
}

// After a restart nothing is known in memory: the first repeat is
// recorded and delivered (it posts and tells nothing), the next ones are
// not recorded.
func TestAfterARestartTheFirstRepeatIsRecordedAndTellsNothing(t *testing.T) {
	r := &recorder{}
	st := &writeCounter{Store: NewMemoryStore()}
	p := newTestPipeline(t, r, restartOn(st))
	success := finished(testConfig, commitA, true)
	submitted(t, p, success)
	closeAndWait(t, p)
	p = newTestPipeline(t, r, restartOn(st))
	if got := submitted(t, p, success); got != Recorded {
		t.Fatalf("first repeat after a restart: %v", got)
	}
	if got := submitted(t, p, success); got != Unchanged {
		t.Fatalf("second repeat after a restart: %v", got)
	}
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if len(posted) != 1 || !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Errorf("posted %v, notified %v: a repeat posted or told again", posted, notified)
	}
}

// Repeats that are not recorded never let the pair's state be pruned
// under them: once it is half its TTL old a repeat is recorded again,
// which renews it; a state the store pruned is forgotten in memory too.
func TestUnrecordedRepeatsDoNotLetTheStateBePruned(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	mem := NewMemoryStore()
	mem.now = clock
	r := &recorder{}
	const ttl = 24 * time.Hour
	p := newPipeline(t, r, func(opts *Options) {
		opts.Store, opts.StateTTL, opts.PruneInterval = mem, ttl, time.Hour
	})
	p.now = clock
	p.Start()
	success := finished(testConfig, commitA, true)
	submitted(t, p, success)
	for _, step := range []struct {
		after time.Duration
		want  Submitted
	}{
		{ttl/2 - time.Minute, Unchanged},
		{2 * time.Minute, Recorded}, // half the TTL since the last write: renewed
		{time.Minute, Unchanged},
		{ttl/2 - 2*time.Minute, Unchanged},
	} {
		advance(step.after)
		if got := submitted(t, p, success); got != step.want {
			t.Fatalf("after %v: %v, want %v", step.after, got, step.want)
		}
	}
	// The store prunes what was not renewed for a TTL: nothing here.
	if n, err := mem.Prune(clock().Add(-ttl)); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v): a state renewed within the TTL was pruned", n, err)
	}
	// A state the store pruned (here: after a TTL without events) is
	// forgotten in memory: the next event is recorded and delivered as new.
	advance(ttl + time.Minute)
	n, err := mem.Prune(clock().Add(-ttl))
	if err != nil || n != 2 { // the pair's and the config's own
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	p.forgetPruned(n)
	if got := submitted(t, p, success); got != Recorded {
		t.Fatalf("after the state was pruned: %v, want it recorded", got)
	}
	closeAndWait(t, p)
	_, notified := r.snapshot()
	if want := []string{"aaaaaaa:success", "aaaaaaa:success"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v (told again only once its state was pruned)", notified, want)
	}
}

// What makes a repeat of a finished, told commit change something after
// all: each case is recorded rather than answered Unchanged.
func TestChangesNothingOnlyWhenNothingCanChange(t *testing.T) {
	success := finished(testConfig, commitA, true)
	told := State{Finished: true, Walked: true, Notified: map[string]bool{outcomeSuccess: true},
		Posted: map[string]string{"Status": fingerprint(success.Statuses[0])}}
	gated := finished(gatekeeper, commitA, true)
	statusesOnly := finished(testConfig, commitA, true)
	statusesOnly.Config.OrchestratorType = ""
	for _, tc := range []struct {
		name  string
		job   Job
		state func(State) State
		setup func(p *Pipeline)
		want  bool
		age   time.Duration // of the state in memory
	}{
		{"told, walked, same status", success, nil, nil, true, 0},
		{"statuses only: nothing to tell or walk", statusesOnly, func(s State) State { s.Notified, s.Walked = nil, false; return s }, nil, true, 0},
		{"another outcome", finished(testConfig, commitA, false), nil, nil, false, 0},
		{"a status that differs", Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}}, nil, nil, false, 0},
		{"not walked yet", success, func(s State) State { s.Walked = false; return s }, nil, false, 0},
		{"not finished", success, func(s State) State { s.Finished = false; return s }, nil, false, 0},
		{"told as a skipped commit only", success, func(s State) State { s.DeployedWith = commitB; return s }, nil, false, 0},
		{"a gate to read: a failure may be told", gated, nil, nil, false, 0},
		{"a gate with both outcomes told", gated, func(s State) State { s.Notified[outcomeFailure] = true; return s }, nil, true, 0},
		{"the pair's gate is open", success, nil, func(p *Pipeline) {
			p.gates.Open(success.Key(), commitA, &entry{}, time.Hour)
		}, false, 0},
		{"a job of the pair is queued", success, nil, func(p *Pipeline) {
			p.queues[success.Key()] = &queue{}
		}, false, 0},
		{"the state is half its TTL old", success, nil, nil, false, 7 * 24 * time.Hour / 2},
		{"the state is younger", success, nil, nil, true, 7*24*time.Hour/2 - time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, &recorder{})
			defer p.gates.Stop()
			st := told.clone()
			if tc.state != nil {
				st = tc.state(st)
			}
			p.cacheState(tc.job.Key(), st)
			if tc.age > 0 {
				s, _ := p.states.Get(tc.job.Key())
				s.Updated = p.now().Add(-tc.age)
				p.states.Add(tc.job.Key(), s)
			}
			if tc.setup != nil {
				tc.setup(p)
			}
			p.mu.Lock()
			got := p.changesNothing(tc.job, tc.job.Key())
			p.mu.Unlock()
			if got != tc.want {
				t.Errorf("changesNothing = %v, want %v", got, tc.want)
			}
		})
	}
	// A shared store's replicas do not see each other's queued jobs.
	p := newPipeline(t, &recorder{})
	defer p.gates.Stop()
	p.shared = sharedStore{p.opts.Store}
	p.cacheState(success.Key(), told)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changesNothing(success, success.Key()) {
		t.Error("changesNothing with a shared store")
	}
}

// sharedStore is a Store posing as a Shared one.
type sharedStore struct{ Store }

func (sharedStore) Consume(context.Context, func(Record) bool) error { return nil }

// The finish of a new commit whose deployment covers no skipped commit
// takes the claim before notifying, the removal and the config's last
// deployed commit: the commits are listed before the notification, so the
// told state needs no write of its own; with covered commits it is
// recorded before their jobs are added.
func TestTheFinishOfANewCommitListsBeforeNotifyingAndRecordsOnce(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		last                   string
		wantProgress, wantDone int
	}{
		{"nothing skipped", id('2'), 1, 2},
		{"two commits skipped", id('0'), 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraph()
			_, _, _, c3 := history(g)
			mem := NewMemoryStore()
			if err := mem.Done(Record{ConfigKey: testConfig.Key()}, &State{LastFinished: tc.last}); err != nil {
				t.Fatal(err)
			}
			st := &writeCounter{Store: durableMemory{mem}}
			p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store = g, st })
			submit(t, p, finished(testConfig, c3, true))
			waitIdle(t, p)
			st.mu.Lock()
			progress, done := st.progress, st.done
			st.mu.Unlock()
			closeAndWait(t, p)
			// The covered jobs' writes come on top: each its claim and
			// its removal.
			skipped := 0
			if tc.last == id('0') {
				skipped = 2
			}
			if progress != tc.wantProgress+skipped || done != tc.wantDone+skipped {
				t.Errorf("%d progress, %d done; want %d, %d", progress, done, tc.wantProgress+skipped, tc.wantDone+skipped)
			}
			if _, notified := g.snapshot(); len(notified) != 1+skipped {
				t.Errorf("notified %v", notified)
			}
		})
	}
}

// flakyList is a graphRecorder whose first listings fail with a retryable
// error.
type flakyList struct {
	*graphRecorder
	fails int
}

func (f *flakyList) Repository(string) (sdk.Repository, error)     { return f, nil }
func (f *flakyList) Orchestrator(string) (sdk.Orchestrator, error) { return f, nil }

func (f *flakyList) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	f.gmu.Lock()
	fail := f.fails > 0
	if fail {
		f.fails--
		f.lists++
	}
	f.gmu.Unlock()
	if fail {
		return sdk.CommitList{}, sdk.Retryable(errors.New("502 from the repository"), 0)
	}
	return f.graphRecorder.ListCommits(ctx, req)
}

// A listing that fails before the notification does not hold it up: the
// deployment is told at once, the listing is retried after it (the told
// state recorded first), and the covered commits are told.
func TestAListingThatFailsBeforeTheNotificationIsRetriedAfterIt(t *testing.T) {
	g := &flakyList{graphRecorder: newGraph(), fails: 1}
	c0, _, _, c3 := history(g.graphRecorder)
	mem := NewMemoryStore()
	if err := mem.Done(Record{ConfigKey: testConfig.Key()}, &State{LastFinished: c0}); err != nil {
		t.Fatal(err)
	}
	p := newTestPipeline(t, g.recorder, func(opts *Options) {
		opts.Plugins, opts.Store, opts.InitialBackoff = g, mem, time.Millisecond
	})
	deliverAll(t, p, finished(testConfig, c3, true))
	closeAndWait(t, p)
	_, notified := g.snapshot()
	// The covered commits are pairs of their own, told in parallel after
	// the deployment.
	if want := []string{"3333333:success", "1111111:success with 3333333", "2222222:success with 3333333"}; len(notified) != 3 ||
		notified[0] != want[0] || !slices.Equal(sorted(notified), sorted(want)) {
		t.Errorf("notified %v, want %v", notified, want)
	}
	if g.listCalls() != 2 {
		t.Errorf("%d listings, want 2 (one failed before the notification, one after)", g.listCalls())
	}
	if got := lastDeployed(t, mem); got != c3 {
		t.Errorf("last deployed %s, want %s", got, c3)
	}
}

// The fingerprint of a status is stored in every pair's state (Posted): a
// state written before an upgrade must still tell the same status as
// unchanged, so its form may not change.
func TestTheFingerprintOfAStatusKeepsItsStoredForm(t *testing.T) {
	s := sdk.Status{Name: "Status", State: sdk.StatePending, RawState: "DependencyNotReady", Description: "dependency 'infra' is not ready"}
	if got, want := fingerprint(s), "pending\x00DependencyNotReady\x00dependency 'infra' is not ready"; got != want {
		t.Fatalf("fingerprint %q, want %q", got, want)
	}
}
