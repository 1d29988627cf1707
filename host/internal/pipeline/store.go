package pipeline

import (
	"maps"
	"sync"
	"time"
)

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
	// Updated is when the state last changed.
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

// Store keeps the State of every (config, commit). The pipeline reads and
// writes one key from one goroutine at a time.
type Store interface {
	Load(key string) (State, error)
	Save(key string, st State) error
}

// MemoryStore is a Store in memory. States idle for longer than ttl are
// dropped, so memory stays bounded over weeks of operation.
type MemoryStore struct {
	mu        sync.Mutex
	states    map[string]State
	ttl       time.Duration
	lastPrune time.Time
	now       func() time.Time
}

// NewMemoryStore returns an empty store that forgets states idle for ttl.
func NewMemoryStore(ttl time.Duration) *MemoryStore {
	return &MemoryStore{states: map[string]State{}, ttl: ttl, now: time.Now}
}

// Load returns the state of key (an empty state when unknown).
func (m *MemoryStore) Load(key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[key].clone(), nil
}

// Save stores the state of key and prunes idle states now and then.
func (m *MemoryStore) Save(key string, st State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	st = st.clone()
	st.Updated = now
	m.states[key] = st
	if now.Sub(m.lastPrune) > m.ttl/10 {
		m.lastPrune = now
		for k, s := range m.states {
			if now.Sub(s.Updated) > m.ttl {
				delete(m.states, k)
			}
		}
	}
	return nil
}

// Len returns the number of states held.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.states)
}
