package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Record is a job as the store keeps it. It names its config by key only:
// the config holds the token, which is never written to the store. The
// config is looked up again (Options.Resolve) when the job is delivered.
type Record struct {
	// Seq orders the records: the store gives every new record a number
	// greater than any before.
	Seq uint64
	// ID identifies the event in logs.
	ID string
	// ConfigKey is the config's key ("namespace/name" or "name").
	ConfigKey string
	CommitID  string
	// Statuses to post, in order.
	Statuses   []sdk.Status
	Finished   bool
	Successful bool
	// Received is when the event was accepted; the job is given up once it
	// is older than Options.MaxAge.
	Received time.Time
	// Next is the index in Statuses of the first status not handled yet, so
	// a restart does not post the earlier ones again.
	Next int
	// DeployedWith is set on the job of a commit the operator skipped: the
	// newer commit whose finished deployment contained it (see package
	// skipped). The job then tells that commit's outcome; "" for the job of
	// an event.
	DeployedWith string
	// DedupID identifies the notification the job came from (a digest of
	// its config and body): a Shared store records a sender's retry of the
	// same notification once. Empty: not deduplicated. Stores that are not
	// shared need not keep it.
	DedupID string
}

// Key identifies the (config, commit) a record belongs to.
func (r Record) Key() string { return pairKey(r.ConfigKey, r.CommitID) }

func pairKey(configKey, commitID string) string { return configKey + "@" + commitID }

// State is what the host remembers about one (config, commit): whether its
// deployment finished, the last status posted per context, and which
// outcomes the orchestrator was told.
type State struct {
	Finished bool
	// Posted maps a status context to the fingerprint of the last status
	// posted for it.
	Posted map[string]string
	// Notified holds the outcomes ("success", "failure") the orchestrator
	// was told.
	Notified map[string]bool
	// DeployedWith is the newer commit whose deployment finished this one
	// when the operator skipped it; "" when it finished on its own (an own
	// finish keeps its outcome: a skipped-commit job does not override it).
	DeployedWith string
	// Walked is set once the finish of this commit looked for the commits
	// its deployment covers (package skipped): a repeat of the finish
	// (Flux's) does not look again.
	Walked bool
	// LastFinished is kept only in a config's own state (the key
	// "<config key>@", see configStateKey): the commit of the config that
	// finished last, where the next walk for skipped commits stops.
	LastFinished string
	// Updated is when the state last changed; the store sets it.
	Updated time.Time
}

func (s State) clone() State {
	s.Posted = maps.Clone(s.Posted)
	s.Notified = maps.Clone(s.Notified)
	if s.Posted == nil {
		s.Posted = map[string]string{}
	}
	if s.Notified == nil {
		s.Notified = map[string]bool{}
	}
	return s
}

// Store keeps the pipeline's pending jobs and the State of every (config,
// commit). Every method that writes returns only once the change is as
// durable as the store can make it, and changes the records and the state it
// is given together or not at all.
type Store interface {
	// Add records a new job and returns its sequence number.
	Add(r Record) (uint64, error)
	// Pending returns every recorded job, in sequence order.
	Pending() ([]Record, error)
	// Progress records a job's progress (its Next) and the state of its
	// (config, commit).
	Progress(r Record, st State) error
	// Done removes a job that needs no more work and, when st is not nil,
	// records the state of its (config, commit). A Record whose Seq is 0 —
	// never a recorded job — only records the state: the pipeline keeps a
	// config's own state so (a Record with the config's key and no
	// commit).
	Done(r Record, st *State) error
	// State returns the state of a (config, commit); the zero State when
	// unknown.
	State(key string) (State, error)
	// Prune deletes the states not updated since before and returns how
	// many it deleted.
	Prune(before time.Time) (int, error)
	// Check returns nil when the store takes writes, else why not.
	Check() error
	// Durable reports whether the records survive a restart of the host.
	Durable() bool
}

// ErrConflict is wrapped by a Shared store's write when another replica
// changed the state of the job's (config, commit) since this one read it:
// that replica delivers the pair now, so this one stops delivering the job
// and writes nothing more for it (compare-and-swap: two replicas never
// both record, nor both notify, an outcome).
var ErrConflict = errors.New("another replica changed the delivery state of this commit")

// Shared is a Store that several replicas of the host share. Every replica
// records the jobs it accepts (Add), but a job is delivered by the replica
// the store hands it to (Consume), which may be another one; a job whose
// replica died is handed to another. Writes of a pair's state are
// compare-and-swap against the state this replica last read (State) or
// wrote, failing with ErrConflict.
type Shared interface {
	Store
	// Consume calls add with every job this replica is to deliver, the
	// jobs of one pair in sequence order, until ctx ends. A job add
	// refuses (false: the replica is shutting down) is handed to another
	// replica. It returns nil when ctx ended.
	Consume(ctx context.Context, add func(Record) bool) error
}

// MemoryStore is a Store in memory, for a host without a data directory:
// nothing survives a restart.
type MemoryStore struct {
	mu     sync.Mutex
	seq    uint64
	jobs   map[uint64]Record
	states map[string]State
	now    func() time.Time
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{jobs: map[uint64]Record{}, states: map[string]State{}, now: time.Now}
}

// Add records a job.
func (m *MemoryStore) Add(r Record) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	r.Seq = m.seq
	m.jobs[r.Seq] = r
	return r.Seq, nil
}

// Pending returns the recorded jobs in sequence order.
func (m *MemoryStore) Pending() ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.jobs))
	slices.SortFunc(out, func(a, b Record) int { return cmpSeq(a.Seq, b.Seq) })
	return out, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Progress records a job's progress and its pair's state.
func (m *MemoryStore) Progress(r Record, st State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[r.Seq]; !ok {
		return fmt.Errorf("job %d is not recorded", r.Seq)
	}
	m.jobs[r.Seq] = r
	m.putState(r.Key(), st)
	return nil
}

// Done removes a job and records its pair's state.
func (m *MemoryStore) Done(r Record, st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.jobs, r.Seq)
	if st != nil {
		m.putState(r.Key(), *st)
	}
	return nil
}

func (m *MemoryStore) putState(key string, st State) {
	st = st.clone()
	st.Updated = m.now()
	m.states[key] = st
}

// State returns the state of key.
func (m *MemoryStore) State(key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[key].clone(), nil
}

// Prune deletes the states not updated since before.
func (m *MemoryStore) Prune(before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.states {
		if s.Updated.Before(before) {
			delete(m.states, k)
			n++
		}
	}
	return n, nil
}

// Check always succeeds.
func (m *MemoryStore) Check() error { return nil }

// Durable is false: a MemoryStore is lost with the process.
func (m *MemoryStore) Durable() bool { return false }

// Len returns the number of states held.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.states)
}
