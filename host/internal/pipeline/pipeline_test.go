package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// recorder is a repository and orchestrator that records what it was asked
// and fails as told.
type recorder struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator

	mu       sync.Mutex
	posted   []string // "commit/name=raw"
	notified []string // "commit:success"
	tokens   []string // the config token of every call
	// failures maps a status name to the errors its next posts return.
	failures map[string][]error
	// notifyFailures are the errors the next notifications return.
	notifyFailures []error
	// block, when set, holds PostStatus for the status of that name.
	block     map[string]chan struct{}
	blockedAt chan string
}

func (r *recorder) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	r.mu.Lock()
	ch := r.block[req.Status.Name]
	r.mu.Unlock()
	if ch != nil {
		r.blockedAt <- req.Status.Name
		select {
		case <-ch:
		case <-ctx.Done():
			return sdk.Retryable(ctx.Err(), 0)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, req.Config.Token)
	if errs := r.failures[req.Status.Name]; len(errs) > 0 {
		r.failures[req.Status.Name] = errs[1:]
		return errs[0]
	}
	r.posted = append(r.posted, fmt.Sprintf("%s/%s=%s", req.CommitID[:7], req.Status.Name, req.Status.RawState))
	return nil
}

func (r *recorder) NotifyCompletion(_ context.Context, c sdk.Completion, _ sdk.Repository) (sdk.NotifyResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, c.Config.Token)
	if len(r.notifyFailures) > 0 {
		err := r.notifyFailures[0]
		r.notifyFailures = r.notifyFailures[1:]
		return sdk.NotifyResult{}, err
	}
	outcome := "failure"
	if c.Successful {
		outcome = "success"
	}
	if c.DeployedWith != "" {
		outcome += " with " + c.DeployedWith[:7]
	}
	r.notified = append(r.notified, c.CommitID[:7]+":"+outcome)
	return sdk.NotifyResult{Notified: true}, nil
}

func (r *recorder) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

func (r *recorder) Repository(string) (sdk.Repository, error)     { return r, nil }
func (r *recorder) Orchestrator(string) (sdk.Orchestrator, error) { return r, nil }

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posted), slices.Clone(r.notified)
}

type subscriberRecorder struct {
	mu   sync.Mutex
	got  []subscriber.Payload
	fail bool
}

func (s *subscriberRecorder) Send(_ context.Context, _ subscriber.Subscriber, p subscriber.Payload) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("subscriber down")
	}
	s.got = append(s.got, p)
	return nil
}

// durableMemory is a MemoryStore that claims to be durable: sharing it
// between two pipelines stands for a restart on the same data directory.
type durableMemory struct{ *MemoryStore }

func (durableMemory) Durable() bool { return true }

// faultyStore fails the writes it is told to.
type faultyStore struct {
	Store
	mu sync.Mutex
	// addErr fails every Add while set.
	addErr error
	// progressFailures and doneFailures fail that many next calls.
	progressFailures, doneFailures int
}

var errDiskFull = errors.New("write gitops-connector.db: no space left on device")

func (f *faultyStore) Add(r Record) (uint64, error) {
	f.mu.Lock()
	err := f.addErr
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.Store.Add(r)
}

func (f *faultyStore) Progress(r Record, st State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.progressFailures > 0 {
		f.progressFailures--
		return errDiskFull
	}
	return f.Store.Progress(r, st)
}

func (f *faultyStore) Done(r Record, st *State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.doneFailures > 0 {
		f.doneFailures--
		return errDiskFull
	}
	return f.Store.Done(r, st)
}

func (f *faultyStore) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return f.addErr
	}
	return nil
}

var testConfig = config.Config{
	Name: "default", RepositoryType: "GITHUB", OrchestratorType: "GITHUB", Credentials: tokenOnly("ghp_submitted"),
	Settings: map[string]string{config.FieldAppURL: "https://app.example/commit"},
}

// ignoringConfig is testConfig with skippedCommits: ignore.
var ignoringConfig = config.Config{
	Name: "ignoring", RepositoryType: "GITHUB", OrchestratorType: "GITHUB", Credentials: tokenOnly("ghp_submitted"),
	Settings: map[string]string{config.FieldAppURL: "https://app.example/commit", config.FieldSkippedCommits: config.SkippedIgnore},
}

const (
	commitA = "aaaaaaa0000000000000000000000000000000000"
	commitB = "bbbbbbb0000000000000000000000000000000000"
)

func status(name, raw string, state sdk.State) sdk.Status {
	return sdk.Status{Name: name, RawState: raw, State: state, Description: raw + " description", Genre: "Kustomization", Operator: "Flux"}
}

func testOptions(r *recorder, opts ...func(*Options)) Options {
	o := Options{
		Plugins:        r,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// newPipeline returns a pipeline that has not started delivering.
func newPipeline(t *testing.T, r *recorder, opts ...func(*Options)) *Pipeline {
	t.Helper()
	p, err := New(testOptions(r, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestPipeline returns a started pipeline.
func newTestPipeline(t *testing.T, r *recorder, opts ...func(*Options)) *Pipeline {
	t.Helper()
	p := newPipeline(t, r, opts...)
	p.Start()
	return p
}

// restartOn returns the options of a pipeline (re)started on st, whose
// jobs resolve to testConfig, as after a restart of the host.
func restartOn(st Store) func(*Options) {
	return func(o *Options) {
		o.Store = st
		o.Resolve = func(string) (config.Config, error) { return testConfig, nil }
	}
}

func closeAndWait(t *testing.T, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func submit(t *testing.T, p *Pipeline, jobs ...Job) {
	t.Helper()
	for _, j := range jobs {
		if _, err := p.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
}

// waitIdle waits until the pipeline has no job left.
func waitIdle(t *testing.T, p *Pipeline) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending", p.Pending())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWhileTheAPIKeepsUpEveryStatusIsPostedInArrivalAndProducedOrder(t *testing.T) {
	r := &recorder{}
	p := newPipeline(t, r)
	for i := range 20 { // queued before delivery starts: all but the first wait
		submit(t, p, Job{ID: fmt.Sprint(i), Config: testConfig, CommitID: commitA,
			Statuses: []sdk.Status{status("Status", fmt.Sprintf("step%02d", i), sdk.StatePending), status("Other", fmt.Sprintf("step%02d", i), sdk.StatePending)}})
	}
	p.Start()
	closeAndWait(t, p)
	posted, _ := r.snapshot()
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("aaaaaaa/Status=step%02d", i), fmt.Sprintf("aaaaaaa/Other=step%02d", i))
	}
	if !slices.Equal(posted, want) {
		t.Fatalf("posted\n%v\nwant\n%v", posted, want)
	}
}

func TestOnceACommitFellBehindAQueuedStatusSupersededByANewerOneIsNotPostedButSubscribersGetIt(t *testing.T) {
	r := &recorder{failures: map[string][]error{"Deployment": {sdk.Retryable(errors.New("502"), 0)}}}
	subs := &subscriberRecorder{}
	p := newPipeline(t, r, func(o *Options) {
		o.SubscriberList = []subscriber.Subscriber{{Name: "s", URL: "http://s"}}
		o.SubscriberClient = subs
	})
	// Queued before delivery starts; commit A's first post fails once.
	submit(t, p,
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Deployment", "configured", sdk.StateSucceeded), status("Status", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitB, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitB, Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}},
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}},
	)
	p.Start()
	closeAndWait(t, p)
	posted, _ := r.snapshot()
	slices.Sort(posted)
	want := []string{"aaaaaaa/Deployment=configured", "aaaaaaa/Status=ReconciliationSucceeded",
		"bbbbbbb/Status=Progressing", "bbbbbbb/Status=ReconciliationSucceeded"}
	if !slices.Equal(posted, want) {
		t.Fatalf("posted %v, want %v (commit A's Progressing superseded; commit B, which kept up, in full)", posted, want)
	}
	if len(subs.got) != 5 {
		t.Fatalf("subscribers got %d payloads, want all 5 statuses", len(subs.got))
	}
}

func TestACommitWaitingOnTheAPIDoesNotBlockOtherCommits(t *testing.T) {
	release := make(chan struct{})
	r := &recorder{block: map[string]chan struct{}{"Slow": release}, blockedAt: make(chan string, 1)}
	p := newTestPipeline(t, r)
	submit(t, p, Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Slow", "Progressing", sdk.StatePending)}})
	<-r.blockedAt // commit A is stuck in PostStatus
	submit(t, p, Job{Config: testConfig, CommitID: commitB, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	deadline := time.After(20 * time.Second)
	for {
		posted, _ := r.snapshot()
		if slices.Contains(posted, "bbbbbbb/Status=Progressing") {
			break
		}
		select {
		case <-deadline:
			t.Fatal("commit B was not delivered while commit A was blocked")
		case <-time.After(5 * time.Millisecond):
		}
	}
	close(release)
	closeAndWait(t, p)
}

func TestAfterFinishOnlyChangedStatusesArePostedAndEachOutcomeIsNotifiedOnce(t *testing.T) {
	r := &recorder{}
	subs := &subscriberRecorder{}
	p := newTestPipeline(t, r, func(o *Options) {
		o.SubscriberList = []subscriber.Subscriber{{Name: "s", URL: "http://s"}}
		o.SubscriberClient = subs
	})
	succeeded := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	failed := Job{Config: testConfig, CommitID: commitA, Finished: true,
		Statuses: []sdk.Status{status("Status", "HealthCheckFailed", sdk.StateFailed)}}
	progressing := Job{Config: testConfig, CommitID: commitA,
		Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}}
	for _, j := range []Job{progressing, succeeded, succeeded, succeeded, failed, failed, succeeded} {
		submit(t, p, j)
		waitIdle(t, p) // one at a time: nothing is superseded
	}
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	wantPosted := []string{
		"aaaaaaa/Status=Progressing",
		"aaaaaaa/Status=ReconciliationSucceeded", // the repeats are not posted again
		"aaaaaaa/Status=HealthCheckFailed",       // a change is
		"aaaaaaa/Status=ReconciliationSucceeded", // and the recovery
	}
	if !slices.Equal(posted, wantPosted) {
		t.Errorf("posted %v, want %v", posted, wantPosted)
	}
	if want := []string{"aaaaaaa:success", "aaaaaaa:failure"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
	if len(subs.got) != len(wantPosted) {
		t.Errorf("subscribers got %d payloads, want %d", len(subs.got), len(wantPosted))
	}
	want := subscriber.Payload{CommitID: commitA, StatusName: "Status", State: "Progressing",
		Message: "Progressing description", CallbackURL: "https://app.example/commit", GitOpsOperator: "Flux", Genre: "Kustomization"}
	if len(subs.got) > 0 && subs.got[0] != want {
		t.Errorf("subscriber payload %+v, want %+v", subs.got[0], want)
	}
}

func TestRetryableErrorsAreRetriedAndPermanentOnesAreNot(t *testing.T) {
	r := &recorder{failures: map[string][]error{
		"Flaky":     {sdk.Retryable(errors.New("502"), 0), sdk.Retryable(errors.New("timeout"), 0), errors.New("unclassified")},
		"Forbidden": {sdk.PermissionDenied(errors.New("token lacks repo:status")), nil},
	}}
	var gaveUp []GiveUp
	p := newTestPipeline(t, r, func(o *Options) { o.OnGiveUp = func(g GiveUp) { gaveUp = append(gaveUp, g) } })
	submit(t, p, Job{ID: "e1", Config: testConfig, CommitID: commitA,
		Statuses: []sdk.Status{status("Flaky", "Progressing", sdk.StatePending), status("Forbidden", "Progressing", sdk.StatePending), status("After", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	posted, _ := r.snapshot()
	want := []string{"aaaaaaa/Flaky=Progressing", "aaaaaaa/After=Progressing"}
	if !slices.Equal(posted, want) {
		t.Fatalf("posted %v, want %v", posted, want)
	}
	if left := r.failures["Forbidden"]; len(left) != 1 {
		t.Errorf("the permanent error was retried: %d failures left, want 1", len(left))
	}
	if len(gaveUp) != 1 {
		t.Fatalf("OnGiveUp told %d times, want once: %+v", len(gaveUp), gaveUp)
	}
	g := gaveUp[0]
	if g.Event != "e1" || g.ConfigKey != "default" || g.CommitID != commitA || g.Step != StepStatus || g.Status != "Forbidden" ||
		g.Reason != ReasonPermanent || sdk.KindOf(g.Err) != sdk.KindPermissionDenied {
		t.Errorf("OnGiveUp got %+v", g)
	}
}

func TestEachRetryIsLoggedWithItsStatusAndAttempt(t *testing.T) {
	r := &recorder{failures: map[string][]error{
		"Flaky": {sdk.Retryable(errors.New("502"), 0), sdk.Retryable(errors.New("timeout"), 0)},
	}}
	logs := &hostproc.Log{}
	p := newTestPipeline(t, r, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	submit(t, p, Job{ID: "e1", Config: testConfig, CommitID: commitA,
		Statuses: []sdk.Status{status("Steady", "Progressing", sdk.StatePending), status("Flaky", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	if posted, _ := r.snapshot(); len(posted) != 2 {
		t.Fatalf("posted %v, want both statuses", posted)
	}
	lines := logs.Messages(StepStatus + " failed; retrying")
	if len(lines) != 2 {
		t.Fatalf("%d retry lines, want one per failed attempt: %v", len(lines), lines)
	}
	for i, l := range lines {
		if l["event"] != "e1" || l["status"] != "Flaky" || l["attempt"] != float64(i+1) || l["error"] == nil {
			t.Errorf("retry line %d: %v", i, l)
		}
	}
}

func TestRetryAfterFromThePluginIsHonoured(t *testing.T) {
	r := &recorder{failures: map[string][]error{"Status": {sdk.Retryable(errors.New("rate limited"), time.Second)}}}
	p := newTestPipeline(t, r)
	start := time.Now()
	submit(t, p, Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	// The backoff alone would retry after ~1 ms; the plugin asked for 1 s.
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %v, before the retry-after of 1s", waited)
	}
	if posted, _ := r.snapshot(); len(posted) != 1 {
		t.Fatalf("posted %v", posted)
	}
}

func TestWorkOlderThanMaxAgeIsGivenUpVisibly(t *testing.T) {
	var errs []error
	for range 1000 {
		errs = append(errs, sdk.Retryable(errors.New("503"), 0))
	}
	r := &recorder{failures: map[string][]error{"Status": errs}}
	logs := &hostproc.Log{}
	var gaveUp []GiveUp
	p := newTestPipeline(t, r, func(o *Options) {
		o.MaxAge = 50 * time.Millisecond
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		o.OnGiveUp = func(g GiveUp) { gaveUp = append(gaveUp, g) }
	})
	submit(t, p, Job{ID: "e1", Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending), status("Other", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if len(posted) != 0 || len(notified) != 0 {
		t.Fatalf("posted %v, notified %v", posted, notified)
	}
	if left := len(r.failures["Status"]); left == 0 || left == 1000 {
		t.Fatalf("%d of 1000 failures left: want some retries, then giving up", left)
	}
	lines := logs.Messages("event given up: retried until the event's maximum age")
	if len(lines) != 1 || lines[0]["status"] != "Status" || lines[0]["statuses_not_posted"] != 2.0 || lines[0]["orchestrator_not_told"] != true ||
		!strings.Contains(fmt.Sprint(lines[0]["error"]), "503") {
		t.Fatalf("give-up log lines %v", lines)
	}
	if len(gaveUp) != 1 || gaveUp[0].Reason != ReasonMaxAge || gaveUp[0].Step != StepStatus {
		t.Fatalf("OnGiveUp got %+v, want one %s", gaveUp, ReasonMaxAge)
	}
	if p.Pending() != 0 {
		t.Fatal("the given-up job is still queued")
	}
}

func TestAResumedJobAlreadyOlderThanMaxAgeIsGivenUpWithoutACall(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	if _, err := st.Add(Record{ID: "old", ConfigKey: "default", CommitID: commitA, Received: time.Now().Add(-48 * time.Hour),
		Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}}); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	var gaveUp []GiveUp
	p := newTestPipeline(t, r, restartOn(st), func(o *Options) { o.OnGiveUp = func(g GiveUp) { gaveUp = append(gaveUp, g) } })
	waitIdle(t, p)
	closeAndWait(t, p)
	if len(r.tokens) != 0 {
		t.Fatalf("%d plugin calls for an expired job", len(r.tokens))
	}
	if len(gaveUp) != 1 || gaveUp[0].Reason != ReasonMaxAge {
		t.Fatalf("OnGiveUp got %+v", gaveUp)
	}
	if left, _ := st.Pending(); len(left) != 0 {
		t.Fatalf("the expired job stays in the store: %+v", left)
	}
}

func TestAFailedNotificationIsRetriedAndAResentEventDoesNotNotifyTwice(t *testing.T) {
	r := &recorder{notifyFailures: []error{sdk.Retryable(errors.New("502"), 0)}}
	p := newTestPipeline(t, r)
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	submit(t, p, done, done)
	closeAndWait(t, p)
	if _, notified := r.snapshot(); !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v, want exactly one success", notified)
	}
}

func TestAPermanentlyFailedNotificationIsToldAgainByTheNextEvent(t *testing.T) {
	r := &recorder{notifyFailures: []error{sdk.NotFound(errors.New("no such repository"))}}
	p := newTestPipeline(t, r)
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	submit(t, p, done, done) // Flux repeats; the earlier notification never went out
	closeAndWait(t, p)
	if _, notified := r.snapshot(); !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v, want one success after the failed first try", notified)
	}
}

func TestConfigsKeepSeparateBookkeepingForOneCommit(t *testing.T) {
	r := &recorder{}
	p := newTestPipeline(t, r)
	dev, prod := testConfig, testConfig
	dev.Name, prod.Name = "dev", "prod"
	for _, c := range []config.Config{dev, prod, dev, prod} {
		submit(t, p, Job{Config: c, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status(c.Name+"/Status", "ReconciliationSucceeded", sdk.StateSucceeded)}})
	}
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if len(posted) != 2 || len(notified) != 2 {
		t.Fatalf("posted %v, notified %v: want one status and one notification per config", posted, notified)
	}
}

func TestDeliveriesUseTheConfigResolvedAtDeliveryForItsCurrentToken(t *testing.T) {
	r := &recorder{}
	rotated := testConfig
	rotated.Credentials = tokenOnly("ghp_rotated")
	var asked []string
	p := newTestPipeline(t, r, func(o *Options) {
		o.Resolve = func(key string) (config.Config, error) { asked = append(asked, key); return rotated, nil }
	})
	submit(t, p, Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}})
	closeAndWait(t, p)
	if !slices.Equal(asked, []string{"default"}) {
		t.Errorf("Resolve asked for %v, want [default]", asked)
	}
	if !slices.Equal(r.tokens, []string{"ghp_rotated", "ghp_rotated"}) {
		t.Fatalf("calls used tokens %v, want the resolved one", r.tokens)
	}
}

func TestAJobWhoseConfigIsGoneIsDroppedWithTheReason(t *testing.T) {
	r := &recorder{}
	logs := &hostproc.Log{}
	var gaveUp []GiveUp
	p := newTestPipeline(t, r, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		o.Resolve = func(key string) (config.Config, error) { return config.Config{}, fmt.Errorf("no config named %q", key) }
		o.OnGiveUp = func(g GiveUp) { gaveUp = append(gaveUp, g) }
	})
	submit(t, p, Job{ID: "e1", Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	if len(r.tokens) != 0 {
		t.Fatal("a job without config reached a plugin")
	}
	lines := logs.Messages("event dropped: its config no longer exists or is invalid")
	if len(lines) != 1 || lines[0]["reason"] != `no config named "default"` || lines[0]["event"] != "e1" {
		t.Fatalf("log lines %v", lines)
	}
	if len(gaveUp) != 1 || gaveUp[0].Reason != ReasonConfigUnavailable || gaveUp[0].Step != StepEvent {
		t.Fatalf("OnGiveUp got %+v", gaveUp)
	}
}

func TestCloseKeepsQueuedJobsInADurableStoreAndTheNextStartResumesThemInOrder(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	release := make(chan struct{})
	defer close(release)
	r1 := &recorder{block: map[string]chan struct{}{"A-Slow": release}, blockedAt: make(chan string, 1)}
	p1 := newTestPipeline(t, r1, func(o *Options) { o.Store = st })
	submit(t, p1, Job{ID: "a1", Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{
		status("A-First", "Progressing", sdk.StatePending), status("A-Slow", "Progressing", sdk.StatePending), status("A-Last", "Progressing", sdk.StatePending)}})
	<-r1.blockedAt // a1 posted A-First and hangs in A-Slow
	submit(t, p1,
		Job{ID: "a2", Config: testConfig, CommitID: commitA, Finished: true, Successful: true, Statuses: []sdk.Status{status("A-Second", "ReconciliationSucceeded", sdk.StateSucceeded)}},
		Job{ID: "a3", Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("A-Third", "Progressing", sdk.StatePending)}},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p1.Close(ctx); err != nil {
		t.Fatalf("Close with a durable store = %v, want nil: nothing is lost", err)
	}
	if posted, _ := r1.snapshot(); !slices.Equal(posted, []string{"aaaaaaa/A-First=Progressing"}) {
		t.Fatalf("before the restart: posted %v", posted)
	}

	// The restart: the same store, a config resolver, and the token from it.
	r2 := &recorder{}
	p2 := newPipeline(t, r2, restartOn(st))
	if p2.Pending() != 3 {
		t.Fatalf("%d jobs resumed, want 3", p2.Pending())
	}
	// An event arriving before Start waits behind the resumed ones.
	submit(t, p2, Job{ID: "a4", Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("A-Fourth", "Progressing", sdk.StatePending)}})
	p2.Start()
	waitIdle(t, p2)
	closeAndWait(t, p2)
	posted, notified := r2.snapshot()
	// The interrupted event's progress is not recorded (one write to
	// finish it): it is posted again from its first status, in order.
	want := []string{"aaaaaaa/A-First=Progressing", "aaaaaaa/A-Slow=Progressing", "aaaaaaa/A-Last=Progressing", "aaaaaaa/A-Second=ReconciliationSucceeded",
		"aaaaaaa/A-Third=Progressing", "aaaaaaa/A-Fourth=Progressing"}
	if !slices.Equal(posted, want) {
		t.Fatalf("after the restart: posted\n%v\nwant\n%v", posted, want)
	}
	if !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v", notified)
	}
	if left, _ := st.Pending(); len(left) != 0 {
		t.Fatalf("%d jobs left in the store", len(left))
	}
}

func TestARecordedNotificationIsNotSentAgainAfterARestart(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	r1 := &recorder{}
	p1 := newTestPipeline(t, r1, restartOn(st))
	submit(t, p1, done)
	waitIdle(t, p1)
	closeAndWait(t, p1)
	r2 := &recorder{}
	p2 := newTestPipeline(t, r2, restartOn(st))
	submit(t, p2, done) // Flux repeats the event after the restart
	waitIdle(t, p2)
	closeAndWait(t, p2)
	_, n1 := r1.snapshot()
	posted2, n2 := r2.snapshot()
	if len(n1) != 1 || len(n2) != 0 || len(posted2) != 0 {
		t.Fatalf("notified %v then %v (posted %v): want one notification in all", n1, n2, posted2)
	}
}

func TestAJobResumedAfterItsStatusesNotifiesOnce(t *testing.T) {
	// The host stopped after posting every status of a finished event but
	// before telling the orchestrator.
	st := durableMemory{NewMemoryStore()}
	statuses := []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}
	if _, err := st.Add(Record{ID: "e1", ConfigKey: "default", CommitID: commitA, Finished: true, Successful: true,
		Statuses: statuses, Received: time.Now(), Next: len(statuses)}); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	p := newTestPipeline(t, r, restartOn(st))
	waitIdle(t, p)
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if len(posted) != 0 || !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("posted %v, notified %v: want no status again and one notification", posted, notified)
	}
}

func TestSubmitFailsWhenTheStoreCannotRecordTheEventAndHealthSaysWhy(t *testing.T) {
	st := &faultyStore{Store: durableMemory{NewMemoryStore()}, addErr: errDiskFull}
	r := &recorder{}
	p := newTestPipeline(t, r, func(o *Options) { o.Store = st })
	_, err := p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "cannot record the event") {
		t.Fatalf("Submit = %v, want the store's error", err)
	}
	if h := p.Health(); h == nil || !strings.Contains(h.Error(), "no space left on device") {
		t.Fatalf("Health = %v, want the store's error", h)
	}
	st.mu.Lock()
	st.addErr = nil
	st.mu.Unlock()
	if h := p.Health(); h != nil {
		t.Fatalf("Health = %v after the store recovered", h)
	}
	closeAndWait(t, p)
	if posted, _ := r.snapshot(); len(posted) != 0 {
		t.Fatalf("an event that was not recorded was delivered: %v", posted)
	}
}

func TestWritesThatFailAfterAcceptanceHoldTheCommitUntilTheStoreRecovers(t *testing.T) {
	st := &faultyStore{Store: durableMemory{NewMemoryStore()}, progressFailures: 3, doneFailures: 2}
	r := &recorder{}
	logs := &hostproc.Log{}
	p := newTestPipeline(t, r, func(o *Options) {
		o.Store = st
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded), status("Health", "Healthy", sdk.StateSucceeded)}}
	submit(t, p, done, done)
	waitIdle(t, p)
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if want := []string{"aaaaaaa/Status=ReconciliationSucceeded", "aaaaaaa/Health=Healthy"}; !slices.Equal(posted, want) {
		t.Fatalf("posted %v, want %v", posted, want)
	}
	if !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v, want one success", notified)
	}
	if n := len(logs.Messages("cannot record the delivery progress before notifying; retrying until the store takes writes")); n != 1 {
		t.Errorf("%d progress failure lines, want 1", n)
	}
	if n := len(logs.Messages("the store takes writes again")); n != 2 {
		t.Errorf("%d recovery lines, want 2 (progress, then removal)", n)
	}
	if left, _ := st.Pending(); len(left) != 0 {
		t.Fatalf("%d jobs left in the store", len(left))
	}
}

func TestSubmitAfterCloseIsRefused(t *testing.T) {
	p := newTestPipeline(t, &recorder{})
	closeAndWait(t, p)
	if _, err := p.Submit(Job{Config: testConfig, CommitID: commitA}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
}

func TestCloseWithAMemoryStoreGivesUpAfterTheGracePeriodAndSaysWhatWasLost(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	r := &recorder{block: map[string]chan struct{}{"Slow": release}, blockedAt: make(chan string, 1)}
	p := newTestPipeline(t, r)
	submit(t, p,
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Slow", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Next", "Progressing", sdk.StatePending)}})
	<-r.blockedAt
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	if err == nil || err.Error() != "shutdown grace period over: 2 event(s) not delivered" {
		t.Fatalf("Close = %v", err)
	}
}

// pruneRecorder records the cutoffs Prune is called with.
type pruneRecorder struct {
	Store
	cutoffs chan time.Time
}

func (p pruneRecorder) Prune(before time.Time) (int, error) {
	p.cutoffs <- before
	return p.Store.Prune(before)
}

func TestIdleStatesArePrunedAtStartAndPeriodically(t *testing.T) {
	st := pruneRecorder{Store: NewMemoryStore(), cutoffs: make(chan time.Time, 10)}
	now := time.Unix(1_700_000_000, 0)
	p := newPipeline(t, &recorder{}, func(o *Options) {
		o.Store = st
		o.StateTTL = 72 * time.Hour
		o.PruneInterval = time.Millisecond
	})
	p.now = func() time.Time { return now }
	p.Start()
	for range 2 {
		if got := <-st.cutoffs; !got.Equal(now.Add(-72 * time.Hour)) {
			t.Fatalf("Prune(%v), want states idle for 72h: Prune(%v)", got, now.Add(-72*time.Hour))
		}
	}
	closeAndWait(t, p)
}

func TestMemoryStorePrunesOnlyIdleStates(t *testing.T) {
	s := NewMemoryStore()
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	_ = s.Done(Record{ConfigKey: "c", CommitID: "old"}, &State{Finished: true})
	now = now.Add(2 * time.Hour)
	_ = s.Done(Record{ConfigKey: "c", CommitID: "new"}, &State{Finished: true})
	if n, _ := s.Prune(now.Add(-time.Hour)); n != 1 || s.Len() != 1 {
		t.Fatalf("pruned %d, %d left; want 1 and 1", n, s.Len())
	}
	if st, _ := s.State("c@new"); !st.Finished {
		t.Fatal("the recent state was lost")
	}
}

func TestAResumedBacklogPostsOnlyTheNewestStatusOfEachContext(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	for _, raw := range []string{"Progressing", "HealthCheckFailed", "ReconciliationSucceeded"} {
		if _, err := st.Add(Record{ID: raw, ConfigKey: "default", CommitID: commitA, Received: time.Now(),
			Statuses: []sdk.Status{status("Status", raw, sdk.StatePending), status(raw, raw, sdk.StatePending)}}); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{}
	p := newTestPipeline(t, r, restartOn(st))
	waitIdle(t, p)
	closeAndWait(t, p)
	posted, _ := r.snapshot()
	want := []string{"aaaaaaa/Progressing=Progressing", "aaaaaaa/HealthCheckFailed=HealthCheckFailed",
		"aaaaaaa/Status=ReconciliationSucceeded", "aaaaaaa/ReconciliationSucceeded=ReconciliationSucceeded"}
	if !slices.Equal(posted, want) {
		t.Fatalf("posted\n%v\nwant\n%v", posted, want)
	}
}

// writeCounter counts a store's writes.
type writeCounter struct {
	Store
	mu                          sync.Mutex
	adds, progress, done, reads int
}

func (w *writeCounter) State(key string) (State, error) {
	w.mu.Lock()
	w.reads++
	w.mu.Unlock()
	return w.Store.State(key)
}

func (w *writeCounter) Add(r Record) (uint64, error) {
	w.mu.Lock()
	w.adds++
	w.mu.Unlock()
	return w.Store.Add(r)
}

func (w *writeCounter) Progress(r Record, st State) error {
	w.mu.Lock()
	w.progress++
	w.mu.Unlock()
	return w.Store.Progress(r, st)
}

func (w *writeCounter) Done(r Record, st *State) error {
	w.mu.Lock()
	w.done++
	w.mu.Unlock()
	return w.Store.Done(r, st)
}

// An event is recorded by one write to accept it and one to finish it,
// whatever its statuses; one that finishes a deployment adds the claim
// before notifying (with its statuses posted), and, telling skipped
// commits, the config's last deployed commit.
func TestAnEventTakesOneWriteToAcceptAndOneToFinish(t *testing.T) {
	for _, tc := range []struct {
		name         string
		job          Job
		wantProgress int
		wantDone     int
	}{
		{"one status", Job{Config: testConfig, CommitID: commitA,
			Statuses: []sdk.Status{status("Status", "DependencyNotReady", sdk.StatePending)}}, 0, 1},
		{"two statuses", Job{Config: testConfig, CommitID: commitA,
			Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending), status("Health", "Progressing", sdk.StatePending)}}, 0, 1},
		{"five statuses (Flux's Progressing with a change set)", Job{Config: testConfig, CommitID: commitA,
			Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending), status("Deployment", "created", sdk.StateSucceeded),
				status("Service", "created", sdk.StateSucceeded), status("HorizontalPodAutoscaler", "created", sdk.StateSucceeded),
				status("Status", "Progressing", sdk.StatePending)}}, 0, 1},
		{"two statuses, finishing", Job{Config: ignoringConfig, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded), status("Health", "Healthy", sdk.StateSucceeded)}}, 1, 1},
		// A finishing event records its statuses before it notifies, so a
		// restart between the two does not post them again.
		{"finishing", Job{Config: ignoringConfig, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}, 1, 1},
		// The first deployment of a config has no earlier one to walk
		// from; the config's last deployed commit is one more write.
		{"finishing, telling skipped commits", Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &writeCounter{Store: durableMemory{NewMemoryStore()}}
			r := &recorder{}
			p := newTestPipeline(t, r, func(o *Options) { o.Store = st })
			submit(t, p, tc.job)
			waitIdle(t, p)
			closeAndWait(t, p)
			if posted, _ := r.snapshot(); len(posted) != len(tc.job.Statuses) {
				t.Fatalf("posted %v", posted)
			}
			if st.adds != 1 || st.progress != tc.wantProgress || st.done != tc.wantDone {
				t.Errorf("writes: %d adds, %d progress, %d done; want 1, %d, %d", st.adds, st.progress, st.done, tc.wantProgress, tc.wantDone)
			}
			// The state the removal recorded holds the last status.
			state, err := st.State(pairKey(tc.job.Config.Key(), commitA))
			if err != nil {
				t.Fatal(err)
			}
			last := tc.job.Statuses[len(tc.job.Statuses)-1]
			if state.Posted[last.Name] != fingerprint(last) {
				t.Errorf("state %v does not record the last status %s", state.Posted, last.Name)
			}
		})
	}
}

func TestRepeatedEventsForAKnownCommitUseTheStateInMemoryUntilThePrune(t *testing.T) {
	st := &writeCounter{Store: durableMemory{NewMemoryStore()}}
	r := &recorder{}
	p := newTestPipeline(t, r, func(o *Options) { o.Store = st })
	done := Job{Config: ignoringConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	for range 3 {
		submit(t, p, done)
		waitIdle(t, p)
	}
	if st.reads != 1 {
		t.Errorf("%d state reads for three events of one commit, want 1", st.reads)
	}
	if posted, notified := r.snapshot(); len(posted) != 1 || len(notified) != 1 {
		t.Fatalf("posted %v, notified %v: want the status and the notification once", posted, notified)
	}

	// What the store prunes is forgotten: the next event starts afresh.
	n, err := st.Prune(time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	p.forgetPruned(n)
	submit(t, p, done)
	waitIdle(t, p)
	closeAndWait(t, p)
	if st.reads != 2 {
		t.Errorf("%d state reads, want 2 (the state was read again after the prune)", st.reads)
	}
	if posted, notified := r.snapshot(); len(posted) != 2 || len(notified) != 2 {
		t.Errorf("posted %v, notified %v: after the prune the commit is new again", posted, notified)
	}
}

// tokenOnly is the credentials of a config with one PAT.
func tokenOnly(token string) config.Credentials {
	return config.Credentials{Shared: config.CredentialSource{Credential: config.TokenCredential(token)}}
}
