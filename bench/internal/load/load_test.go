package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder answers 202, or 503 for the bodies listed, and keeps the bodies.
type recorder struct {
	mu     sync.Mutex
	bodies []string
	refuse map[string]bool
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	refuse := r.refuse[string(b)]
	r.mu.Unlock()
	if refuse {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func body(i int) []byte { return []byte{byte('a' + i%26)} }

func TestAClosedLoopStopsAtMaxRequestsAndCountsEveryAnswer(t *testing.T) {
	rec := &recorder{refuse: map[string]bool{"c": true}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	res := Closed{Client: NewClient(4), URL: srv.URL, Concurrency: 4, Duration: time.Minute, MaxRequests: 52, Body: body}.Run(context.Background())

	if len(rec.bodies) != 52 {
		t.Fatalf("%d requests sent, want 52", len(rec.bodies))
	}
	if res.Count(http.StatusAccepted) != 50 || res.Count(http.StatusServiceUnavailable) != 2 || res.Errors != 0 {
		t.Errorf("codes %v, errors %d; want 50 × 202, 2 × 503", res.Codes, res.Errors)
	}
	if len(res.Latencies(http.StatusAccepted)) != 50 {
		t.Errorf("%d latencies of 202 answers", len(res.Latencies(http.StatusAccepted)))
	}
	if res.Window <= 0 || res.Window >= time.Minute {
		t.Errorf("window %v: a run stopped by its count ends with its last answer", res.Window)
	}
	var idx []int
	for _, s := range res.Samples {
		idx = append(idx, s.Index)
	}
	slices.Sort(idx)
	for i, v := range idx {
		if v != i {
			t.Fatalf("indexes %v: each of 0..51 once", idx)
		}
	}
}

func TestAClosedLoopDoesNotMeasureItsWarmUp(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	// The whole run is warm-up: the deadline passes before any
	// measurement.
	res := Closed{Client: NewClient(1), URL: srv.URL, Concurrency: 1, Warmup: time.Hour, Duration: 0, MaxRequests: 5, Body: body}.Run(context.Background())
	if len(res.Samples) != 0 || res.Rate(http.StatusAccepted) != 0 {
		t.Errorf("warm-up measured: %d samples, rate %v", len(res.Samples), res.Rate(http.StatusAccepted))
	}
	if res.Answered[http.StatusAccepted] != 5 {
		t.Errorf("answered %v: the warm-up's answers were taken in all the same", res.Answered)
	}
}

func TestAnOpenLoopSendsEveryRequestOnceWithItsDueTime(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	res := Open{Client: NewClient(8), URL: srv.URL, Rate: 2000, Count: 40, Body: body}.Run(context.Background())

	if len(res.Samples) != 40 || res.Count(http.StatusAccepted) != 40 {
		t.Fatalf("%d samples, codes %v; want 40 × 202", len(res.Samples), res.Codes)
	}
	for i, s := range res.Samples {
		if s.Index != i {
			t.Fatalf("sample %d has index %d", i, s.Index)
		}
		if i > 0 && !s.Due.After(res.Samples[i-1].Due) {
			t.Fatalf("due times not increasing at %d", i)
		}
		if s.Latency <= 0 {
			t.Fatalf("sample %d latency %v", i, s.Latency)
		}
	}
	if len(rec.bodies) != 40 || res.Answered[http.StatusAccepted] != 40 {
		t.Errorf("server got %d requests, answered %v", len(rec.bodies), res.Answered)
	}
}

func TestAnOpenLoopStopsSendingWhenItsContextEnds(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Open{Client: NewClient(1), URL: srv.URL, Rate: 10, Count: 1000, Body: body}.Run(ctx)
	if len(res.Samples) != 0 || len(rec.bodies) != 0 {
		t.Errorf("%d samples, %d requests after the context ended", len(res.Samples), len(rec.bodies))
	}
}

func TestUnansweredRequestsAreErrorsNotCodes(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	url := srv.URL
	srv.Close()
	res := Closed{Client: NewClient(1), URL: url, Concurrency: 2, Duration: time.Minute, MaxRequests: 6, Body: body}.Run(context.Background())
	if res.Errors != 6 || res.FirstError == nil || len(res.Codes) != 0 {
		t.Errorf("errors %d (%v), codes %v; want 6 errors", res.Errors, res.FirstError, res.Codes)
	}
}

func TestRequestsTakeTheURLsInTurn(t *testing.T) {
	// 24 requests of a loop: body(i) tells i apart below 26.
	var recs [3]*recorder
	var urls []string
	for i := range recs {
		recs[i] = &recorder{}
		srv := httptest.NewServer(recs[i])
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	closed := Closed{Client: NewClient(2), URLs: urls, Concurrency: 2, Duration: time.Minute, MaxRequests: 24, Body: body}.Run(context.Background())
	open := Open{Client: NewClient(2), URLs: urls, Rate: 1000, Count: 24, Body: body}.Run(context.Background())
	if closed.Count(http.StatusAccepted) != 24 || open.Count(http.StatusAccepted) != 24 {
		t.Fatalf("answers %v, %v", closed.Codes, open.Codes)
	}
	for i, r := range recs {
		if len(r.bodies) != 16 {
			t.Errorf("server %d received %d requests, want 16", i, len(r.bodies))
		}
		for _, b := range r.bodies {
			if (b[0]-'a')%3 != byte(i) {
				t.Errorf("server %d received request %q, meant for server %d", i, b, (b[0]-'a')%3)
			}
		}
	}
}

func TestCountsRatesAndLatenciesTakeSeveralCodes(t *testing.T) {
	r := Result{Window: 2 * time.Second, Codes: map[int]int{200: 2, 202: 4, 503: 1}, Samples: []Sample{
		{Code: 200, Latency: 1}, {Code: 202, Latency: 2}, {Code: 503, Latency: 3}, {Code: 200, Latency: 4}, {Err: io.EOF, Latency: 5},
	}}
	if r.Count(200, 202) != 6 || r.Count(202) != 4 || r.Rate(200, 202) != 3 {
		t.Errorf("count %d, rate %v", r.Count(200, 202), r.Rate(200, 202))
	}
	if got := r.Latencies(200, 202); !slices.Equal(got, []time.Duration{1, 2, 4}) {
		t.Errorf("latencies %v", got)
	}
}
