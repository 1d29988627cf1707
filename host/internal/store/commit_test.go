package store

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketTest = []byte("test")

// put returns a write of key=value in the test bucket.
func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTest)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte("v"))
	}
}

func keys(t *testing.T, s *Bolt) []string {
	t.Helper()
	var out []string
	if err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTest)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAGroupCommitsWithoutTheWriteThatFailedAndThatWriteGetsItsOwnError(t *testing.T) {
	s := open(t, t.TempDir())
	boom := errors.New("boom")
	group := []*call{
		{fn: put("a"), err: make(chan error, 1)},
		{fn: func(tx *bolt.Tx) error {
			if err := put("half")(tx); err != nil {
				return err
			}
			return boom
		}, err: make(chan error, 1)},
		{fn: func(*bolt.Tx) error { panic("bad write") }, err: make(chan error, 1)},
		{fn: put("b"), err: make(chan error, 1)},
	}
	s.commits.commit(group)

	if err := <-group[0].err; err != nil {
		t.Errorf("first write: %v", err)
	}
	if err := <-group[1].err; !errors.Is(err, boom) {
		t.Errorf("failing write: %v, want its own error", err)
	}
	if err := <-group[2].err; err == nil || !strings.Contains(err.Error(), "bad write") {
		t.Errorf("panicking write: %v, want an error naming the panic", err)
	}
	if err := <-group[3].err; err != nil {
		t.Errorf("last write: %v", err)
	}
	// The failed write's own changes are rolled back; the others' are kept.
	if got := fmt.Sprint(keys(t, s)); got != "[a b]" {
		t.Errorf("keys %s, want [a b]", got)
	}
}

func TestWritesThatArriveDuringACommitShareTheNextOne(t *testing.T) {
	s := open(t, t.TempDir())
	// Hold the committer inside a first write until the others are waiting.
	inside, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.commits.write(func(tx *bolt.Tx) error {
			close(inside)
			<-release
			return put("first")(tx)
		})
	}()
	<-inside

	const n = 20
	var started, wg sync.WaitGroup
	errs := make([]error, n)
	var seen sync.Map // transactions the waiting writes ran in
	started.Add(n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			errs[i] = s.commits.write(func(tx *bolt.Tx) error {
				seen.Store(tx.ID(), true)
				return put(fmt.Sprintf("w%02d", i))(tx)
			})
		}()
	}
	started.Wait()
	// Let the commit end only once every writer waits to hand its write over.
	waitParked(t, n)
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if got := len(keys(t, s)); got != n+1 {
		t.Errorf("%d keys, want %d", got, n+1)
	}
	txs := 0
	seen.Range(func(any, any) bool { txs++; return true })
	if txs >= n {
		t.Errorf("%d writes made during one commit took %d transactions, want them grouped", n, txs)
	}
}

// waitParked waits until n goroutines are blocked in committer.write, read
// from the goroutine dump: a hand-over on an unbuffered channel leaves no
// other trace.
func waitParked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 10000 {
		dump := string(buf[:runtime.Stack(buf, true)])
		parked := 0
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "(*committer).write(") {
				parked++
			}
		}
		if parked >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the writers did not reach the committer")
}

func TestWritesAfterCloseFailAndDoNotHang(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(record("e1", commitA, "Status")); !errors.Is(err, errClosed) {
		t.Fatalf("Add after Close: %v, want %v", err, errClosed)
	}
	if err := s.Check(); err != nil {
		t.Errorf("a closed store reported as failing: %v", err)
	}
}
