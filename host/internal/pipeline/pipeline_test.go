package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// recorder is a repository and orchestrator that records what it was asked
// and fails as told.
type recorder struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator

	mu       sync.Mutex
	posted   []string // "commit/name=raw"
	notified []string // "commit:success"
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
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
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
	if len(r.notifyFailures) > 0 {
		err := r.notifyFailures[0]
		r.notifyFailures = r.notifyFailures[1:]
		return sdk.NotifyResult{}, err
	}
	outcome := "failure"
	if c.Successful {
		outcome = "success"
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

var testConfig = config.Config{
	Name: "default", RepositoryType: "GITHUB", OrchestratorType: "GITHUB",
	Settings: map[string]string{config.FieldAppURL: "https://app.example/commit"},
}

const (
	commitA = "aaaaaaa0000000000000000000000000000000000"
	commitB = "bbbbbbb0000000000000000000000000000000000"
)

func status(name, raw string, state sdk.State) sdk.Status {
	return sdk.Status{Name: name, RawState: raw, State: state, Description: raw + " description", Genre: "Kustomization", Operator: "Flux"}
}

func newTestPipeline(r *recorder, opts ...func(*Options)) *Pipeline {
	o := Options{
		Plugins:        r,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
	}
	for _, f := range opts {
		f(&o)
	}
	return New(o)
}

func closeAndWait(t *testing.T, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStatusesOfOneCommitArePostedInArrivalOrder(t *testing.T) {
	r := &recorder{}
	p := newTestPipeline(r)
	for i := range 20 {
		if err := p.Submit(Job{ID: fmt.Sprint(i), Config: testConfig, CommitID: commitA,
			Statuses: []sdk.Status{status("Status", fmt.Sprintf("step%02d", i), sdk.StatePending), status("Other", fmt.Sprintf("step%02d", i), sdk.StatePending)}}); err != nil {
			t.Fatal(err)
		}
	}
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

func TestACommitWaitingOnTheAPIDoesNotBlockOtherCommits(t *testing.T) {
	release := make(chan struct{})
	r := &recorder{block: map[string]chan struct{}{"Slow": release}, blockedAt: make(chan string, 1)}
	p := newTestPipeline(r)
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Slow", "Progressing", sdk.StatePending)}})
	<-r.blockedAt // commit A is stuck in PostStatus
	_ = p.Submit(Job{Config: testConfig, CommitID: commitB, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
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
	p := newTestPipeline(r, func(o *Options) {
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
		_ = p.Submit(j)
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
	p := newTestPipeline(r)
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA,
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
}

func TestRetryAfterFromThePluginIsHonoured(t *testing.T) {
	r := &recorder{failures: map[string][]error{"Status": {sdk.Retryable(errors.New("rate limited"), time.Second)}}}
	p := newTestPipeline(r)
	start := time.Now()
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	// The backoff alone would retry after ~1 ms; the plugin asked for 1 s.
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %v, before the retry-after of 1s", waited)
	}
	if posted, _ := r.snapshot(); len(posted) != 1 {
		t.Fatalf("posted %v", posted)
	}
}

func TestWorkOlderThanMaxAgeIsGivenUp(t *testing.T) {
	var errs []error
	for range 1000 {
		errs = append(errs, sdk.Retryable(errors.New("503"), 0))
	}
	r := &recorder{failures: map[string][]error{"Status": errs}}
	p := newTestPipeline(r, func(o *Options) { o.MaxAge = 50 * time.Millisecond })
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	if posted, _ := r.snapshot(); len(posted) != 0 {
		t.Fatalf("posted %v", posted)
	}
	if left := len(r.failures["Status"]); left == 0 || left == 1000 {
		t.Fatalf("%d of 1000 failures left: want some retries, then giving up", left)
	}
}

func TestAFailedNotificationIsRetriedAndAResentEventDoesNotNotifyTwice(t *testing.T) {
	r := &recorder{notifyFailures: []error{sdk.Retryable(errors.New("502"), 0)}}
	p := newTestPipeline(r)
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	_ = p.Submit(done)
	_ = p.Submit(done)
	closeAndWait(t, p)
	if _, notified := r.snapshot(); !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v, want exactly one success", notified)
	}
}

func TestAPermanentlyFailedNotificationIsToldAgainByTheNextEvent(t *testing.T) {
	r := &recorder{notifyFailures: []error{sdk.NotFound(errors.New("no such repository"))}}
	p := newTestPipeline(r)
	done := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	_ = p.Submit(done)
	_ = p.Submit(done) // Flux repeats; the earlier notification never went out
	closeAndWait(t, p)
	if _, notified := r.snapshot(); !slices.Equal(notified, []string{"aaaaaaa:success"}) {
		t.Fatalf("notified %v, want one success after the failed first try", notified)
	}
}

func TestConfigsKeepSeparateBookkeepingForOneCommit(t *testing.T) {
	r := &recorder{}
	p := newTestPipeline(r)
	dev, prod := testConfig, testConfig
	dev.Name, prod.Name = "dev", "prod"
	for _, c := range []config.Config{dev, prod, dev, prod} {
		_ = p.Submit(Job{Config: c, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status(c.Name+"/Status", "ReconciliationSucceeded", sdk.StateSucceeded)}})
	}
	closeAndWait(t, p)
	posted, notified := r.snapshot()
	if len(posted) != 2 || len(notified) != 2 {
		t.Fatalf("posted %v, notified %v: want one status and one notification per config", posted, notified)
	}
}

func TestSubmitAfterCloseIsRefused(t *testing.T) {
	p := newTestPipeline(&recorder{})
	closeAndWait(t, p)
	if err := p.Submit(Job{Config: testConfig, CommitID: commitA}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpAfterTheGracePeriodAndSaysWhatWasLeft(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	r := &recorder{block: map[string]chan struct{}{"Slow": release}, blockedAt: make(chan string, 1)}
	p := newTestPipeline(r)
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Slow", "Progressing", sdk.StatePending)}})
	_ = p.Submit(Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Next", "Progressing", sdk.StatePending)}})
	<-r.blockedAt
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	if err == nil || err.Error() != "shutdown grace period over: 2 event(s) not delivered" {
		t.Fatalf("Close = %v", err)
	}
}

func TestMemoryStoreForgetsIdleStates(t *testing.T) {
	s := NewMemoryStore(time.Hour)
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	_ = s.Save("old", State{Finished: true})
	now = now.Add(2 * time.Hour)
	_ = s.Save("new", State{Finished: true})
	if s.Len() != 1 {
		t.Fatalf("store holds %d states, want 1", s.Len())
	}
	if st, _ := s.Load("new"); !st.Finished {
		t.Fatal("the recent state was lost")
	}
}
