// Package pipeline delivers the work of accepted events: commit statuses to
// the repository and raw subscribers, and the completion notice to the
// orchestrator.
//
// Semantics:
//   - Submit returns only once the job is recorded in the Store; with a
//     durable store, a job whose Submit returned nil is delivered even if
//     the host restarts, and pending jobs resume in their original order;
//   - events for different (config, commit) pairs are delivered in parallel;
//     events for one pair in arrival order, and the statuses of one event in
//     the order the operator produced them, across retries and restarts;
//   - while the API keeps up, every status is posted; once a pair falls
//     behind (an attempt failed, or its jobs were resumed after a restart),
//     a status is not posted when a later event of the pair, already
//     queued, has a status for the same context: only the newest state
//     matters to the API (raw subscribers still receive it). The pair
//     catches up when its queue is empty;
//   - once a pair has finished, later events post only statuses that differ
//     from the last one posted for their context (Flux repeats
//     ReconciliationSucceeded on every interval);
//   - the orchestrator is told at most once per outcome of a pair: a success
//     after a failure is told, a repeated success is not; that it was told
//     is recorded in the store before the job is removed;
//   - a config with required environments tells a success only once the
//     commit's statuses show every one of them succeeded (package gate);
//     until then the job stays in the store with its gate open, read again
//     with backoff and whenever another event of the commit is submitted,
//     until MaxAge (decide);
//   - retryable plugin errors are retried with exponential backoff and
//     jitter, honouring the retry-after a plugin reports, until the event is
//     older than MaxAge, when the rest of the event is given up; permanent
//     errors are not retried. Both are logged with the reason and reported
//     to OnGiveUp.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/gate"
	"github.com/gitops-connector/gitops-connector/host/internal/repobind"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/sdk"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Job is the work of one accepted event.
type Job struct {
	// ID identifies the event in logs.
	ID string
	// Config is the config the event was routed to. Only its key is
	// recorded; see Options.Resolve.
	Config   config.Config
	CommitID string
	// Statuses to post, in order (names already carry the status context).
	Statuses   []sdk.Status
	Finished   bool
	Successful bool
	Received   time.Time
	// DedupID identifies the notification (Record.DedupID).
	DedupID string
}

// Key identifies the (config, commit) a job belongs to.
func (j Job) Key() string { return pairKey(j.Config.Key(), j.CommitID) }

// Plugins gives the repository and orchestrator of a type.
type Plugins interface {
	Repository(typ string) (sdk.Repository, error)
	Orchestrator(typ string) (sdk.Orchestrator, error)
}

// Subscribers sends raw status JSON.
type Subscribers interface {
	Send(ctx context.Context, s subscriber.Subscriber, p subscriber.Payload) error
}

// Reasons for giving work up, in GiveUp.Reason.
const (
	// ReasonMaxAge: the work kept failing with retryable errors until the
	// event was older than Options.MaxAge.
	ReasonMaxAge = "MaxAgeExceeded"
	// ReasonPermanent: the plugin reported an error that retrying cannot
	// fix (permission denied, not found, invalid input, ...).
	ReasonPermanent = "PermanentError"
	// ReasonConfigUnavailable: the event's config no longer exists or is
	// invalid.
	ReasonConfigUnavailable = "ConfigUnavailable"
	// ReasonNoPlugin: no plugin serves the config's repository or
	// orchestrator type.
	ReasonNoPlugin = "PluginUnavailable"
)

// Steps of delivering an event, in GiveUp.Step.
const (
	StepEvent  = "deliver event"
	StepStatus = "post status"
	StepNotify = "notify orchestrator"
	// StepSkipped is listing the commits a finished deployment skipped.
	StepSkipped = "list skipped commits"
)

// GiveUp describes work the pipeline stopped trying to deliver.
type GiveUp struct {
	Event     string
	ConfigKey string
	CommitID  string
	// Step is StepStatus, StepNotify, or StepEvent when the whole event was
	// dropped.
	Step string
	// Status is the context of the status given up (StepStatus only).
	Status string
	// Reason is one of the Reason constants.
	Reason string
	Err    error
}

// Outcomes of a status, told to Observer.StatusDone.
const (
	StatusPosted     = "posted"
	StatusUnchanged  = "unchanged"  // finished pair, same as the last posted
	StatusSuperseded = "superseded" // behind, a later queued event has the context
	StatusFailed     = "failed"     // permanent error
	StatusExpired    = "expired"    // retried until the maximum age
)

// Outcomes of telling the orchestrator, told to Observer.NotificationDone.
const (
	NotifyNotified        = "notified"
	NotifyNothingToNotify = "nothing_to_notify" // the plugin found no waiting pipeline
	NotifyAlreadyNotified = "already_notified"  // this outcome was told before
	NotifyFailed          = "failed"            // permanent error
	NotifyExpired         = "expired"           // retried until the maximum age
	NotifyNoPlugin        = "no_plugin"
	// NotifyKeptOwnOutcome: a skipped commit finished on its own before its
	// job ran, and keeps its own outcome.
	NotifyKeptOwnOutcome = "kept_own_outcome"
)

// Observer is told what becomes of the work, for metrics. Its methods are
// called from the delivery goroutines and must not block. Types are the
// config's repository or orchestrator type (GITHUB, AZDO, ...).
type Observer interface {
	// StatusDone is told the outcome of one status of an event.
	StatusDone(repositoryType, outcome string)
	// NotificationDone is told the outcome of a finished event's
	// notification.
	NotificationDone(orchestratorType, outcome string)
	// Retrying is told each time a failed call is retried; step is
	// StepStatus, StepNotify or StepSkipped.
	Retrying(step, pluginType string)
	// SkippedNotificationDone is told the outcome of the notification of a
	// commit the operator skipped (NotificationDone is not).
	SkippedNotificationDone(orchestratorType, outcome string)
	// SkippedWalk is told what each look for skipped commits found (Walk*).
	SkippedWalk(result string)
}

// Options configure a Pipeline.
type Options struct {
	Plugins Plugins
	// Store records jobs and delivery state; default a MemoryStore.
	Store Store
	// Resolve returns the current config of a key. Jobs are delivered with
	// the config Resolve returns when they start, so credentials and
	// settings are current, and jobs resumed from the store (which holds no
	// token) get their config back. A job whose config Resolve does not
	// find is dropped. When nil, jobs use the config they were submitted
	// with, and resumed jobs are dropped.
	Resolve func(key string) (config.Config, error)
	// OnGiveUp, when set, is told of every piece of work given up. It must
	// not block.
	OnGiveUp func(GiveUp)
	// Observer, when set, is told the outcome of every status and
	// notification, and every retry.
	Observer Observer
	Logger   *slog.Logger
	// SubscriberList and SubscriberClient: raw JSON receivers.
	SubscriberList   []subscriber.Subscriber
	SubscriberClient Subscribers
	// MaxAge is how long an event's work is retried before it is given up;
	// default 24 h.
	MaxAge time.Duration
	// CallTimeout bounds one plugin call; default 60 s.
	CallTimeout time.Duration
	// InitialBackoff is the first retry delay; default 1 s.
	InitialBackoff time.Duration
	// MaxBackoff caps the retry delay; default 5 min.
	MaxBackoff time.Duration
	// Concurrency bounds the pairs delivered at once; default
	// sdk.MaxConcurrentCalls (64), which plugins size their connection
	// pools for.
	Concurrency int
	// StateTTL is how long the state of a pair is kept after its last
	// change; default 7 days.
	StateTTL time.Duration
	// PruneInterval is how often idle states are pruned; default 1 h.
	PruneInterval time.Duration
	// GateInitialInterval and GateMaxInterval bound the waits between
	// reads of an open gate (see decide); default 15 s and 5 min.
	GateInitialInterval time.Duration
	GateMaxInterval     time.Duration
	// SkippedMaxCommits bounds the commits listed to find the ones a
	// deployment skipped; default sdk.DefaultMaxCommits (100).
	SkippedMaxCommits int
}

// stateCacheSize bounds the states kept in memory (a few hundred bytes
// each): more than the commits a connector sees deployed at once.
const stateCacheSize = 1024

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("the pipeline is shutting down")

// errExpired marks work given up at the event's maximum age.
var errExpired = errors.New("older than the maximum age")

// Pipeline delivers jobs.
type Pipeline struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	now    func() time.Time
	// shared is the store when replicas share it: jobs are then delivered
	// as it hands them out, not as they are submitted here.
	shared Shared

	// states holds the delivery state of recently delivered pairs as last
	// written to the store, so a repeated event for a known commit (what
	// Flux sends every interval) does not read and decode it again.
	states *lru.Cache[string, State]
	// gates holds the jobs of open gates until they are read again.
	gates *gate.Waits[*entry]
	// walks serializes the look for skipped commits per config.
	walks walkLocks

	mu       sync.Mutex
	queues   map[string]*queue
	resumed  int
	started  bool
	closed   bool
	stopping bool // durable store: drains start no new job
	wg       sync.WaitGroup
	bg       sync.WaitGroup
}

// queue holds the jobs of one (config, commit).
type queue struct {
	waiting  []*entry
	current  *entry
	draining bool
	// behind is set when an attempt failed or the jobs were resumed:
	// superseded statuses are then skipped.
	behind bool
}

// entry is one queued job.
type entry struct {
	rec Record
	// cfg is the config the job was submitted with; nil when resumed.
	cfg *config.Config
	// gateReads counts the reads of the job's open gate.
	gateReads int
}

// New returns a pipeline holding the jobs pending in the store. It delivers
// nothing before Start.
func New(opts Options) (*Pipeline, error) {
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = sdk.MaxConcurrentCalls
	}
	if opts.StateTTL <= 0 {
		opts.StateTTL = 7 * 24 * time.Hour
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = time.Hour
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	shared, _ := opts.Store.(Shared)
	var pending []Record
	if shared == nil {
		var err error
		if pending, err = opts.Store.Pending(); err != nil {
			return nil, fmt.Errorf("read the pending events: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	states, err := lru.New[string, State](stateCacheSize)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("state cache: %w", err)
	}
	p := &Pipeline{opts: opts, ctx: ctx, cancel: cancel, sem: make(chan struct{}, opts.Concurrency),
		now: time.Now, shared: shared, states: states, queues: map[string]*queue{}, resumed: len(pending)}
	p.gates = &gate.Waits[*entry]{Due: p.reopen}
	for _, r := range pending {
		p.enqueue(r.Key(), &entry{rec: r}).behind = true
	}
	return p, nil
}

// Start begins delivering: first the jobs resumed from the store, in their
// order, then the submitted ones. Call it once the configs are loaded, so
// Resolve finds them. Calling it again does nothing.
func (p *Pipeline) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return
	}
	p.started = true
	if p.resumed > 0 {
		p.opts.Logger.Info("resuming events recorded before the restart", "events", p.resumed, "commits", len(p.queues))
	}
	for key, q := range p.queues {
		p.startDrain(key, q)
	}
	p.bg.Add(1)
	go p.pruneLoop()
	if p.shared != nil {
		p.bg.Add(1)
		go p.consume()
	}
}

// consume queues the jobs the shared store hands this replica, until
// Close.
func (p *Pipeline) consume() {
	defer p.bg.Done()
	err := p.shared.Consume(p.ctx, func(r Record) bool {
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return false
		}
		key := r.Key()
		p.startDrain(key, p.enqueue(key, &entry{rec: r}))
		p.mu.Unlock()
		p.gates.Wake(r.CommitID, key) // as Submit does
		return true
	})
	if err != nil {
		p.opts.Logger.Error("cannot take events from the shared store; this replica delivers none", "error", err)
	}
}

// Submit records a job and queues it behind the earlier jobs of its
// (config, commit), and returns Recorded once the job is recorded in the
// store; the error says why it could not be. A job whose delivery would
// change nothing (changesNothing: Flux's repeat of a finished commit) is
// neither recorded nor queued: Submit returns Unchanged.
func (p *Pipeline) Submit(job Job) (Submitted, error) {
	if job.Received.IsZero() {
		job.Received = p.now()
	}
	key := job.Key()
	p.mu.Lock()
	closed := p.closed
	nothing := !closed && p.changesNothing(job, key)
	p.mu.Unlock()
	if closed {
		return Recorded, ErrClosed
	}
	if nothing {
		p.unchanged(job)
		return Unchanged, nil
	}
	cfg := job.Config
	rec := Record{
		ID: job.ID, ConfigKey: cfg.Key(), CommitID: job.CommitID, Statuses: slices.Clone(job.Statuses),
		Finished: job.Finished, Successful: job.Successful, Received: job.Received, DedupID: job.DedupID,
	}
	seq, err := p.opts.Store.Add(rec)
	if err != nil {
		return Recorded, fmt.Errorf("cannot record the event: %w", err)
	}
	if p.shared != nil {
		return Recorded, nil // delivered by the replica the store hands it to
	}
	rec.Seq = seq
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		if p.opts.Store.Durable() {
			return Recorded, nil // recorded: delivered after the next start
		}
		return Recorded, ErrClosed
	}
	q := p.enqueue(key, &entry{rec: rec, cfg: &cfg})
	if p.started {
		p.startDrain(key, q)
	}
	p.mu.Unlock()
	// Another environment's result may have arrived with the commit's
	// event: read the commit's open gates again now.
	p.gates.Wake(rec.CommitID, key)
	return Recorded, nil
}

// queueHere queues a recorded job for delivery by this replica, unless the
// store is shared: it then hands the job to the replica that delivers its
// pair.
func (p *Pipeline) queueHere(e *entry) {
	if p.shared != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.rec.Key()
	q := p.enqueue(key, e)
	if p.started {
		p.startDrain(key, q)
	}
}

// enqueue inserts e among the waiting jobs of its pair, key, in sequence
// order. p.mu must be held (or p not shared yet).
func (p *Pipeline) enqueue(key string, e *entry) *queue {
	q := p.queues[key]
	if q == nil {
		q = &queue{}
		p.queues[key] = q
	}
	i := len(q.waiting)
	for i > 0 && q.waiting[i-1].rec.Seq > e.rec.Seq {
		i--
	}
	q.waiting = slices.Insert(q.waiting, i, e)
	return q
}

// startDrain starts delivering a pair's queue unless it is already being
// delivered. p.mu must be held.
func (p *Pipeline) startDrain(key string, q *queue) {
	if q.draining || len(q.waiting) == 0 || p.stopping {
		return
	}
	q.draining = true
	p.wg.Add(1)
	go p.drain(key, q)
}

// Pending returns the number of queued jobs, in flight included.
func (p *Pipeline) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.queues {
		n += len(q.waiting)
		if q.current != nil {
			n++
		}
	}
	return n
}

// OldestAge returns how long ago the oldest queued job (in flight
// included) was accepted, or 0 when none is queued.
func (p *Pipeline) OldestAge() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Time
	older := func(e *entry) {
		if e != nil && (oldest.IsZero() || e.rec.Received.Before(oldest)) {
			oldest = e.rec.Received
		}
	}
	for _, q := range p.queues {
		older(q.current)
		for _, e := range q.waiting {
			older(e)
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(p.now().Sub(oldest), 0)
}

// Health returns nil when the store takes writes, else why it does not: the
// host must then not accept events.
func (p *Pipeline) Health() error {
	if err := p.opts.Store.Check(); err != nil {
		return fmt.Errorf("the event store does not take writes: %w", err)
	}
	return nil
}

// Close stops accepting jobs and gives the deliveries the grace period of
// ctx; then it cancels the deliveries still in flight.
//
// With a durable store, only the jobs in flight are continued: the others
// stay recorded for the next start, as does the rest of an interrupted job,
// and Close returns nil. With a memory store, every queued job is delivered
// if the grace period allows, and Close reports how many were not.
func (p *Pipeline) Close(ctx context.Context) error {
	durable := p.opts.Store.Durable()
	p.mu.Lock()
	p.closed = true
	p.stopping = durable
	p.mu.Unlock()
	// Open gates are not read again: a durable store keeps their jobs.
	gates := p.gates.Len()
	p.gates.Stop()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var left int
	select {
	case <-done:
		left = p.Pending()
	case <-ctx.Done():
		left = p.Pending()
		p.opts.Logger.Warn("shutdown grace period over; interrupting the deliveries in flight", "pending", left)
	}
	if !durable {
		left += gates // open gates die with a memory store
	}
	p.cancel()
	<-done
	p.bg.Wait()
	if left == 0 {
		return nil
	}
	if durable {
		p.opts.Logger.Info("events kept in the store for the next start", "events", left)
		return nil
	}
	return fmt.Errorf("shutdown grace period over: %d event(s) not delivered", left)
}

// drain delivers the jobs of one pair in order.
func (p *Pipeline) drain(key string, q *queue) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(q.waiting) == 0 || p.stopping || p.ctx.Err() != nil {
			q.draining = false
			if len(q.waiting) == 0 {
				delete(p.queues, key)
			}
			p.mu.Unlock()
			return
		}
		e := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.current = e
		p.mu.Unlock()

		select {
		case p.sem <- struct{}{}:
			p.deliver(e)
			<-p.sem
		case <-p.ctx.Done():
		}

		p.mu.Lock()
		q.current = nil
		p.mu.Unlock()
	}
}

const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// fingerprint is what the state records of a posted status to tell a
// repeat: its state, raw state and description. It is computed for every
// status of every event, repeats included, so it is a concatenation, not
// fmt; the form is the one stored, so it must not change.
func fingerprint(s sdk.Status) string {
	return s.State.String() + "\x00" + s.RawState + "\x00" + s.Description
}

// superseded reports whether the pair is behind and a job waiting behind
// the one in flight has a status for the context name.
func (p *Pipeline) superseded(key, name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queues[key]
	if q == nil || !q.behind {
		return false
	}
	for _, e := range q.waiting {
		for _, s := range e.rec.Statuses[min(e.rec.Next, len(e.rec.Statuses)):] {
			if s.Name == name {
				return true
			}
		}
	}
	return false
}

// fellBehind marks a pair whose delivery had to be retried.
func (p *Pipeline) fellBehind(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q := p.queues[key]; q != nil {
		q.behind = true
	}
}

// configOf returns the config to deliver a job with.
func (p *Pipeline) configOf(e *entry) (config.Config, error) {
	key := e.rec.ConfigKey
	if p.opts.Resolve == nil {
		if e.cfg != nil {
			return *e.cfg, nil
		}
		return config.Config{}, fmt.Errorf("config %q cannot be looked up", key)
	}
	c, err := p.opts.Resolve(key)
	if err != nil {
		return config.Config{}, err
	}
	if c.Key() != key {
		return config.Config{}, fmt.Errorf("no config %q", key)
	}
	return c, nil
}

// deliver does the work of one job. The job leaves the store when it needs
// no more work: delivered, dropped or given up. When shutdown interrupts it,
// it stays, with its progress.
func (p *Pipeline) deliver(e *entry) {
	rec := e.rec
	log := p.opts.Logger.With("event", rec.ID, "config", rec.ConfigKey, "commit", rec.CommitID)
	cfg, err := p.configOf(e)
	if err != nil {
		log.Error("event dropped: its config no longer exists or is invalid", "reason", err.Error())
		p.giveUp(rec, StepEvent, "", ReasonConfigUnavailable, err)
		p.finish(log, rec, nil)
		return
	}
	repo, err := p.opts.Plugins.Repository(cfg.RepositoryType)
	if err != nil {
		log.Error("event dropped: no repository plugin", "error", err)
		p.giveUp(rec, StepEvent, "", ReasonNoPlugin, err)
		p.finish(log, rec, nil)
		return
	}
	key := rec.Key()
	st, ok := p.cachedState(key)
	if !ok && !p.persist(log, "read the delivery state", func() error {
		var err error
		st, err = p.opts.Store.State(key)
		return err
	}) {
		return
	}
	st = st.clone()
	repoCfg := cfg.SDK(config.RoleRepository)
	obs := p.opts.Observer
	if keepsOwnOutcome(rec, st) {
		p.notificationDone(rec, cfg.OrchestratorType, NotifyKeptOwnOutcome)
		if p.finish(log, rec, nil) {
			log.Info("skipped commit finished on its own meanwhile and keeps its outcome", "deployed_with", rec.DeployedWith)
		}
		return
	}
	// The progress through the statuses is not recorded: finish's Done
	// records the state and removes the job in one write, or, for a
	// finished event, the claim before notifying records both. A crash
	// before then posts the event's statuses once more on restart, in
	// order (only an extra entry in each context's history).
	posted, unchanged, superseded := 0, 0, 0
	for ; rec.Next < len(rec.Statuses); rec.Next++ {
		s := rec.Statuses[rec.Next]
		fp := fingerprint(s)
		if st.Finished && st.Posted[s.Name] == fp {
			unchanged++
			obs.StatusDone(cfg.RepositoryType, StatusUnchanged)
			continue
		}
		if p.superseded(key, s.Name) {
			superseded++
			obs.StatusDone(cfg.RepositoryType, StatusSuperseded)
			p.sendToSubscribers(cfg, rec, s, log)
			continue
		}
		// The status's logger is made only for a line about it, which a
		// status posted at once does not write.
		statusLog := func() *slog.Logger { return log.With("status", s.Name) }
		err := p.retry(rec, statusLog, StepStatus, cfg.RepositoryType, func(ctx context.Context) error {
			return repo.PostStatus(ctx, sdk.PostStatusRequest{Config: repoCfg, CommitID: rec.CommitID, Status: s})
		})
		switch {
		case err == nil:
			posted++
			st.Posted[s.Name] = fp
			obs.StatusDone(cfg.RepositoryType, StatusPosted)
		case p.ctx.Err() != nil:
			statusLog().Warn("delivery interrupted by shutdown", "error", err)
			return
		case errors.Is(err, errExpired):
			obs.StatusDone(cfg.RepositoryType, StatusExpired)
			p.expire(log, rec, st, StepStatus, s.Name, err)
			return
		default:
			statusLog().Error("post status failed permanently", "error", err, "kind", sdk.KindOf(err).String())
			obs.StatusDone(cfg.RepositoryType, StatusFailed)
			p.giveUp(rec, StepStatus, s.Name, ReasonPermanent, err)
		}
		p.sendToSubscribers(cfg, rec, s, log)
	}
	counts := []any{"posted", posted, "unchanged", unchanged, "superseded", superseded}
	if !rec.Finished {
		if p.finish(log, rec, &st) {
			log.Info("event delivered", counts...)
		}
		return
	}
	st.Finished = true
	st.DeployedWith = rec.DeployedWith
	outcome, tell := p.decide(log, e, rec, cfg, repo, &st)
	if !tell {
		return
	}
	if cfg.OrchestratorType == "" {
		// Statuses only: there is no pipeline to tell.
		if p.finish(log, rec, &st) {
			log.Info("event delivered; the config tells no pipeline", counts...)
		}
		return
	}
	if st.Notified[outcome] {
		p.notificationDone(rec, cfg.OrchestratorType, NotifyAlreadyNotified)
		cover, ok := p.listCovered(log, rec, cfg, repo, &st)
		if ok && p.finishCovering(log, rec, cfg, repo, &st, cover) {
			log.Info("event delivered; the orchestrator was already told of this outcome", append(counts, "outcome", outcome)...)
		}
		return
	}
	orch, err := p.opts.Plugins.Orchestrator(cfg.OrchestratorType)
	if err != nil {
		log.Error("deployment finished but no orchestrator plugin", "error", err)
		p.notificationDone(rec, cfg.OrchestratorType, NotifyNoPlugin)
		p.giveUp(rec, StepNotify, "", ReasonNoPlugin, err)
		p.finish(log, rec, &st)
		return
	}
	// The claim, with the statuses posted: a restart does not post them
	// again, and in a shared store the compare-and-swap fails when another
	// replica took the pair over since this one read its state, and then
	// this one does not notify.
	if !p.persist(log, "record the delivery progress before notifying", func() error { return p.opts.Store.Progress(rec, st) }) {
		return
	}
	// The commits this deployment covers are listed before the
	// orchestrator is told: telling it and recording it stay one write
	// apart, as for any event.
	cover, ok := p.listCovered(log, rec, cfg, repo, &st)
	if !ok {
		return
	}
	var res sdk.NotifyResult
	err = p.retry(rec, logger(log), StepNotify, cfg.OrchestratorType, func(ctx context.Context) error {
		var err error
		res, err = orch.NotifyCompletion(ctx, sdk.Completion{
			Config: cfg.SDK(config.RoleOrchestrator), CommitID: rec.CommitID, Successful: outcome == outcomeSuccess, Statuses: rec.Statuses,
			DeployedWith: rec.DeployedWith,
		}, repobind.Bind(repo, repoCfg))
		return err
	})
	switch {
	case err == nil:
	case p.ctx.Err() != nil:
		log.Warn("delivery interrupted by shutdown", "error", err)
		return
	case errors.Is(err, errExpired):
		p.notificationDone(rec, cfg.OrchestratorType, NotifyExpired)
		p.expire(log, rec, st, StepNotify, "", err)
		return
	default:
		// Not recorded as told: the next event of the outcome tells again.
		log.Error("notify orchestrator failed permanently", "error", err, "kind", sdk.KindOf(err).String())
		p.notificationDone(rec, cfg.OrchestratorType, NotifyFailed)
		p.giveUp(rec, StepNotify, "", ReasonPermanent, err)
		p.finishCovering(log, rec, cfg, repo, &st, cover)
		return
	}
	st.Notified[outcome] = true
	if res.Notified {
		p.notificationDone(rec, cfg.OrchestratorType, NotifyNotified)
	} else {
		p.notificationDone(rec, cfg.OrchestratorType, NotifyNothingToNotify)
	}
	if !p.finishCovering(log, rec, cfg, repo, &st, cover) {
		log.Error("the orchestrator was notified but the store could not record it; it is notified again after a restart", "outcome", outcome)
		return
	}
	if res.Notified {
		log.Info("orchestrator notified", append(counts, "outcome", outcome)...)
	} else {
		log.Info("orchestrator had nothing to notify", append(counts, "outcome", outcome, "reason", res.Reason)...)
	}
}

// expire gives up the rest of a job that reached its maximum age.
func (p *Pipeline) expire(log *slog.Logger, rec Record, st State, step, status string, err error) {
	left := len(rec.Statuses) - rec.Next
	args := []any{"step", step, "error", err, "max_age", p.opts.MaxAge, "statuses_not_posted", left,
		"orchestrator_not_told", rec.Finished}
	if status != "" {
		args = append(args, "status", status)
	}
	log.Error("event given up: retried until the event's maximum age", args...)
	p.giveUp(rec, step, status, ReasonMaxAge, err)
	p.finish(log, rec, &st)
}

func (p *Pipeline) giveUp(rec Record, step, status, reason string, err error) {
	if p.opts.OnGiveUp != nil {
		p.opts.OnGiveUp(GiveUp{Event: rec.ID, ConfigKey: rec.ConfigKey, CommitID: rec.CommitID,
			Step: step, Status: status, Reason: reason, Err: err})
	}
}

// finish removes a job from the store, recording the pair's state.
func (p *Pipeline) finish(log *slog.Logger, rec Record, st *State) bool {
	if !p.persist(log, "remove the finished event from the store", func() error { return p.opts.Store.Done(rec, st) }) {
		return false
	}
	if st != nil {
		p.cacheState(rec.Key(), *st)
	}
	return true
}

// persist runs a store operation until it succeeds or shutdown interrupts
// it. A store that fails writes (a full disk) thus holds up the pairs that
// need it, instead of losing or repeating their work; the host reports
// itself not ready meanwhile (Health).
func (p *Pipeline) persist(log *slog.Logger, what string, op func() error) bool {
	attempts := 0
	err := retryFromFirst(p.ctx, func() (struct{}, error) {
		attempts++
		err := op()
		if errors.Is(err, ErrConflict) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, func() []backoff.RetryOption {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = p.opts.InitialBackoff
		b.MaxInterval = min(p.opts.MaxBackoff, 10*time.Second)
		return []backoff.RetryOption{backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0),
			backoff.WithNotify(func(err error, next time.Duration) {
				if attempts == 1 {
					log.Error("cannot "+what+"; retrying until the store takes writes", "error", err)
				}
			})}
	})
	switch {
	case errors.Is(err, ErrConflict):
		log.Warn("another replica delivers this commit now; this one stops delivering the event", "operation", what, "error", err)
		return false
	case err != nil:
		log.Error("cannot "+what+": interrupted by shutdown", "error", err, "attempts", attempts)
		return false
	}
	if attempts > 1 {
		log.Info("the store takes writes again", "operation", what, "attempts", attempts)
	}
	return true
}

func (p *Pipeline) sendToSubscribers(cfg config.Config, rec Record, s sdk.Status, log *slog.Logger) {
	if len(p.opts.SubscriberList) == 0 {
		return
	}
	payload := subscriber.Payload{
		CommitID:       rec.CommitID,
		StatusName:     s.Name,
		State:          s.RawState,
		Message:        s.Description,
		CallbackURL:    cfg.Settings[config.FieldAppURL],
		GitOpsOperator: s.Operator,
		Genre:          s.Genre,
	}
	for _, sub := range p.opts.SubscriberList {
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.CallTimeout)
		if err := p.opts.SubscriberClient.Send(ctx, sub, payload); err != nil {
			log.Warn("subscriber did not take the status", "subscriber", sub.Name, "status", s.Name, "error", err)
		}
		cancel()
	}
}

// retry runs op, a call to a plugin of pluginType, until it succeeds, fails
// permanently, shutdown interrupts it, or the job is older than MaxAge (the
// error then wraps errExpired). No attempt starts once the job is older than
// MaxAge. log gives the logger of the lines about retries; it is called
// only when there is one to write.
func (p *Pipeline) retry(rec Record, log func() *slog.Logger, what, pluginType string, op func(context.Context) error) error {
	remaining := p.opts.MaxAge - p.now().Sub(rec.Received)
	if remaining <= 0 {
		return fmt.Errorf("%w before the first attempt", errExpired)
	}
	var last error
	attempts := 0
	callCtx := context.WithValue(p.ctx, eventKey{}, rec.ID)
	attempt := func() (struct{}, error) {
		attempts++
		ctx, cancel := context.WithTimeout(callCtx, p.opts.CallTimeout)
		defer cancel()
		last = op(ctx)
		switch {
		case last == nil:
			return struct{}{}, nil
		case !sdk.IsRetryable(last):
			return struct{}{}, backoff.Permanent(last)
		}
		if after := sdk.RetryAfterOf(last); after > 0 {
			return struct{}{}, &backoff.RetryAfterError{Duration: after}
		}
		return struct{}{}, last
	}
	started := time.Now()
	err := retryFromFirst(p.ctx, attempt, func() []backoff.RetryOption {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = p.opts.InitialBackoff
		b.MaxInterval = p.opts.MaxBackoff
		return []backoff.RetryOption{backoff.WithBackOff(b),
			// What is left of remaining after the first attempt; at least
			// a nanosecond, since 0 would mean no limit.
			backoff.WithMaxElapsedTime(max(remaining-time.Since(started), time.Nanosecond)),
			backoff.WithNotify(func(_ error, next time.Duration) {
				p.fellBehind(rec.Key())
				p.opts.Observer.Retrying(what, pluginType)
				log().Warn(what+" failed; retrying", "error", last, "retry_in", next.Round(time.Millisecond), "attempt", attempts)
			})}
	})
	switch {
	case err == nil:
		return nil
	case p.ctx.Err() != nil:
		return err
	case sdk.IsRetryable(last):
		return fmt.Errorf("%w after %d attempts: %w", errExpired, attempts, last)
	}
	return last
}

// retryFromFirst makes attempt once and, only when it fails with an error
// to retry, builds the retry options and hands that failure to
// backoff.Retry as its first attempt's result: nearly every plugin call
// and store write succeeds at once and needs no backoff, options or timer.
// attempt's errors are as backoff.Retry takes them (backoff.Permanent
// stops); the error returned is the one backoff.Retry would return.
func retryFromFirst(ctx context.Context, attempt func() (struct{}, error), opts func() []backoff.RetryOption) error {
	_, first := attempt()
	if first == nil {
		return nil
	}
	if permanent, ok := errors.AsType[*backoff.PermanentError](first); ok {
		return permanent.Unwrap()
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if err := first; err != nil {
			first = nil
			return struct{}{}, err
		}
		return attempt()
	}, opts()...)
	return err
}

// logger returns a function returning log, for retry.
func logger(log *slog.Logger) func() *slog.Logger { return func() *slog.Logger { return log } }

// pruneLoop deletes idle pair states now and then, so the store stays
// bounded over weeks of operation.
func (p *Pipeline) pruneLoop() {
	defer p.bg.Done()
	t := time.NewTicker(p.opts.PruneInterval)
	defer t.Stop()
	for {
		n, err := p.opts.Store.Prune(p.now().Add(-p.opts.StateTTL))
		p.forgetPruned(n)
		switch {
		case err != nil:
			p.opts.Logger.Warn("cannot prune idle delivery states", "error", err)
		case n > 0:
			p.opts.Logger.Debug("idle delivery states pruned", "count", n, "idle_for", p.opts.StateTTL)
		}
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return
		}
	}
}

// cachedState returns the state of a pair as this replica last wrote it.
// A shared store is written by other replicas too, so its states are read
// every time (false).
func (p *Pipeline) cachedState(key string) (State, bool) {
	if p.shared != nil {
		return State{}, false
	}
	return p.states.Get(key)
}

// cacheState keeps the state of a pair as this replica just wrote it, and
// when (about: the store's own Updated is a little earlier).
func (p *Pipeline) cacheState(key string, st State) {
	st = st.clone()
	st.Updated = p.now()
	p.states.Add(key, st)
}

// forgetPruned drops the states in memory after the store pruned n: what
// the store forgot must not be remembered here. A delivery that wrote a
// state since wrote all of it to the store.
func (p *Pipeline) forgetPruned(n int) {
	if n > 0 {
		p.states.Purge()
	}
}

type eventKey struct{}

// EventID returns the id of the event whose delivery a plugin call's ctx
// belongs to, or "": a stand-in for a plugin (dry run) logs it.
func EventID(ctx context.Context) string {
	id, _ := ctx.Value(eventKey{}).(string)
	return id
}

type nopObserver struct{}

func (nopObserver) StatusDone(string, string)              {}
func (nopObserver) NotificationDone(string, string)        {}
func (nopObserver) Retrying(string, string)                {}
func (nopObserver) SkippedNotificationDone(string, string) {}
func (nopObserver) SkippedWalk(string)                     {}
