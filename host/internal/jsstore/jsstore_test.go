package jsstore

import (
	"errors"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/storetest"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
)

// open returns a store on the server at url under name, closed when the
// test ends.
func open(t *testing.T, url, name string, tune ...func(*Options)) *Store {
	t.Helper()
	opts := Options{URL: url, Name: name, Replicas: 1, Partitions: 4, AckWait: time.Second, Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tune {
		f(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Check(); err != nil {
		t.Fatalf("a store on a running server: %v", err)
	}
	return s
}

func TestJetStreamConformance(t *testing.T) {
	srv := natsserver.Single(t)
	n := 0
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) pipeline.Store {
			n++ // every test its own stream and bucket
			return open(t, srv.URL(), "conformance-"+string(rune('a'+n)))
		},
		Reopen: func(t *testing.T, s pipeline.Store) pipeline.Store {
			js := s.(*Store)
			_ = js.Close()
			return open(t, srv.URL(), js.opts.Name)
		},
		Peer: func(t *testing.T, s pipeline.Store) pipeline.Store {
			return open(t, srv.URL(), s.(*Store).opts.Name)
		},
	})
}

// TestJetStreamConformanceOnACluster runs the suite on a 3-node cluster
// with three copies of the stream and the bucket, as deployed: the server
// reports a replicated bucket's compare-and-swap conflicts with other
// error codes than a single server's.
func TestJetStreamConformanceOnACluster(t *testing.T) {
	c := natsserver.NewCluster(t, 3)
	c.WaitReady(t)
	n := 0
	replicated := func(o *Options) { o.Replicas = 3 }
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) pipeline.Store {
			n++
			return open(t, c.URLs(), "cluster-"+string(rune('a'+n)), replicated)
		},
		Reopen: func(t *testing.T, s pipeline.Store) pipeline.Store {
			js := s.(*Store)
			_ = js.Close()
			return open(t, c.URLs(), js.opts.Name, replicated)
		},
		Peer: func(t *testing.T, s pipeline.Store) pipeline.Store {
			return open(t, c.URLs(), s.(*Store).opts.Name, replicated)
		},
	})
}

func TestWithoutJetStreamEventsAreRefusedAndCheckSaysWhyUntilItIsBack(t *testing.T) {
	srv := natsserver.Single(t)
	s := open(t, srv.URL(), "outage")
	if _, err := s.Add(storetest.Record("e1", "aaaaaaa0000000000000000000000000000000000")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	waitFor(t, func() bool { return s.Check() != nil })
	if err := s.Check(); !strings.Contains(err.Error(), "not connected to NATS") {
		t.Fatalf("Check while the server is down: %v", err)
	}
	if _, err := s.Add(storetest.Record("e2", "aaaaaaa0000000000000000000000000000000000")); err == nil {
		t.Fatal("an event was recorded while JetStream was down")
	}
	srv.Start(t)
	waitFor(t, func() bool { return s.Check() == nil })
	if _, err := s.Add(storetest.Record("e3", "aaaaaaa0000000000000000000000000000000000")); err != nil {
		t.Fatalf("after the server is back: %v", err)
	}
	got, err := s.Pending()
	if err != nil || len(got) != 2 || got[0].ID != "e1" || got[1].ID != "e3" {
		t.Fatalf("pending after the outage: %+v (%v)", got, err)
	}
}

func TestAStoreOpenedWhileTheServerIsDownIsNotReadyUntilItIsUp(t *testing.T) {
	srv := natsserver.Single(t)
	url := srv.URL()
	srv.Stop()
	s, err := Open(Options{URL: url, Name: "late", Replicas: 1, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err == nil {
		t.Fatal("Check succeeded without a server")
	}
	srv.Start(t)
	waitFor(t, func() bool { return s.Check() == nil })
}

func TestCredentialsComeFromFilesAndURLsCarryNone(t *testing.T) {
	if err := CheckURL("nats://user:secret@127.0.0.1:4222"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("a URL with credentials: %v", err)
	}
	if err := CheckURL("http://127.0.0.1:4222"); err == nil {
		t.Fatal("an http URL was taken")
	}
	if err := CheckURL("nats://a:4222, tls://b:4222"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts, err := (Credentials{TokenFile: token}).Options(); err != nil || len(opts) != 1 {
		t.Fatalf("token file: %d options, %v", len(opts), err)
	}
	if _, err := (Credentials{TokenFile: token, Token: "x", CredsFile: token}).Options(); err == nil {
		t.Fatal("two credentials were taken")
	}
	if _, err := (Credentials{CredsFile: filepath.Join(dir, "missing")}).Options(); err == nil {
		t.Fatal("a missing credentials file was taken")
	}
	if _, err := (Credentials{CertFile: token}).Options(); err == nil {
		t.Fatal("a client certificate without its key was taken")
	}
}

func TestATokenProtectedServerTakesTheTokenFromItsFile(t *testing.T) {
	srv := natsserver.Single(t, func(o *server.Options) { o.Authorization = "s3cr3t" })
	// Without the token: not ready.
	s, err := Open(Options{URL: srv.URL(), Name: "token", Replicas: 1, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err == nil {
		t.Fatal("a store without the token is ready")
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	connect, err := (Credentials{TokenFile: file}).Options()
	if err != nil {
		t.Fatal(err)
	}
	open(t, srv.URL(), "token", func(o *Options) { o.Connect = connect })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A queue's name becomes NATS stream, bucket and subject names and a
// Kubernetes Lease's: only names both take are accepted.
func TestQueueNamesNATSAndKubernetesTake(t *testing.T) {
	for _, name := range []string{"gitops-connector", "ha-gitops-connector", "a", "conn2", strings.Repeat("a", 63)} {
		if err := CheckName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "Gitops", "a.b", "a b", "a*", "a>", "-a", "a-", "a_b", strings.Repeat("a", 64)} {
		if err := CheckName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

// TestConcurrentWritesOnAClusterAreConflictsNotFailures has two replicas
// write one pair's state at once on a replicated bucket: the server answers
// a write racing another on the same key with another error code than a
// stale revision, and either is a conflict (the loser reads again), never a
// failure to retry with the same revision.
func TestConcurrentWritesOnAClusterAreConflictsNotFailures(t *testing.T) {
	c := natsserver.NewCluster(t, 3)
	c.WaitReady(t)
	replicated := func(o *Options) { o.Replicas = 3 }
	a := open(t, c.URLs(), "race", replicated)
	b := open(t, c.URLs(), "race", replicated)
	r, err := a.Add(storetest.Record("e1", "aaaaaaa0000000000000000000000000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	rec := storetest.Record("e1", "aaaaaaa0000000000000000000000000000000000")
	rec.Seq = r
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for _, s := range []*Store{a, b} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					st, err := s.State(rec.Key())
					if err != nil {
						errs <- err
						return
					}
					st.Posted = map[string]string{"podinfo": strconv.Itoa(i)}
					if err := s.Progress(rec, st); err != nil && !errors.Is(err, pipeline.ErrConflict) {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a write racing another replica's: %v, want nil or ErrConflict", err)
	}
}

// TestReadsOnAClusterGoToTheLeaderAndSeeTheReplicasOwnWrites: with reads
// answered by every copy of the bucket (direct get), a read right after
// the bucket was created failed on a busy machine with "no responders"
// (no copy answering yet: Prune skipped the state), and a follower answers
// with the entry it has applied, which can be older than the one the
// leader just acknowledged.
func TestReadsOnAClusterGoToTheLeaderAndSeeTheReplicasOwnWrites(t *testing.T) {
	c := natsserver.NewCluster(t, 3)
	c.WaitReady(t)
	s := open(t, c.URLs(), "reads", func(o *Options) { o.Replicas = 3 })
	stream, err := s.JetStream().Stream(t.Context(), "KV_"+s.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if stream.CachedInfo().Config.AllowDirect {
		t.Fatal("the bucket's followers answer reads")
	}
	for i := range 200 {
		rec := storetest.Record(fmt.Sprintf("e%d", i), "aaaaaaa0000000000000000000000000000000000")
		st := pipeline.State{Finished: true}
		if err := s.Done(rec, &st); err != nil {
			t.Fatal(err)
		}
		if got, err := s.State(rec.Key()); err != nil || !got.Finished {
			t.Fatalf("the state read after it was recorded: %+v (%v)", got, err)
		}
	}
}
