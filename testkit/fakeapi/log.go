package fakeapi

import (
	"slices"
	"sync"
	"testing"
)

// Log keeps the requests a fake received, as its tests inspect them (R),
// and what was wrong with those a real service would have refused. It is
// safe for concurrent use.
type Log[R any] struct {
	mu   sync.Mutex
	reqs []R
	errs []error
}

// Add records a request and, when err is not nil, what was wrong with it.
func (l *Log[R]) Add(req R, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, req)
	if err != nil {
		l.errs = append(l.errs, err)
	}
}

// AddError records what was wrong with a request that is logged apart.
func (l *Log[R]) AddError(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// Requests returns every request recorded, in order.
func (l *Log[R]) Requests() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// Filter returns the requests recorded that keep selects, in order.
func (l *Log[R]) Filter(keep func(R) bool) []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []R
	for _, r := range l.reqs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Errors returns what was wrong with the requests, in order.
func (l *Log[R]) Errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// AssertValid fails the test once for every error recorded, each
// introduced by prefix (e.g. "fakegitea: ").
func (l *Log[R]) AssertValid(t testing.TB, prefix string) {
	t.Helper()
	for _, err := range l.Errors() {
		t.Errorf("%s%v", prefix, err)
	}
}
