// Package pipeline delivers the work of accepted events: commit statuses to
// the repository and raw subscribers, and the completion notice to the
// orchestrator.
//
// Semantics:
//   - events for different (config, commit) pairs are delivered in parallel;
//     events for one pair in arrival order, and the statuses of one event in
//     the order the operator produced them;
//   - once a pair has finished, later events post only statuses that differ
//     from the last one posted for their context (Flux repeats
//     ReconciliationSucceeded on every interval);
//   - the orchestrator is told at most once per outcome of a pair: a success
//     after a failure is told, a repeated success is not;
//   - retryable plugin errors are retried with exponential backoff and
//     jitter, honouring the retry-after a plugin reports, until the event is
//     older than MaxAge; permanent errors are logged with the reason and not
//     retried.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Job is the work of one accepted event.
type Job struct {
	// ID identifies the event in logs.
	ID       string
	Config   config.Config
	CommitID string
	// Statuses to post, in order (names already carry the status context).
	Statuses   []sdk.Status
	Finished   bool
	Successful bool
	Received   time.Time
}

// Key identifies the (config, commit) a job belongs to.
func (j Job) Key() string { return j.Config.Key() + "@" + j.CommitID }

// Plugins gives the repository and orchestrator of a type.
type Plugins interface {
	Repository(typ string) (sdk.Repository, error)
	Orchestrator(typ string) (sdk.Orchestrator, error)
}

// Subscribers sends raw status JSON.
type Subscribers interface {
	Send(ctx context.Context, s subscriber.Subscriber, p subscriber.Payload) error
}

// Options configure a Pipeline.
type Options struct {
	Plugins Plugins
	Store   Store
	Logger  *slog.Logger
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
	// Concurrency bounds the pairs delivered at once; default 64.
	Concurrency int
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("the pipeline is shutting down")

// Pipeline delivers jobs.
type Pipeline struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}

	mu     sync.Mutex
	queues map[string][]Job
	closed bool
	wg     sync.WaitGroup
}

// New returns a running pipeline.
func New(opts Options) *Pipeline {
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
		opts.Concurrency = 64
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(7 * 24 * time.Hour)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pipeline{opts: opts, ctx: ctx, cancel: cancel, sem: make(chan struct{}, opts.Concurrency), queues: map[string][]Job{}}
}

// Submit queues a job behind the earlier jobs of its (config, commit).
func (p *Pipeline) Submit(job Job) error {
	if job.Received.IsZero() {
		job.Received = time.Now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	key := job.Key()
	q, running := p.queues[key]
	p.queues[key] = append(q, job)
	if !running {
		p.wg.Add(1)
		go p.drain(key)
	}
	return nil
}

// Pending returns the number of queued jobs, in flight included.
func (p *Pipeline) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.queues {
		n += len(q)
	}
	return n
}

// Close stops accepting jobs and waits for the queued ones until ctx ends;
// then it cancels the deliveries in flight and reports how many jobs were
// not delivered.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	left := p.Pending()
	p.cancel()
	<-done
	return fmt.Errorf("shutdown grace period over: %d event(s) not delivered", left)
}

// drain delivers the jobs of one key in order, then removes the queue.
func (p *Pipeline) drain(key string) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		q := p.queues[key]
		if len(q) == 0 || p.ctx.Err() != nil {
			delete(p.queues, key)
			p.mu.Unlock()
			return
		}
		job := q[0]
		p.mu.Unlock()

		select {
		case p.sem <- struct{}{}:
			p.deliver(job)
			<-p.sem
		case <-p.ctx.Done():
		}

		p.mu.Lock()
		if q := p.queues[key]; len(q) > 0 {
			p.queues[key] = q[1:]
		}
		p.mu.Unlock()
	}
}

const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

func fingerprint(s sdk.Status) string {
	return fmt.Sprintf("%s\x00%s\x00%s", s.State, s.RawState, s.Description)
}

// deliver does the work of one job.
func (p *Pipeline) deliver(job Job) {
	log := p.opts.Logger.With("event", job.ID, "config", job.Config.Key(), "commit", job.CommitID)
	cfg := job.Config.SDK()
	repo, err := p.opts.Plugins.Repository(job.Config.RepositoryType)
	if err != nil {
		log.Error("event dropped: no repository plugin", "error", err)
		return
	}
	st, err := p.opts.Store.Load(job.Key())
	if err != nil {
		log.Error("event dropped: cannot read its delivery state", "error", err)
		return
	}
	st = st.clone()
	posted, skipped := 0, 0
	for _, s := range job.Statuses {
		fp := fingerprint(s)
		if st.Finished && st.Posted[s.Name] == fp {
			skipped++
			continue
		}
		err := p.retry(job, log.With("status", s.Name), "post status", func(ctx context.Context) error {
			return repo.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: job.CommitID, Status: s})
		})
		if err == nil {
			posted++
			st.Posted[s.Name] = fp
			p.save(log, job, st)
		}
		p.sendToSubscribers(job, s, log)
	}
	if skipped > 0 {
		log.Info("statuses unchanged since the deployment finished; not posted again", "skipped", skipped)
	}
	if !job.Finished {
		log.Info("event delivered", "posted", posted)
		return
	}
	st.Finished = true
	p.save(log, job, st)
	outcome := outcomeFailure
	if job.Successful {
		outcome = outcomeSuccess
	}
	if st.Notified[outcome] {
		log.Info("event delivered; the orchestrator was already told of this outcome", "posted", posted, "outcome", outcome)
		return
	}
	orch, err := p.opts.Plugins.Orchestrator(job.Config.OrchestratorType)
	if err != nil {
		log.Error("deployment finished but no orchestrator plugin", "error", err)
		return
	}
	var res sdk.NotifyResult
	err = p.retry(job, log, "notify orchestrator", func(ctx context.Context) error {
		var err error
		res, err = orch.NotifyCompletion(ctx, sdk.Completion{
			Config: cfg, CommitID: job.CommitID, Successful: job.Successful, Statuses: job.Statuses,
		}, repo)
		return err
	})
	if err != nil {
		return
	}
	st.Notified[outcome] = true
	p.save(log, job, st)
	if res.Notified {
		log.Info("orchestrator notified", "outcome", outcome, "posted", posted)
	} else {
		log.Info("orchestrator had nothing to notify", "outcome", outcome, "reason", res.Reason, "posted", posted)
	}
}

func (p *Pipeline) save(log *slog.Logger, job Job, st State) {
	if err := p.opts.Store.Save(job.Key(), st); err != nil {
		log.Error("cannot record delivery state", "error", err)
	}
}

func (p *Pipeline) sendToSubscribers(job Job, s sdk.Status, log *slog.Logger) {
	if len(p.opts.SubscriberList) == 0 {
		return
	}
	payload := subscriber.Payload{
		CommitID:       job.CommitID,
		StatusName:     s.Name,
		State:          s.RawState,
		Message:        s.Description,
		CallbackURL:    job.Config.Settings[config.FieldAppURL],
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

// retry runs op until it succeeds, fails permanently, or the job is older
// than MaxAge. It logs the final failure with its reason.
func (p *Pipeline) retry(job Job, log *slog.Logger, what string, op func(context.Context) error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.opts.InitialBackoff
	b.MaxInterval = p.opts.MaxBackoff
	remaining := p.opts.MaxAge - time.Since(job.Received)
	if remaining <= 0 {
		remaining = time.Nanosecond
	}
	var last error
	attempts := 0
	_, err := backoff.Retry(p.ctx, func() (struct{}, error) {
		attempts++
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.CallTimeout)
		defer cancel()
		last = op(ctx)
		switch {
		case last == nil:
			return struct{}{}, nil
		case !sdk.IsRetryable(last):
			return struct{}{}, backoff.Permanent(last)
		}
		if after := sdk.RetryAfterOf(last); after > 0 {
			return struct{}{}, backoff.RetryAfter(int(math.Ceil(after.Seconds())))
		}
		return struct{}{}, last
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(remaining),
		backoff.WithNotify(func(_ error, next time.Duration) {
			log.Warn(what+" failed; retrying", "error", last, "retry_in", next.Round(time.Millisecond), "attempt", attempts)
		}))
	if err == nil {
		return nil
	}
	switch {
	case p.ctx.Err() != nil:
		log.Warn(what+" interrupted by shutdown", "error", last)
	case sdk.IsRetryable(last):
		log.Error(what+" given up: retried until the event's maximum age", "error", last, "attempts", attempts, "max_age", p.opts.MaxAge)
	default:
		log.Error(what+" failed permanently", "error", last, "kind", sdk.KindOf(last).String())
	}
	return last
}
