package jsstore

import (
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
	opts := Options{URL: url, Name: name, Replicas: 1, Partitions: 4, AckWait: time.Second, PinnedTTL: 2 * time.Second, Timeout: 5 * time.Second}
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
