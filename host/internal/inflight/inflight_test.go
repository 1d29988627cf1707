package inflight

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// body is a request body that records whether anything read it.
type body struct {
	io.Reader
	read atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.Reader.Read(p)
}

func notification() (*http.Request, *body) {
	b := &body{Reader: strings.NewReader(`{"involvedObject":{"kind":"Kustomization"}}`)}
	return httptest.NewRequest(http.MethodPost, "/gitopsphase", b), b
}

// blocking is a handler that reads the body and holds its turn until
// released.
type blocking struct {
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan struct{}, 8), release: make(chan struct{})}
}

func (h *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	h.entered <- struct{}{}
	<-h.release
	w.WriteHeader(http.StatusAccepted)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAWaitingNotificationIsServedWhenATurnFreesAndItsBodyIsReadOnlyThen(t *testing.T) {
	next := newBlocking()
	l := New(1, time.Hour, slog.New(slog.DiscardHandler))
	h := l.Wrap(next)

	first, _ := notification()
	firstDone := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, first)
		firstDone <- w.Code
	}()
	<-next.entered

	second, secondBody := notification()
	secondDone := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, second)
		secondDone <- w.Code
	}()
	waitFor(t, "the second notification to wait", func() bool { return l.Waiting() == 1 })
	if secondBody.read.Load() || next.calls.Load() != 1 {
		t.Fatalf("a waiting notification reached the handler (calls %d) or had its body read (%v)", next.calls.Load(), secondBody.read.Load())
	}

	next.release <- struct{}{}
	if code := <-firstDone; code != http.StatusAccepted {
		t.Errorf("first: %d", code)
	}
	<-next.entered
	if !secondBody.read.Load() {
		t.Error("the admitted notification's body was not read")
	}
	next.release <- struct{}{}
	if code := <-secondDone; code != http.StatusAccepted {
		t.Errorf("second: %d", code)
	}
	if l.Waiting() != 0 {
		t.Errorf("%d still waiting", l.Waiting())
	}
}

func TestANotificationWithoutATurnIsAnswered503WithoutReadingItsBody(t *testing.T) {
	next := newBlocking()
	var logs bytes.Buffer
	l := New(1, time.Millisecond, slog.New(slog.NewJSONHandler(&logs, nil)))
	h := l.Wrap(next)
	first, _ := notification()
	go h.ServeHTTP(httptest.NewRecorder(), first)
	<-next.entered
	defer close(next.release)

	for range 3 {
		r, b := notification()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("answer %d, Retry-After %q: want 503 and 1", w.Code, w.Header().Get("Retry-After"))
		}
		var resp struct{ Status, Reason string }
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Status != "unavailable" || !strings.Contains(resp.Reason, "in flight") {
			t.Errorf("body %q (%v)", w.Body, err)
		}
		if b.read.Load() {
			t.Error("a refused notification's body was read")
		}
	}
	if next.calls.Load() != 1 {
		t.Errorf("handler called %d times, want 1", next.calls.Load())
	}
	if n := strings.Count(logs.String(), "notifications refused"); n < 1 {
		t.Errorf("refusals not logged: %q", logs.String())
	}
}

func TestProbesAndMetricsNeverWait(t *testing.T) {
	next := newBlocking()
	l := New(1, time.Hour, slog.New(slog.DiscardHandler))
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	first, _ := notification()
	go h.ServeHTTP(httptest.NewRecorder(), first)
	<-next.entered
	defer close(next.release)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", path, w.Code)
		}
	}
}

func TestASenderThatGoesAwayWhileWaitingGetsNoAnswerAndFreesNothing(t *testing.T) {
	next := newBlocking()
	l := New(1, time.Hour, slog.New(slog.DiscardHandler))
	h := l.Wrap(next)
	first, _ := notification()
	go h.ServeHTTP(httptest.NewRecorder(), first)
	<-next.entered

	ctx, cancel := context.WithCancel(context.Background())
	r, b := notification()
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(w, r.WithContext(ctx)); close(done) }()
	waitFor(t, "the notification to wait", func() bool { return l.Waiting() == 1 })
	cancel()
	<-done
	if w.Body.Len() != 0 || b.read.Load() || next.calls.Load() != 1 {
		t.Errorf("gone sender: answer %q, body read %v, handler calls %d", w.Body, b.read.Load(), next.calls.Load())
	}
	// The first still holds the only turn: a new notification must wait.
	if len(l.slots) != 1 {
		t.Errorf("%d turns taken, want 1", len(l.slots))
	}
	close(next.release)
}

func TestNoBoundAdmitsEverything(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	h := New(0, time.Millisecond, slog.New(slog.DiscardHandler)).Wrap(next)
	for range 100 {
		r, _ := notification()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			t.Fatalf("%d", w.Code)
		}
	}
}
