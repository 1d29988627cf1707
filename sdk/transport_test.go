package sdk

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConcurrentCallsReuseTheTransportsConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	client := &http.Client{Transport: NewHTTPTransport()}
	round := func() {
		var wg sync.WaitGroup
		for range MaxConcurrentCalls {
			wg.Go(func() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			})
		}
		wg.Wait()
	}
	const rounds = 6
	for range rounds {
		round()
	}
	// A transport keeping two idle connections opens one for nearly every
	// call (about rounds × 62); this one opens about one per concurrent call
	// once, and then reuses them.
	if n := conns.Load(); n > 2*MaxConcurrentCalls {
		t.Errorf("%d rounds of %d concurrent calls opened %d connections, want them reused (at most %d)",
			rounds, MaxConcurrentCalls, n, 2*MaxConcurrentCalls)
	}
}
