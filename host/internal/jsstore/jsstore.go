// Package jsstore is the pipeline's store on NATS JetStream, shared by
// several replicas of the host (--queue nats://...).
//
// Jobs: every replica publishes the events it accepts to one stream
// (work-queue retention, replicated), on the subject of the job's
// partition, a hash of its (config, commit). The publish carries the
// notification's DedupID as Nats-Msg-Id, so a sender's retry within the
// stream's duplicate window is recorded once, and Add returns only once
// JetStream acknowledged the message (stored on a majority of its
// replicas).
//
// Delivery: one durable pull consumer per partition, with the priority
// policy pinned_client: every replica pulls from every partition, the
// server hands a partition's messages to one of them (the pinned one) and
// pins another when that one stops pulling for PinnedTTL or leaves. The
// pipeline delivers the pairs of its partitions in parallel. A replica
// holds the messages it was handed (in progress, renewed every AckWait/3)
// until their job is done, when it acknowledges them; a replica that dies
// stops renewing, and after AckWait its messages are redelivered to the
// replica pinned next. Order per pair: the jobs of a pair share a subject,
// and a replica handed a job delivers it only when no older job of the
// pair is left in the stream that it does not hold itself; else it hands
// it back for a while (olderElsewhere). A pinned reader alone does not
// keep the order: a replica that leaves or stalls loses its pin before its
// messages are redelivered.
//
// State: the delivery state of every pair lives in a key-value bucket,
// with the progress of the pair's job in flight and the sequence of its
// last finished job. Writes are compare-and-swap against the revision this
// replica last read or wrote (pipeline.ErrConflict), so two replicas never
// both record an outcome, and a job redelivered after its state was
// recorded but before its acknowledgement is acknowledged, not delivered
// again.
package jsstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure Open.
type Options struct {
	// URL is the server's address, or several, comma-separated.
	URL string
	// Connect adds connection options: TLS and credentials (package
	// natsconn builds them from files).
	Connect []nats.Option
	// Name prefixes the stream, bucket and subject names; default
	// "gitops-connector". Connectors with different names share nothing.
	Name string
	// Replicas is the stream's and bucket's number of copies; default 3.
	Replicas int
	// Partitions is the number of partitions of the jobs; default 16. It
	// cannot change while jobs are pending.
	Partitions int
	// AckWait is how long a job handed to a replica that stopped renewing
	// it waits before it is handed out again; default 30 s.
	AckWait time.Duration
	// PinnedTTL is how long a partition waits for its replica to pull
	// before another one is pinned. A dead replica pulled last up to one
	// pull's expiry (AckWait/3, at least 1 s) before it died and renewed
	// its messages until it died, so PinnedTTL is at least AckWait + that
	// expiry + 1 s: the next replica is pinned about when the dead one's
	// messages are due again, rather than find the newer jobs of their
	// pairs waiting for them (order does not depend on it). Default
	// AckWait + 2 expiries + 1 s (52 s for the default AckWait).
	PinnedTTL time.Duration
	// Duplicates is the window in which a notification sent again is
	// recorded once; default 10 min.
	Duplicates time.Duration
	// Timeout bounds one request to JetStream; default 10 s.
	Timeout time.Duration
	Logger  *slog.Logger
}

const (
	group        = "deliver"
	formatV      = 1
	unhealthyFor = 15 * time.Second
)

// Store is a pipeline.Shared store on JetStream. It is safe for concurrent
// use.
type Store struct {
	opts    Options
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  string
	bucket  string
	subject string

	setupMu sync.Mutex
	events  jetstream.Stream
	states  jetstream.KeyValue

	mu       sync.Mutex
	known    map[string]known         // pair key → its entry as last read or written here
	held     map[uint64]jetstream.Msg // messages handed to this replica, by stream sequence
	writeErr error
	failedAt time.Time
}

// known is a pair's entry at a revision.
type known struct {
	rev   uint64
	entry entry
	// stale: a write failed with a conflict; writes fail until the state
	// is read again.
	stale bool
}

// entry is a pair's value in the bucket.
type entry struct {
	V     int             `json:"v"`
	State json.RawMessage `json:"state,omitempty"`
	// Job and Next: the job in flight and the index of its next status.
	Job  uint64 `json:"job,omitempty"`
	Next int    `json:"next,omitempty"`
	// Done is the sequence of the pair's last finished job.
	Done uint64 `json:"done,omitempty"`
}

var _ pipeline.Shared = (*Store)(nil)

// Open connects to JetStream. A server that cannot be reached is not an
// error: the client reconnects in the background, and until the stream and
// bucket are ready Check and writes fail with the reason (the host answers
// 503 and is not ready).
func Open(opts Options) (*Store, error) {
	if opts.Name == "" {
		opts.Name = "gitops-connector"
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 3
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 16
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 30 * time.Second
	}
	if least := opts.AckWait + opts.pullExpiry() + time.Second; opts.PinnedTTL < least {
		opts.PinnedTTL = least + opts.pullExpiry()
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = 10 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger
	connect := append([]nats.Option{
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// No buffering while disconnected: a publish fails at once, and the
		// event is answered 503, rather than be stored later or never.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS; reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted()) }),
	}, opts.Connect...)
	nc, err := nats.Connect(opts.URL, connect...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", redact(opts.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	s := &Store{opts: opts, nc: nc, js: js, stream: opts.Name + "-events", bucket: opts.Name + "-states",
		subject: opts.Name + ".events", known: map[string]known{}, held: map[uint64]jetstream.Msg{}}
	if _, _, err := s.ready(); err != nil {
		log.Warn("JetStream is not ready yet; events are refused until it is", "error", err)
	}
	return s, nil
}

// redact drops credentials from server URLs for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// JetStream returns the store's JetStream client (for the leader lock).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Name returns the prefix of the store's names.
func (s *Store) Name() string { return s.opts.Name }

// Replicas returns the number of copies JetStream keeps of the stream and
// the bucket.
func (s *Store) Replicas() int { return s.opts.Replicas }

// Close stops the connection. Jobs handed to this replica and not done are
// handed out again after AckWait.
func (s *Store) Close() error {
	s.nc.Close()
	return nil
}

// ready creates the stream and the bucket when they are not there yet and
// returns them.
func (s *Store) ready() (jetstream.Stream, jetstream.KeyValue, error) {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.events != nil {
		return s.events, s.states, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	events, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        s.stream,
		Description: "gitops-connector: accepted events waiting for delivery",
		Subjects:    []string{s.subject + ".*.*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
		Duplicates:  s.opts.Duplicates,
		// Reads go to the leader: a follower behind it could miss an older
		// job of a pair (see olderElsewhere).
		AllowDirect: false,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create the JetStream stream %s: %w", s.stream, err)
	}
	_, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.bucket,
		Description: "gitops-connector: delivery state per (config, commit)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create the JetStream key-value bucket %s: %w", s.bucket, err)
	}
	states, err := s.leaderReads(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.events, s.states = events, states
	return events, states, nil
}

// leaderReads makes the bucket's reads go to its leader, as the stream's:
// nats.go creates a bucket whose followers answer reads too (direct get),
// and a follower answers with the entry it has applied, which can be older
// than one this replica has just written and the leader acknowledged. A
// state read after it was recorded could then miss it, and Prune miss a
// state to delete. The bucket is bound again to read as the stream now says.
// A replica creating or updating the bucket (Open) turns direct reads on
// again for a moment: one opening then too reads from followers, as before
// this, which makes a stale read a conflict on the next write, never a lost
// write (writes are compare-and-swap).
func (s *Store) leaderReads(ctx context.Context) (jetstream.KeyValue, error) {
	stream, err := s.js.Stream(ctx, "KV_"+s.bucket)
	if err != nil {
		return nil, fmt.Errorf("read the JetStream key-value bucket %s: %w", s.bucket, err)
	}
	if cfg := stream.CachedInfo().Config; cfg.AllowDirect {
		cfg.AllowDirect = false
		if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("make the reads of the JetStream key-value bucket %s go to its leader: %w", s.bucket, err)
		}
	}
	states, err := s.js.KeyValue(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("bind the JetStream key-value bucket %s: %w", s.bucket, err)
	}
	return states, nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// noteWrite remembers whether writes work, for Check.
func (s *Store) noteWrite(err error) {
	if err == nil || errors.Is(err, pipeline.ErrConflict) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeErr, s.failedAt = err, time.Now()
}

// Check returns why events cannot be recorded now: no connection to NATS,
// the stream or bucket missing, or a write that failed less than 15 s ago.
func (s *Store) Check() error {
	if st := s.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("not connected to NATS (%s)", st)
	}
	if _, _, err := s.ready(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil && time.Since(s.failedAt) < unhealthyFor {
		return fmt.Errorf("write to JetStream: %w", s.writeErr)
	}
	return nil
}

// Durable is true.
func (s *Store) Durable() bool { return true }

// partition returns the partition of a pair: an FNV-1a hash, as
// deterministic as NATS's own subject-mapping partitions, computed here
// because a config key and commit are not subject tokens.
func (s *Store) partition(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(s.opts.Partitions))
}

// pairSubject returns the subject of a pair's jobs:
// <name>.events.<partition>.<hash of the pair>. The pair's own subject lets
// a replica find the older jobs of a pair still in the stream (a hash
// shared by two pairs only makes one wait for the other's older job).
func (s *Store) pairSubject(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return fmt.Sprintf("%s.%d.%016x", s.subject, s.partition(key), h.Sum64())
}

// Add publishes a job and returns its stream sequence once JetStream
// acknowledged it; a retry of a notification recorded already returns the
// sequence of the first.
func (s *Store) Add(r pipeline.Record) (uint64, error) {
	if _, _, err := s.ready(); err != nil {
		s.noteWrite(err)
		return 0, err
	}
	data, err := store.EncodeJob(r)
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(s.pairSubject(r.Key()))
	msg.Data = data
	if r.DedupID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, r.DedupID)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg)
	s.noteWrite(err)
	if err != nil {
		return 0, fmt.Errorf("publish to JetStream stream %s: %w", s.stream, err)
	}
	return ack.Sequence, nil
}

// Pending returns the jobs in the stream, in sequence order, with their
// recorded progress.
func (s *Store) Pending() ([]pipeline.Record, error) {
	events, states, err := s.ready()
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	info, err := events.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the JetStream stream %s: %w", s.stream, err)
	}
	var out []pipeline.Record
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := events.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read message %d of the JetStream stream %s: %w", seq, s.stream, err)
		}
		r, err := store.DecodeJob(seq, m.Data)
		if err != nil {
			return nil, err
		}
		e, _, err := s.read(ctx, states, r.Key())
		if err != nil {
			return nil, err
		}
		if e.Job == seq {
			r.Next = e.Next
		}
		out = append(out, r)
	}
	return out, nil
}

// kvKey is a pair key as a bucket key (which allows only [-/_=.a-zA-Z0-9]).
func kvKey(pair string) string { return base64.RawURLEncoding.EncodeToString([]byte(pair)) }

// read returns a pair's entry and revision; revision 0 when it has none.
func (s *Store) read(ctx context.Context, states jetstream.KeyValue, pair string) (entry, uint64, error) {
	kv, err := states.Get(ctx, kvKey(pair))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return entry{V: formatV}, 0, nil
	}
	if err != nil {
		return entry{}, 0, fmt.Errorf("read the delivery state of %q from JetStream: %w", pair, err)
	}
	var e entry
	if err := json.Unmarshal(kv.Value(), &e); err != nil {
		return entry{}, 0, fmt.Errorf("the delivery state of %q in JetStream does not decode: %w", pair, err)
	}
	if e.V != formatV {
		return entry{}, 0, fmt.Errorf("the delivery state of %q has format %d, this gitops-connector reads format %d", pair, e.V, formatV)
	}
	return e, kv.Revision(), nil
}

// State returns a pair's state and remembers its revision for the writes
// that follow.
func (s *Store) State(key string) (pipeline.State, error) {
	_, states, err := s.ready()
	if err != nil {
		return pipeline.State{}, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	e, rev, err := s.read(ctx, states, key)
	if err != nil {
		return pipeline.State{}, err
	}
	s.remember(key, known{rev: rev, entry: e})
	if e.State == nil {
		return pipeline.State{}, nil
	}
	return store.DecodeState(e.State)
}

// write changes a pair's entry with compare-and-swap against the revision
// last read or written here.
func (s *Store) write(key string, change func(*entry) error) error {
	_, states, err := s.ready()
	if err != nil {
		s.noteWrite(err)
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	s.mu.Lock()
	k, ok := s.known[key]
	s.mu.Unlock()
	if !ok {
		e, rev, err := s.read(ctx, states, key)
		if err != nil {
			return err
		}
		k = known{rev: rev, entry: e}
	}
	if k.stale {
		return fmt.Errorf("%w: %q", pipeline.ErrConflict, key)
	}
	e := k.entry
	if err := change(&e); err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode the delivery state of %q: %w", key, err)
	}
	var rev uint64
	if k.rev == 0 {
		rev, err = states.Create(ctx, kvKey(key), v)
	} else {
		rev, err = states.Update(ctx, kvKey(key), v, k.rev)
	}
	// A Create finding the key, or an Update finding a newer revision:
	// another replica wrote the pair. On a replicated bucket the server
	// reports the latter with another code than on a single server, which
	// nats.go maps to ErrKeyRevisionMismatch only.
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		s.mu.Lock()
		s.known[key] = known{stale: true}
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", pipeline.ErrConflict, key)
	}
	s.noteWrite(err)
	if err != nil {
		return fmt.Errorf("write the delivery state of %q to JetStream: %w", key, err)
	}
	s.remember(key, known{rev: rev, entry: e})
	return nil
}

// remember keeps a pair's entry unless a newer revision is known: a read
// that overtook a write (another goroutine of this replica reads the pair)
// must not make this replica's next write conflict with its own.
func (s *Store) remember(key string, k known) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.known[key]; ok && !old.stale && old.rev > k.rev {
		return
	}
	s.known[key] = k
}

func encodeState(st pipeline.State) (json.RawMessage, error) {
	st.Updated = time.Now()
	return store.EncodeState(st)
}

// Progress records a job's progress and its pair's state.
func (s *Store) Progress(r pipeline.Record, st pipeline.State) error {
	return s.handOverOnConflict(r, s.write(r.Key(), func(e *entry) error {
		v, err := encodeState(st)
		e.State, e.Job, e.Next = v, r.Seq, r.Next
		return err
	}))
}

// handOverOnConflict releases the job's message when another replica took
// its pair over: this one writes nothing more for it, and JetStream hands
// it out again.
func (s *Store) handOverOnConflict(r pipeline.Record, err error) error {
	if errors.Is(err, pipeline.ErrConflict) {
		s.mu.Lock()
		m := s.held[r.Seq]
		s.mu.Unlock()
		if m != nil {
			s.release(r.Seq, m)
		}
	}
	return err
}

// Done records the pair's state (when st is not nil) with the job as its
// last finished one, then removes the job from the stream.
func (s *Store) Done(r pipeline.Record, st *pipeline.State) error {
	if st != nil {
		err := s.write(r.Key(), func(e *entry) error {
			v, err := encodeState(*st)
			e.State, e.Done = v, max(e.Done, r.Seq)
			if e.Job == r.Seq {
				e.Job, e.Next = 0, 0
			}
			return err
		})
		if err != nil {
			return s.handOverOnConflict(r, err)
		}
		s.mu.Lock()
		delete(s.known, r.Key()) // the pair's next job reads it again
		s.mu.Unlock()
	}
	if r.Seq == 0 {
		return nil // a state without a job (the config's last deployed commit)
	}
	return s.remove(r.Seq)
}

// remove acknowledges a job handed to this replica, or deletes it from the
// stream when it was not handed out (the job of a store that does not
// consume).
func (s *Store) remove(seq uint64) error {
	s.mu.Lock()
	msg := s.held[seq]
	s.mu.Unlock()
	ctx, cancel := s.ctx()
	defer cancel()
	var err error
	if msg != nil {
		err = msg.DoubleAck(ctx)
	} else {
		err = s.events.DeleteMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = nil
		}
	}
	s.noteWrite(err)
	if err != nil {
		return fmt.Errorf("remove job %d from the JetStream stream %s: %w", seq, s.stream, err)
	}
	s.mu.Lock()
	delete(s.held, seq)
	s.mu.Unlock()
	return nil
}

// Prune deletes the states not updated since before, unless a job is in
// flight for them or another replica changed them meanwhile.
func (s *Store) Prune(before time.Time) (int, error) {
	_, states, err := s.ready()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.opts.Timeout)
	defer cancel()
	keys, err := states.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list the delivery states in JetStream: %w", err)
	}
	n := 0
	for k := range keys.Keys() {
		kv, err := states.Get(ctx, k)
		if err != nil {
			continue
		}
		var e entry
		if json.Unmarshal(kv.Value(), &e) != nil || e.Job != 0 || e.State == nil {
			continue
		}
		st, err := store.DecodeState(e.State)
		if err != nil || !st.Updated.Before(before) {
			continue
		}
		if err := states.Purge(ctx, k, jetstream.LastRevision(kv.Revision())); err != nil {
			continue // changed since: not idle
		}
		n++
	}
	if n > 0 {
		s.mu.Lock()
		clear(s.known)
		s.mu.Unlock()
	}
	return n, nil
}

// pullExpiry is how long one pull request of the consumers waits.
func (o Options) pullExpiry() time.Duration { return max(time.Second, o.AckWait/3) }
