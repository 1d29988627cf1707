package gate

import (
	"sync"
	"time"
)

// Default re-read schedule of an open gate.
const (
	DefaultInitialInterval = 15 * time.Second
	DefaultMaxInterval     = 5 * time.Minute
)

// Waits holds the open gates of a process, each with the value that
// resumes it (the pipeline's job), and calls Due with that value when the
// gate is to be read again: after the delay it was opened with, or at once
// when Wake names its commit. A gate leaves Waits when it is due; the
// caller opens it again if it is still open after the read.
//
// Waits is in memory: the jobs of open gates are in the pipeline's store,
// and after a restart each is read again at once and opened anew.
type Waits[T comparable] struct {
	// Due is called, from a goroutine of its own, when a gate is due.
	Due func(T)

	mu      sync.Mutex
	open    map[string]*wait[T]
	stopped bool
}

type wait[T comparable] struct {
	commit string
	value  T
	timer  *time.Timer
}

// Open opens the gate of key (a config and commit) for commit, or keeps it
// open: value is given to Due after delay.
func (w *Waits[T]) Open(key, commit string, value T, delay time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if w.open == nil {
		w.open = map[string]*wait[T]{}
	}
	if old := w.open[key]; old != nil {
		old.timer.Stop()
	}
	g := &wait[T]{commit: commit, value: value}
	g.timer = time.AfterFunc(max(delay, 0), func() { w.fire(key, g) })
	w.open[key] = g
}

// Backoff is the wait before read n+1 of an open gate (n ≥ 1 reads done):
// initial (DefaultInitialInterval when not positive), doubling, at most
// limit (DefaultMaxInterval when not positive).
func Backoff(n int, initial, limit time.Duration) time.Duration {
	if initial <= 0 {
		initial = DefaultInitialInterval
	}
	if limit <= 0 {
		limit = DefaultMaxInterval
	}
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// fire takes a due gate out and hands its value to Due, unless it was
// closed, opened again or woken meanwhile.
func (w *Waits[T]) fire(key string, g *wait[T]) {
	w.mu.Lock()
	if w.open[key] != g || w.stopped {
		w.mu.Unlock()
		return
	}
	delete(w.open, key)
	w.mu.Unlock()
	w.Due(g.value)
}

// Wake makes every open gate of commit due now, except the gate of key
// from: another event of the commit arrived, and the environment it
// reports may be the one a gate waits for. The event's own pair is left
// alone: the event reads that gate itself when it is delivered (it takes
// the gate over), so waking it would only read the statuses once more.
func (w *Waits[T]) Wake(commit, from string) {
	w.mu.Lock()
	var due []T
	for key, g := range w.open {
		if g.commit == commit && key != from && !w.stopped {
			g.timer.Stop()
			delete(w.open, key)
			due = append(due, g.value)
		}
	}
	w.mu.Unlock()
	for _, v := range due {
		go w.Due(v)
	}
}

// Get returns the value of the open gate of key.
func (w *Waits[T]) Get(key string) (T, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	g, ok := w.open[key]
	if !ok {
		var zero T
		return zero, false
	}
	return g.value, true
}

// Take removes the gate of key when it still waits with value, and stops
// its timer: the caller carries the gate on. False when the gate is not
// waiting with value (it was never opened, or is due and being read).
func (w *Waits[T]) Take(key string, value T) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	g, ok := w.open[key]
	if !ok || g.value != value {
		return false
	}
	g.timer.Stop()
	delete(w.open, key)
	return true
}

// Len returns the number of open gates waiting for their next read.
func (w *Waits[T]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.open)
}

// Stop stops every timer; no gate is due after it. The gates' jobs stay
// wherever the caller keeps them.
func (w *Waits[T]) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for _, g := range w.open {
		g.timer.Stop()
	}
}
