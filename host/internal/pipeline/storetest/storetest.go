// Package storetest is the conformance suite of pipeline.Store: what the
// pipeline relies on from every store (bbolt, memory, JetStream), run by
// each store's tests with Run.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Backend opens stores for the suite.
type Backend struct {
	// Open returns an empty store; the suite closes nothing (the backend
	// registers its cleanup with t).
	Open func(t *testing.T) pipeline.Store
	// Reopen, when set, returns a store on the same data as s after s was
	// closed, as a restart does; durable stores set it.
	Reopen func(t *testing.T, s pipeline.Store) pipeline.Store
	// Peer, when set, returns another replica's store on the same data as
	// s, both open: shared stores set it.
	Peer func(t *testing.T, s pipeline.Store) pipeline.Store
}

const (
	commitA = "aaaaaaa0000000000000000000000000000000000"
	commitB = "bbbbbbb0000000000000000000000000000000000"
)

// Record returns a record of config flux-system/podinfo with a pending
// status per name.
func Record(id, commit string, statuses ...string) pipeline.Record {
	r := pipeline.Record{ID: id, ConfigKey: "flux-system/podinfo", CommitID: commit,
		Received: time.Date(2026, 11, 24, 10, 15, 42, 123456789, time.UTC), DedupID: "dedup-" + id}
	for _, s := range statuses {
		r.Statuses = append(r.Statuses, sdk.Status{Name: s, State: sdk.StatePending, RawState: "Progressing",
			Description: "Deployment/default/podinfo configured", Genre: "Kustomization", Operator: "Flux"})
	}
	return r
}

// Run runs the suite against b.
func Run(t *testing.T, b Backend) {
	t.Run("AddNumbersRecordsInArrivalOrderAndPendingReturnsEveryField", func(t *testing.T) { addAndPending(t, b) })
	t.Run("ProgressRecordsTheNextStatusAndThePairStateTogether", func(t *testing.T) { progress(t, b) })
	t.Run("DoneRemovesTheJobAndRecordsTheStateOnlyWhenGiven", func(t *testing.T) { done(t, b) })
	t.Run("StateOfAnUnknownPairIsZero", func(t *testing.T) { unknownState(t, b) })
	t.Run("PruneDeletesOnlyStatesIdleSinceTheCutoff", func(t *testing.T) { prune(t, b) })
	t.Run("ConcurrentAddsAreEachRecordedOnce", func(t *testing.T) { concurrentAdds(t, b) })
	if b.Reopen != nil {
		t.Run("RecordsAndStatesSurviveAReopen", func(t *testing.T) { reopen(t, b) })
	}
	if b.Peer != nil {
		t.Run("ARetriedNotificationIsRecordedOnce", func(t *testing.T) { dedup(t, b) })
		t.Run("AStateChangedByAnotherReplicaIsNotOverwritten", func(t *testing.T) { conflict(t, b) })
		t.Run("AReplicaSeesTheJobsAndStatesAnotherRecorded", func(t *testing.T) { peerSees(t, b) })
	}
}

func pending(t *testing.T, s pipeline.Store) []pipeline.Record {
	t.Helper()
	got, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func add(t *testing.T, s pipeline.Store, r pipeline.Record) pipeline.Record {
	t.Helper()
	seq, err := s.Add(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = seq
	return r
}

func state(t *testing.T, s pipeline.Store, key string) pipeline.State {
	t.Helper()
	st, err := s.State(key)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// same compares records, ignoring DedupID (stores that are not shared
// need not keep it) and the time zone of Received.
func same(t *testing.T, got, want []pipeline.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Received.Equal(w.Received) {
			t.Errorf("record %d received %v, want %v", i, g.Received, w.Received)
		}
		g.Received, w.Received, g.DedupID, w.DedupID = time.Time{}, time.Time{}, "", ""
		if !reflect.DeepEqual(g, w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func addAndPending(t *testing.T, b Backend) {
	s := b.Open(t)
	if got := pending(t, s); len(got) != 0 {
		t.Fatalf("a new store holds %d records", len(got))
	}
	one := Record("e1", commitA, "podinfo", "ingress")
	one.Finished, one.Successful = true, true
	a := add(t, s, one)
	c := add(t, s, Record("e2", commitB))
	d := add(t, s, Record("e3", commitA, "podinfo"))
	if !(a.Seq < c.Seq && c.Seq < d.Seq) {
		t.Fatalf("sequence numbers %d, %d, %d do not grow", a.Seq, c.Seq, d.Seq)
	}
	same(t, pending(t, s), []pipeline.Record{a, c, d})
	if err := s.Check(); err != nil {
		t.Fatalf("Check of a store that takes writes: %v", err)
	}
}

func progress(t *testing.T, b Backend) {
	s := b.Open(t)
	r := add(t, s, Record("e1", commitA, "podinfo", "ingress", "db"))
	st := state(t, s, r.Key())
	st.Posted = map[string]string{"podinfo": "fp1"}
	r.Next = 1
	if err := s.Progress(r, st); err != nil {
		t.Fatal(err)
	}
	st.Posted["ingress"] = "fp2"
	r.Next = 2
	if err := s.Progress(r, st); err != nil {
		t.Fatal(err)
	}
	same(t, pending(t, s), []pipeline.Record{r})
	got := state(t, s, r.Key())
	if !reflect.DeepEqual(got.Posted, map[string]string{"podinfo": "fp1", "ingress": "fp2"}) || got.Finished {
		t.Fatalf("state %+v", got)
	}
	if got.Updated.IsZero() {
		t.Fatal("the store did not set Updated")
	}
}

func done(t *testing.T, b Backend) {
	s := b.Open(t)
	r1 := add(t, s, Record("e1", commitA, "podinfo"))
	r2 := add(t, s, Record("e2", commitA, "podinfo"))
	r3 := add(t, s, Record("e3", commitB, "podinfo"))
	st := state(t, s, r1.Key())
	st.Finished = true
	st.Posted = map[string]string{"podinfo": "fp"}
	st.Notified = map[string]bool{"success": true}
	st.Walked = true
	if err := s.Done(r1, &st); err != nil {
		t.Fatal(err)
	}
	same(t, pending(t, s), []pipeline.Record{r2, r3})
	got := state(t, s, r1.Key())
	if !got.Finished || !got.Notified["success"] || got.Notified["failure"] || got.Posted["podinfo"] != "fp" || !got.Walked {
		t.Fatalf("state after Done: %+v", got)
	}
	// Dropped: removed without a state.
	if err := s.Done(r3, nil); err != nil {
		t.Fatal(err)
	}
	same(t, pending(t, s), []pipeline.Record{r2})
	if got := state(t, s, r3.Key()); got.Finished || len(got.Posted) > 0 || !got.Updated.IsZero() {
		t.Fatalf("Done without a state recorded one: %+v", got)
	}
	if got := state(t, s, r1.Key()); !got.Finished {
		t.Fatalf("the pair's state was lost: %+v", got)
	}
}

func unknownState(t *testing.T, b Backend) {
	s := b.Open(t)
	st := state(t, s, "flux-system/podinfo@"+commitB)
	if st.Finished || len(st.Posted) > 0 || len(st.Notified) > 0 || !st.Updated.IsZero() {
		t.Fatalf("state of an unknown pair: %+v", st)
	}
}

func prune(t *testing.T, b Backend) {
	s := b.Open(t)
	r := add(t, s, Record("e1", commitA))
	st := state(t, s, r.Key())
	st.Finished = true
	if err := s.Done(r, &st); err != nil {
		t.Fatal(err)
	}
	written := state(t, s, r.Key()).Updated
	if n, err := s.Prune(written.Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("Prune before the last change deleted %d (%v)", n, err)
	}
	if !state(t, s, r.Key()).Finished {
		t.Fatal("a state changed after the cutoff was pruned")
	}
	if n, err := s.Prune(written.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Prune after the last change deleted %d (%v), want 1", n, err)
	}
	if st := state(t, s, r.Key()); st.Finished {
		t.Fatalf("a pruned state is still there: %+v", st)
	}
}

func concurrentAdds(t *testing.T, b Backend) {
	s := b.Open(t)
	const n = 100
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			seq, err := s.Add(Record(fmt.Sprintf("e%03d", i), commitA))
			seqs[i] = seq
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := pending(t, s)
	if len(got) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
	byID := map[string]uint64{}
	for _, r := range got {
		byID[r.ID] = r.Seq
	}
	for i, seq := range seqs {
		if byID[fmt.Sprintf("e%03d", i)] != seq {
			t.Fatalf("record e%03d has sequence %d, Add said %d", i, byID[fmt.Sprintf("e%03d", i)], seq)
		}
	}
}

func reopen(t *testing.T, b Backend) {
	s := b.Open(t)
	r1 := add(t, s, Record("e1", commitA, "podinfo", "ingress"))
	r2 := add(t, s, Record("e2", commitB, "podinfo"))
	st := state(t, s, r1.Key())
	st.Posted = map[string]string{"podinfo": "fp"}
	r1.Next = 1
	if err := s.Progress(r1, st); err != nil {
		t.Fatal(err)
	}
	s = b.Reopen(t, s)
	same(t, pending(t, s), []pipeline.Record{r1, r2})
	if got := state(t, s, r1.Key()); got.Posted["podinfo"] != "fp" {
		t.Fatalf("state after reopen: %+v", got)
	}
	r3 := add(t, s, Record("e3", commitA))
	if r3.Seq <= r2.Seq {
		t.Fatalf("a record added after the reopen has sequence %d, not after %d", r3.Seq, r2.Seq)
	}
}

func dedup(t *testing.T, b Backend) {
	s := b.Open(t)
	peer := b.Peer(t, s)
	r := Record("e1", commitA, "podinfo")
	first := add(t, s, r)
	retry := r
	retry.ID = "e1-retry" // a new request, the same notification
	again := add(t, peer, retry)
	if again.Seq != first.Seq {
		t.Fatalf("the retry was recorded as %d, the notification as %d", again.Seq, first.Seq)
	}
	other := Record("e2", commitA, "podinfo")
	if o := add(t, s, other); o.Seq == first.Seq {
		t.Fatal("another notification was taken for the first")
	}
	if got := pending(t, s); len(got) != 2 || got[0].ID != "e1" {
		t.Fatalf("pending %+v", got)
	}
}

func conflict(t *testing.T, b Backend) {
	s := b.Open(t)
	peer := b.Peer(t, s)
	r := add(t, s, Record("e1", commitA, "podinfo"))
	mine, theirs := state(t, s, r.Key()), state(t, peer, r.Key())
	theirs.Notified = map[string]bool{"success": true}
	theirs.Finished = true
	if err := peer.Progress(r, theirs); err != nil {
		t.Fatal(err)
	}
	mine.Posted = map[string]string{"podinfo": "fp"}
	err := s.Progress(r, mine)
	if !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("a write over another replica's change: %v, want ErrConflict", err)
	}
	if err := s.Done(r, &mine); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("Done over another replica's change: %v, want ErrConflict", err)
	}
	if got := state(t, s, r.Key()); !got.Notified["success"] {
		t.Fatalf("the other replica's state was overwritten: %+v", got)
	}
	// Having read it again, this replica may write.
	if err := s.Progress(r, state(t, s, r.Key())); err != nil {
		t.Fatalf("a write after reading the state: %v", err)
	}
	// The other replica last wrote the revision this one has now replaced:
	// its next write is a conflict too (an update, not a create).
	theirs.Posted = map[string]string{"podinfo": "theirs"}
	if err := peer.Progress(r, theirs); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("an update over a revision another replica replaced: %v, want ErrConflict", err)
	}
	// Two replicas creating the state of a new pair: one wins.
	n := add(t, s, Record("e2", commitB, "podinfo"))
	a, c := state(t, s, n.Key()), state(t, peer, n.Key())
	if err := s.Progress(n, a); err != nil {
		t.Fatal(err)
	}
	if err := peer.Progress(n, c); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("the second replica to create a state: %v, want ErrConflict", err)
	}
}

func peerSees(t *testing.T, b Backend) {
	s := b.Open(t)
	peer := b.Peer(t, s)
	r := add(t, s, Record("e1", commitA, "podinfo"))
	st := state(t, s, r.Key())
	st.Notified = map[string]bool{"failure": true}
	if err := s.Done(r, &st); err != nil {
		t.Fatal(err)
	}
	if got := state(t, peer, r.Key()); !got.Notified["failure"] {
		t.Fatalf("the other replica sees %+v", got)
	}
	r2 := add(t, peer, Record("e2", commitB, "podinfo"))
	same(t, pending(t, s), []pipeline.Record{r2})
}
