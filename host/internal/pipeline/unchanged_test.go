package pipeline

import (
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
