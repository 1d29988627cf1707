// Package inflight bounds the notifications the host works on at once.
//
// Every notification admitted costs memory until it is answered: its body,
// the operator plugin's parse (a gRPC call), its share of the next store
// commit, the answer. When senders outpace the host — a burst of Flux events
// on a busy node — that work piles up, hundreds of requests at once, and
// so does the memory of the pod. A Limiter admits a fixed number at a time;
// the others wait for a turn before anything of their body is read, holding
// only their connection, and are answered 503 with Retry-After if no turn
// comes within the wait. The backlog, and the memory, then depend on the
// bound rather than on the rate offered.
package inflight

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultMax is the default bound: as many notifications as the host makes
// parse calls to a plugin at most at once (sdk.MaxConcurrentCalls), well
// above what a keeping-up host has in flight (a few) and above the clients
// of the load benchmark's intake phases (8 and 32).
const DefaultMax = 64

// DefaultWait is how long a notification waits for its turn before it is
// answered 503: well within the HTTP server's 30 s to read a request, so a
// notification admitted late still has time to send its body.
const DefaultWait = 10 * time.Second

// Limiter admits at most a fixed number of notifications (POST requests) at
// once. Other requests — probes, /metrics — never wait: a liveness probe
// must not fail because notifications queue.
type Limiter struct {
	slots   chan struct{}
	wait    time.Duration
	log     *slog.Logger
	waiting atomic.Int64
	// lastLog is when a refusal was last logged (unix nanoseconds), so an
	// overload logs one line per wait, not one per refused request.
	lastLog  atomic.Int64
	refused  atomic.Int64
	reported atomic.Int64
}

// New returns a limiter admitting max notifications at once, each waiting
// at most wait for its turn. max <= 0 admits every request at once.
func New(max int, wait time.Duration, log *slog.Logger) *Limiter {
	l := &Limiter{wait: wait, log: log}
	if max > 0 {
		l.slots = make(chan struct{}, max)
	}
	return l
}

// Waiting is the number of notifications waiting for a turn now.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }

// Wrap returns next behind the limiter.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	if l.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if !l.admit(r) {
			if r.Context().Err() == nil {
				l.refuse(w)
			}
			return
		}
		defer func() { <-l.slots }()
		next.ServeHTTP(w, r)
	})
}

// admit takes a turn for r, waiting up to l.wait; false when none came or
// the sender went away.
func (l *Limiter) admit(r *http.Request) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-r.Context().Done():
	case <-t.C:
	}
	return false
}

// refuse answers a notification that found no turn: 503, as when the host
// is not ready, so that the sender sends it again (Flux's notification
// controller retries 5xx answers).
func (l *Limiter) refuse(w http.ResponseWriter) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	if last := l.lastLog.Load(); now-last >= int64(l.wait) && l.lastLog.CompareAndSwap(last, now) {
		l.log.Warn("notifications refused: too many in flight; senders should send them again",
			"refused", n-l.reported.Swap(n), "in_flight", cap(l.slots), "waiting", l.Waiting(), "wait", l.wait)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}{"unavailable", "too many notifications in flight; send again"})
}
