package fakeapi

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is what a fake does instead of (or before) answering a request
// normally. The zero Fault answers normally.
type Fault struct {
	// Status is the HTTP status to answer with; 0 answers normally after
	// Delay.
	Status int
	// Header holds extra response headers, e.g. Retry-After.
	Header http.Header
	// Body is the JSON body of the answer; "" gives the API's error body
	// ({"message": ...}) with the status text.
	Body string
	// Delay holds the answer back. When the client gives up first (its
	// timeout or context), the request is abandoned without effect.
	Delay time.Duration
	// Applied makes the fake carry the request out before it answers with
	// Status: the change is made (the status stored, the event
	// dispatched), but the client sees a failure (a lost response).
	Applied bool
}

// Call describes a request to an Injector.
type Call struct {
	// Operation is the operationId of the request's operation.
	Operation string
	Method    string
	// Path is the escaped request path.
	Path        string
	Owner, Repo string
	// Ref is the sha, ref, basehead or workflow of the path, where the
	// operation has one.
	Ref string
	// N counts the calls of this operation, from 1 (this call included).
	N int
}

// Injector chooses the fault for a valid, authenticated request, or nil for
// none. A fake calls injectors one at a time, in the order requests arrive;
// an injector may call the fake's methods.
type Injector func(Call) *Fault

// Faults chooses the fault (F) of each call (C) a fake carries out: first
// the faults queued for the call's operation (K), in order, then the
// injector's choice. Its methods are safe for concurrent use; the injector
// runs under its lock, so it may keep state (a random source) unguarded.
type Faults[K comparable, C, F any] struct {
	mu     sync.Mutex
	queues map[K][]F
	inject func(C) *F
	calls  map[K]int
}

// Count counts one more call of operation and returns how many there were,
// this one included (Call.N).
func (fs *Faults[K, C, F]) Count(operation K) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.calls == nil {
		fs.calls = map[K]int{}
	}
	fs.calls[operation]++
	return fs.calls[operation]
}

// Queue queues faults for the next calls of operation: the first fault
// answers the next call, and so on.
func (fs *Faults[K, C, F]) Queue(operation K, faults ...F) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.queues == nil {
		fs.queues = map[K][]F{}
	}
	fs.queues[operation] = append(fs.queues[operation], faults...)
}

// Inject makes fn choose the faults of the calls no queued fault answers;
// nil stops injecting.
func (fs *Faults[K, C, F]) Inject(fn func(C) *F) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.inject = fn
}

// Next picks the fault of one call of operation, or nil.
func (fs *Faults[K, C, F]) Next(operation K, c C) *F {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if q := fs.queues[operation]; len(q) > 0 {
		f := q[0]
		fs.queues[operation] = q[1:]
		return &f
	}
	if fs.inject != nil {
		return fs.inject(c)
	}
	return nil
}

// Random returns an injector that answers a share rate (0..1) of the calls
// with one of faults, chosen at random. The choices depend only on seed and
// the order of the calls, so a failing run is repeated with its seed.
func Random[C, F any](seed uint64, rate float64, faults ...F) func(C) *F {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(C) *F {
		hit := rnd.Float64() < rate
		if !hit || len(faults) == 0 {
			return nil
		}
		f := faults[rnd.IntN(len(faults))]
		return &f
	}
}

// RetryAfter is a Retry-After header of whole seconds (nil when after is
// not positive: the header is left out).
func RetryAfter(after time.Duration) http.Header {
	if after <= 0 {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(int(after / time.Second))}}
}

// Hang holds the answer until the client gives up or the fake closes: for
// client timeouts. The request has no effect.
func Hang() Fault { return Fault{Delay: 24 * time.Hour} }

// Apply carries out a valid, authenticated request under the fault f (nil
// for none). It holds the answer back for f.Delay: when ctx ends (the
// client gave up) or closing closes (the fake stops) first, the request is
// abandoned without effect. Then it answers with f.Status (f.Body, or
// errorBody of the status when f.Body is empty) instead of carrying the
// request out with handle, or after it when f.Applied. Without a fault's
// status it answers what handle answers.
func Apply(ctx context.Context, closing <-chan struct{}, f *Fault, handle func() Answer, errorBody func(status int) any) (a Answer, abandoned bool) {
	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Answer{}, true
		case <-closing:
			return Answer{}, true
		}
	}
	if f == nil || f.Status == 0 {
		return handle(), false
	}
	if f.Applied {
		handle()
	}
	a = Answer{Status: f.Status, Header: f.Header, Body: json.RawMessage(f.Body)}
	if f.Body == "" {
		a.Body = errorBody(f.Status)
	}
	return a, false
}
