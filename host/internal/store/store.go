// Package store keeps the pipeline's pending events and delivery state in a
// bbolt file in the data directory (--data-dir), so that the work of every
// event the host accepted survives a crash or a restart.
//
// The file holds three buckets: "jobs" (pending events by sequence number,
// big-endian, so iteration is arrival order), "states" (delivery state per
// (config, commit)) and "meta" (format version). Values are versioned JSON.
// Nothing in the file is secret: events name their config by key, and the
// token is looked up again when they are delivered.
//
// Every write commits and fsyncs before it returns. Concurrent writes are
// group-committed: a write that finds no commit in progress is committed at
// once, and the writes that arrive during a commit share the next one (one
// transaction, one fsync), so the number of fsyncs, not the number of
// events, bounds throughput, and a lone write waits for one commit only.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the store's file in the data directory.
const FileName = "gitops-connector.db"

// formatVersion is the version of the records; a file of a later version is
// refused rather than misread.
const formatVersion = 1

var (
	bucketJobs   = []byte("jobs")
	bucketStates = []byte("states")
	bucketMeta   = []byte("meta")
	keyFormat    = []byte("format")
)

// ErrCorrupted is wrapped by Open's error when the file is damaged or not a
// store.
var ErrCorrupted = errors.New("the store file is corrupted")

// unhealthyFor is how long a failed write makes Check fail: longer than
// the pipeline waits between its retries of a write (at most 10 s), so a
// store that keeps failing is reported without a gap, and short enough that
// recovery shows soon.
const unhealthyFor = 15 * time.Second

// Options configure Open.
type Options struct {
	// LockTimeout bounds the wait for another process to release the file;
	// default 10 s.
	LockTimeout time.Duration
	// openFile replaces os.OpenFile (tests inject failures with it).
	openFile func(string, int, os.FileMode) (*os.File, error)
}

// Bolt is a pipeline.Store in a bbolt file. It is safe for concurrent use.
type Bolt struct {
	db      *bolt.DB
	commits *committer
	path    string
	now     func() time.Time

	mu       sync.Mutex
	writeErr error // of the last write that failed
	failedAt time.Time
}

var _ pipeline.Store = (*Bolt)(nil)

// Open opens (creating when needed) the store in dir and verifies it: a
// damaged file is refused with an error wrapping ErrCorrupted that says what
// to do, never read as if it were empty.
func Open(dir string, opts Options) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	db, err := protect(func() (*bolt.DB, error) {
		return bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, OpenFile: opts.openFile})
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open the store %s: another process holds it (does another gitops-connector use this data directory?): %w", path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, errPanicked):
		return nil, corrupted(path, err)
	case err != nil:
		return nil, fmt.Errorf("open the store %s: %w", path, err)
	}
	syncDir(dir)
	s := &Bolt{db: db, path: path, now: time.Now}
	if err := s.verify(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketStates, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); v == nil {
			return meta.Put(keyFormat, []byte(fmt.Sprint(formatVersion)))
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialize the store %s: %w", path, err)
	}
	s.commits = newCommitter(db)
	return s, nil
}

// syncDir makes a newly created file's directory entry durable. It is best
// effort: some filesystems refuse to sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

var errPanicked = errors.New("reading the file failed")

// protect runs fn, turning a panic or a memory fault while bbolt reads a
// damaged file into an error.
func protect[T any](fn func() (T, error)) (v T, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanicked, r)
		}
	}()
	return fn()
}

func corrupted(path string, err error) error {
	return fmt.Errorf("%w: %s: %w; move the file aside to start with an empty store (the deliveries recorded in it are then not made)",
		ErrCorrupted, path, err)
}

// verify reads the whole file: every page reachable from the root, bbolt's
// consistency check, and every record. The file is bounded (delivered
// events are deleted, idle states pruned), so this is quick.
func (s *Bolt) verify() error {
	_, err := protect(func() (struct{}, error) {
		return struct{}{}, s.db.View(func(tx *bolt.Tx) error {
			if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error { return checkRecord(name, k, v) })
			}); err != nil {
				return err
			}
			var problems []string
			for err := range tx.Check() {
				if len(problems) < 5 {
					problems = append(problems, err.Error())
				}
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		})
	})
	if err != nil {
		return corrupted(s.path, err)
	}
	return nil
}

// checkRecord decodes one record of a bucket.
func checkRecord(bucket, k, v []byte) error {
	switch {
	case bytes.Equal(bucket, bucketJobs):
		if _, err := decodeJob(k, v); err != nil {
			return err
		}
	case bytes.Equal(bucket, bucketStates):
		if _, err := DecodeState(v); err != nil {
			return fmt.Errorf("state %q: %w", k, err)
		}
	case bytes.Equal(bucket, bucketMeta) && bytes.Equal(k, keyFormat):
		if string(v) != fmt.Sprint(formatVersion) {
			return fmt.Errorf("format %q, this gitops-connector reads format %d (was the file written by a later version?)", v, formatVersion)
		}
	case bytes.Equal(bucket, bucketMeta):
	default:
		return fmt.Errorf("unknown bucket %q", bucket)
	}
	return nil
}

// Close waits for the commit in progress and closes the file; writes made
// after it fail.
func (s *Bolt) Close() error {
	s.commits.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close the store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the store's file.
func (s *Bolt) Path() string { return s.path }

// write commits fn in a group commit and remembers whether writes work.
func (s *Bolt) write(fn func(*bolt.Tx) error) error {
	err := s.commits.write(fn)
	s.noteWrite(err)
	if err != nil {
		return fmt.Errorf("write the store %s: %w", s.path, err)
	}
	return nil
}

func (s *Bolt) noteWrite(err error) {
	if err == nil || errors.Is(err, errClosed) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeErr, s.failedAt = err, s.now()
}

// Check returns the error of the last failed write when it failed less than
// 15 s ago, else nil. A full disk thus shows until writes work again: small
// writes may still fit in the file while others, which need it to grow, do
// not, so one successful write does not prove the store healthy.
func (s *Bolt) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr == nil || s.now().Sub(s.failedAt) >= unhealthyFor {
		return nil
	}
	return fmt.Errorf("write the store %s: %w", s.path, s.writeErr)
}

// Durable is true.
func (s *Bolt) Durable() bool { return true }

// Add records a job and returns its sequence number.
func (s *Bolt) Add(r pipeline.Record) (uint64, error) {
	var seq uint64
	err := s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		seq = n
		r.Seq = n
		v, err := EncodeJob(r)
		if err != nil {
			return err
		}
		return b.Put(seqKey(n), v)
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// Pending returns the recorded jobs in sequence order.
func (s *Bolt) Pending() ([]pipeline.Record, error) {
	var out []pipeline.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			r, err := decodeJob(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the store %s: %w", s.path, err)
	}
	return out, nil
}

// Progress records a job's progress and its pair's state.
func (s *Bolt) Progress(r pipeline.Record, st pipeline.State) error {
	job, err := EncodeJob(r)
	if err != nil {
		return err
	}
	return s.write(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketJobs).Put(seqKey(r.Seq), job); err != nil {
			return err
		}
		return s.putState(tx, r.Key(), st)
	})
}

// Done removes a job and, when st is not nil, records its pair's state.
func (s *Bolt) Done(r pipeline.Record, st *pipeline.State) error {
	return s.write(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketJobs).Delete(seqKey(r.Seq)); err != nil {
			return err
		}
		if st == nil {
			return nil
		}
		return s.putState(tx, r.Key(), *st)
	})
}

func (s *Bolt) putState(tx *bolt.Tx, key string, st pipeline.State) error {
	st.Updated = s.now()
	v, err := EncodeState(st)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketStates).Put([]byte(key), v)
}

// State returns the state of a pair; the zero State when unknown.
func (s *Bolt) State(key string) (pipeline.State, error) {
	var st pipeline.State
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStates).Get([]byte(key))
		if v == nil {
			return nil
		}
		var err error
		st, err = DecodeState(v)
		return err
	})
	if err != nil {
		return pipeline.State{}, fmt.Errorf("read the state of %q from the store %s: %w", key, s.path, err)
	}
	return st, nil
}

// Prune deletes the states not updated since before.
func (s *Bolt) Prune(before time.Time) (int, error) {
	var stale [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStates).ForEach(func(k, v []byte) error {
			st, err := DecodeState(v)
			if err == nil && st.Updated.Before(before) {
				stale = append(stale, slices.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	n := 0
	err = s.write(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketStates)
		for _, k := range stale {
			// Only if still stale: a delivery may have updated it since.
			v := b.Get(k)
			if v == nil {
				continue
			}
			if st, err := DecodeState(v); err == nil && !st.Updated.Before(before) {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// jobJSON is a job record on disk.
type jobJSON struct {
	V          int          `json:"v"`
	ID         string       `json:"id"`
	Config     string       `json:"config"`
	Commit     string       `json:"commit"`
	Statuses   []statusJSON `json:"statuses"`
	Finished   bool         `json:"finished,omitempty"`
	Successful bool         `json:"successful,omitempty"`
	Received   time.Time    `json:"received"`
	Next       int          `json:"next,omitempty"`
	// DeployedWith: the job of a skipped commit (pipeline.Record).
	DeployedWith string `json:"deployed_with,omitempty"`
}

type statusJSON struct {
	Name        string    `json:"name"`
	State       sdk.State `json:"state"`
	RawState    string    `json:"raw_state,omitempty"`
	Description string    `json:"description,omitempty"`
	Genre       string    `json:"genre,omitempty"`
	Operator    string    `json:"operator,omitempty"`
}

// stateJSON is a pair's delivery state on disk.
type stateJSON struct {
	V        int               `json:"v"`
	Finished bool              `json:"finished,omitempty"`
	Posted   map[string]string `json:"posted,omitempty"`
	Notified []string          `json:"notified,omitempty"`
	// DeployedWith, Walked and LastFinished: see pipeline.State.
	DeployedWith string    `json:"deployed_with,omitempty"`
	Walked       bool      `json:"walked,omitempty"`
	LastFinished string    `json:"last_finished,omitempty"`
	Updated      time.Time `json:"updated"`
}

// EncodeJob encodes a job record (its Seq is the key, not in the value).
// Other stores of the pipeline (package jsstore) record jobs the same way.
func EncodeJob(r pipeline.Record) ([]byte, error) {
	j := jobJSON{V: formatVersion, ID: r.ID, Config: r.ConfigKey, Commit: r.CommitID,
		Finished: r.Finished, Successful: r.Successful, Received: r.Received.UTC(), Next: r.Next, DeployedWith: r.DeployedWith}
	for _, s := range r.Statuses {
		j.Statuses = append(j.Statuses, statusJSON{Name: s.Name, State: s.State, RawState: s.RawState,
			Description: s.Description, Genre: s.Genre, Operator: s.Operator})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", r.ID, err)
	}
	return b, nil
}

func decodeJob(k, v []byte) (pipeline.Record, error) {
	if len(k) != 8 {
		return pipeline.Record{}, fmt.Errorf("job key %x is not a sequence number", k)
	}
	return DecodeJob(binary.BigEndian.Uint64(k), v)
}

// DecodeJob decodes a job record written by EncodeJob, with its sequence
// number, and checks it.
func DecodeJob(seq uint64, v []byte) (pipeline.Record, error) {
	var j jobJSON
	if err := json.Unmarshal(v, &j); err != nil {
		return pipeline.Record{}, fmt.Errorf("job %d: %w", seq, err)
	}
	switch {
	case j.V != formatVersion:
		return pipeline.Record{}, fmt.Errorf("job %d: format %d, this gitops-connector reads format %d", seq, j.V, formatVersion)
	case j.Config == "" || j.Commit == "":
		return pipeline.Record{}, fmt.Errorf("job %d: no config or commit", seq)
	case j.Next < 0 || j.Next > len(j.Statuses):
		return pipeline.Record{}, fmt.Errorf("job %d: progress %d out of its %d statuses", seq, j.Next, len(j.Statuses))
	}
	r := pipeline.Record{Seq: seq, ID: j.ID, ConfigKey: j.Config, CommitID: j.Commit,
		Finished: j.Finished, Successful: j.Successful, Received: j.Received, Next: j.Next, DeployedWith: j.DeployedWith}
	for _, s := range j.Statuses {
		r.Statuses = append(r.Statuses, sdk.Status{Name: s.Name, State: s.State, RawState: s.RawState,
			Description: s.Description, Genre: s.Genre, Operator: s.Operator})
	}
	return r, nil
}

// EncodeState encodes a pair's delivery state.
func EncodeState(st pipeline.State) ([]byte, error) {
	j := stateJSON{V: formatVersion, Finished: st.Finished, Posted: st.Posted, Updated: st.Updated.UTC(),
		DeployedWith: st.DeployedWith, Walked: st.Walked, LastFinished: st.LastFinished}
	for outcome, told := range st.Notified {
		if told {
			j.Notified = append(j.Notified, outcome)
		}
	}
	slices.Sort(j.Notified)
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode delivery state: %w", err)
	}
	return b, nil
}

// DecodeState decodes a pair's delivery state written by EncodeState.
func DecodeState(v []byte) (pipeline.State, error) {
	var j stateJSON
	if err := json.Unmarshal(v, &j); err != nil {
		return pipeline.State{}, err
	}
	if j.V != formatVersion {
		return pipeline.State{}, fmt.Errorf("format %d, this gitops-connector reads format %d", j.V, formatVersion)
	}
	st := pipeline.State{Finished: j.Finished, Posted: j.Posted, Notified: map[string]bool{}, Updated: j.Updated,
		DeployedWith: j.DeployedWith, Walked: j.Walked, LastFinished: j.LastFinished}
	for _, o := range j.Notified {
		st.Notified[o] = true
	}
	return st, nil
}
