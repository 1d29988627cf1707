package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
	bolt "go.etcd.io/bbolt"
)

const (
	commitA = "aaaaaaa0000000000000000000000000000000000"
	commitB = "bbbbbbb0000000000000000000000000000000000"
)

func open(t *testing.T, dir string) *Bolt {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes s and opens the store in dir again, as a restart does.
func reopen(t *testing.T, s *Bolt, dir string) *Bolt {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return open(t, dir)
}

// pending returns the records s holds, in order.
func pending(t *testing.T, s *Bolt) []pipeline.Record {
	t.Helper()
	got, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func record(id, commit string, statuses ...string) pipeline.Record {
	r := pipeline.Record{ID: id, ConfigKey: "flux-system/podinfo", CommitID: commit,
		Received: time.Date(2026, 11, 24, 10, 15, 42, 123456789, time.UTC)}
	for _, s := range statuses {
		r.Statuses = append(r.Statuses, sdk.Status{Name: s, State: sdk.StatePending, RawState: "Progressing",
			Description: "Deployment/default/podinfo configured", Genre: "Kustomization", Operator: "Flux"})
	}
	return r
}

func TestRecordsSurviveAReopenInArrivalOrderWithEveryField(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Record{
		record("e1", commitA, "Status", "Deployment"),
		record("e2", commitB, "Status"),
		record("e3", commitA, "Status"),
	}
	want[2].Finished, want[2].Successful = true, true
	want[2].Statuses[0].State = sdk.StateSucceeded
	want[2].DeployedWith = commitB
	for i := range want {
		seq, err := s.Add(want[i])
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && seq <= want[i-1].Seq {
			t.Fatalf("sequence %d after %d", seq, want[i-1].Seq)
		}
		want[i].Seq = seq
	}
	want[0].Next = 1
	if err := s.Progress(want[0], pipeline.State{Posted: map[string]string{"Status": "fp"}}); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s, dir)
	got := pending(t, s)
	if len(got) != len(want) {
		t.Fatalf("%d records after reopening, want %d", len(got), len(want))
	}
	for i := range want {
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) || !got[i].Received.Equal(want[i].Received) {
			t.Errorf("record %d\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	st, err := s.State(want[0].Key())
	if err != nil || st.Posted["Status"] != "fp" {
		t.Fatalf("state after reopening: %+v, %v", st, err)
	}
}

func TestConcurrentAddsAreEachRecordedOnceWithTheirOwnSequenceNumber(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const writers = 400
	seqs := make([]uint64, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, err := s.Add(record(fmt.Sprint(i), commitA, "Status"))
			if err != nil {
				t.Error(err)
			}
			seqs[i] = seq
		}()
	}
	wg.Wait()
	s = reopen(t, s, dir)
	got := pending(t, s)
	if len(got) != writers {
		t.Fatalf("%d records, want %d", len(got), writers)
	}
	for i, r := range got {
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Fatalf("Pending out of order: %d after %d", r.Seq, got[i-1].Seq)
		}
		var id int
		fmt.Sscan(r.ID, &id)
		if seqs[id] != r.Seq {
			t.Fatalf("event %s was told sequence %d but recorded as %d", r.ID, seqs[id], r.Seq)
		}
	}
}

func TestDoneRemovesTheJobAndRecordsTheStateTogether(t *testing.T) {
	s := open(t, t.TempDir())
	r := record("e1", commitA, "Status")
	seq, err := s.Add(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = seq
	if err := s.Done(r, &pipeline.State{Finished: true, Notified: map[string]bool{"success": true}}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.Pending(); len(pending) != 0 {
		t.Fatalf("%d records after Done", len(pending))
	}
	st, err := s.State(r.Key())
	if err != nil || !st.Finished || !st.Notified["success"] || st.Updated.IsZero() {
		t.Fatalf("state %+v, %v", st, err)
	}
	// A dropped job (no state) leaves the state alone.
	r2 := record("e2", commitA, "Status")
	if r2.Seq, err = s.Add(r2); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(r2, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(r.Key()); !st.Notified["success"] {
		t.Fatal("Done without a state erased the state")
	}
	// A record that is no job (Seq 0) records a state only: a config's
	// own, and a skipped commit's.
	if err := s.Done(pipeline.Record{ConfigKey: "default"}, &pipeline.State{LastFinished: commitA}); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(pipeline.Record{ConfigKey: "default", CommitID: commitB}, &pipeline.State{Finished: true, DeployedWith: commitA}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State("default@"); err != nil || st.LastFinished != commitA {
		t.Fatalf("config state %+v, %v", st, err)
	}
	if st, err := s.State("default@" + commitB); err != nil || st.DeployedWith != commitA || !st.Finished {
		t.Fatalf("skipped commit's state %+v, %v", st, err)
	}
}

func TestPruneDeletesOnlyStatesIdleSinceTheCutoff(t *testing.T) {
	s := open(t, t.TempDir())
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for day := range 10 {
		now = time.Date(2026, 11, 1+day, 0, 0, 0, 0, time.UTC)
		r := record("e", fmt.Sprintf("%07d", day))
		if err := s.Done(r, &pipeline.State{Finished: true}); err != nil {
			t.Fatal(err)
		}
	}
	// On 11 Nov, keep 7 days: the states of 1–3 Nov go.
	n, err := s.Prune(time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	for day := range 10 {
		st, _ := s.State(record("e", fmt.Sprintf("%07d", day)).Key())
		if kept := st.Finished; kept != (day >= 3) {
			t.Errorf("state of day %d kept = %v", day+1, kept)
		}
	}
}

func TestAFileThatIsDamagedIsRefusedWithAnErrorSayingWhatToDo(t *testing.T) {
	pageSize := os.Getpagesize()
	// valid writes a store with records and returns its bytes.
	valid := func(t *testing.T) []byte {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		addConcurrently(t, s, 50)
		_ = s.Close()
		b, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		damage func(t *testing.T) []byte
	}{
		{"not a store", func(*testing.T) []byte {
			return []byte("apiVersion: v1\nkind: ConfigMap\n" + strings.Repeat("x", 3*pageSize))
		}},
		{"both meta pages overwritten", func(t *testing.T) []byte {
			b := valid(t)
			copy(b, bytes.Repeat([]byte{0xA5}, 2*pageSize))
			return b
		}},
		{"data pages overwritten", func(t *testing.T) []byte {
			b := valid(t)
			copy(b[2*pageSize:], bytes.Repeat([]byte{0xFF}, len(b)-2*pageSize))
			return b
		}},
		{"truncated", func(t *testing.T) []byte {
			return valid(t)[:3*pageSize]
		}},
		{"a record that does not decode", func(t *testing.T) []byte {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketJobs).Put(seqKey(7), []byte(`{"v":1,"config":"x","commit":`))
			}); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			b, _ := os.ReadFile(filepath.Join(dir, FileName))
			return b
		}},
		{"a later format", func(t *testing.T) []byte {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyFormat, []byte("2"))
			}); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			b, _ := os.ReadFile(filepath.Join(dir, FileName))
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), c.damage(t), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("a damaged store was opened")
			}
			if !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) ||
				!strings.Contains(err.Error(), "move the file aside") {
				t.Fatalf("error %q: want ErrCorrupted naming the file and what to do", err)
			}
		})
	}
}

func TestASecondProcessOnTheSameDataDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := Open(dir, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "another process holds it") {
		t.Fatalf("second Open = %v", err)
	}
}

func TestNothingInTheStoreIsReadAsSomethingElse(t *testing.T) {
	s := open(t, t.TempDir())
	if st, err := s.State("default@" + commitA); err != nil || st.Finished || len(st.Posted) != 0 {
		t.Fatalf("unknown state = %+v, %v; want the zero state", st, err)
	}
	if pending, err := s.Pending(); err != nil || len(pending) != 0 {
		t.Fatalf("a new store has %d records, %v", len(pending), err)
	}
	if !s.Durable() {
		t.Fatal("a bolt store must say it is durable: Close relies on it to keep queued events")
	}
}

// addConcurrently adds n records at once, as concurrent events do.
func addConcurrently(t *testing.T, s *Bolt, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Add(record(fmt.Sprint(i), commitA, "Status", "Deployment", "Service")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
