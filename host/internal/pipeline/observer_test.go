package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// observed records what an Observer is told, as "type/outcome".
type observed struct {
	mu            sync.Mutex
	statuses      []string
	notifications []string
	retries       []string
	skipped       []string // skipped commits' notifications
	walks         []string
}

func (o *observed) StatusDone(typ, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statuses = append(o.statuses, typ+"/"+outcome)
}

func (o *observed) NotificationDone(typ, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notifications = append(o.notifications, typ+"/"+outcome)
}

func (o *observed) SkippedNotificationDone(typ, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skipped = append(o.skipped, typ+"/"+outcome)
}

func (o *observed) SkippedWalk(result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.walks = append(o.walks, result)
}

func (o *observed) Retrying(step, typ string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries = append(o.retries, step+"/"+typ)
}

func TestTheObserverIsToldTheOutcomeOfEveryStatusNotificationAndRetry(t *testing.T) {
	r := &recorder{
		failures: map[string][]error{
			"Flaky":     {sdk.Retryable(errors.New("502"), 0), sdk.Retryable(errors.New("timeout"), 0)},
			"Forbidden": {sdk.PermissionDenied(errors.New("token lacks repo:status"))},
		},
		notifyFailures: []error{sdk.Retryable(errors.New("dispatch: 503"), 0)},
	}
	o := &observed{}
	p := newTestPipeline(t, r, func(opts *Options) { opts.Observer = o })
	progressing := Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{
		status("Flaky", "Progressing", sdk.StatePending), status("Forbidden", "Progressing", sdk.StatePending)}}
	succeeded := Job{Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}}
	for _, j := range []Job{progressing, succeeded, succeeded} {
		submit(t, p, j)
		waitIdle(t, p)
	}
	closeAndWait(t, p)

	if want := []string{"GITHUB/posted", "GITHUB/failed", "GITHUB/posted", "GITHUB/unchanged"}; !slices.Equal(o.statuses, want) {
		t.Errorf("statuses %v, want %v", o.statuses, want)
	}
	if want := []string{"GITHUB/notified", "GITHUB/already_notified"}; !slices.Equal(o.notifications, want) {
		t.Errorf("notifications %v, want %v", o.notifications, want)
	}
	if want := []string{StepStatus + "/GITHUB", StepStatus + "/GITHUB", StepNotify + "/GITHUB"}; !slices.Equal(o.retries, want) {
		t.Errorf("retries %v, want %v", o.retries, want)
	}
}

func TestTheObserverIsToldOfSupersededStatuses(t *testing.T) {
	r := &recorder{failures: map[string][]error{"Deployment": {sdk.Retryable(errors.New("502"), 0)}}}
	o := &observed{}
	p := newPipeline(t, r, func(opts *Options) { opts.Observer = o })
	// Queued before delivery starts; the first post fails once, so the
	// commit falls behind and the first Status is superseded by the second.
	submit(t, p,
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Deployment", "configured", sdk.StateSucceeded), status("Status", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}},
	)
	p.Start()
	closeAndWait(t, p)
	if want := []string{"GITHUB/posted", "GITHUB/superseded", "GITHUB/posted"}; !slices.Equal(o.statuses, want) {
		t.Errorf("statuses %v, want %v", o.statuses, want)
	}
}

func TestTheObserverIsToldOfStatusesRetriedUntilTheMaximumAge(t *testing.T) {
	var errs []error
	for range 1000 {
		errs = append(errs, sdk.Retryable(errors.New("503"), 0))
	}
	r := &recorder{failures: map[string][]error{"Stuck": errs}}
	o := &observed{}
	p := newTestPipeline(t, r, func(opts *Options) {
		opts.Observer = o
		opts.MaxAge = 30 * time.Millisecond
	})
	submit(t, p, Job{Config: testConfig, CommitID: commitB, Finished: true, Successful: true,
		Statuses: []sdk.Status{status("Stuck", "Progressing", sdk.StatePending)}})
	closeAndWait(t, p)
	if want := []string{"GITHUB/expired"}; !slices.Equal(o.statuses, want) {
		t.Errorf("statuses %v, want %v", o.statuses, want)
	}
	if len(o.notifications) != 0 {
		t.Errorf("notifications %v: the notification was given up with the event, not attempted", o.notifications)
	}
	if len(o.retries) == 0 {
		t.Error("no retry told")
	}
}

func TestOldestAgeIsTheAgeOfTheOldestQueuedEvent(t *testing.T) {
	r := &recorder{}
	p := newPipeline(t, r) // not started: everything stays queued
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	if age := p.OldestAge(); age != 0 {
		t.Fatalf("empty pipeline: oldest age %v, want 0", age)
	}
	submit(t, p,
		Job{Config: testConfig, CommitID: commitA, Received: now.Add(-2 * time.Minute), Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitB, Received: now.Add(-5 * time.Minute), Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}},
		Job{Config: testConfig, CommitID: commitB, Received: now.Add(-time.Minute), Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}},
	)
	if age := p.OldestAge(); age != 5*time.Minute {
		t.Errorf("oldest age %v, want 5m0s", age)
	}
	p.now = time.Now
	p.Start()
	closeAndWait(t, p)
	if age := p.OldestAge(); age != 0 {
		t.Errorf("delivered pipeline: oldest age %v, want 0", age)
	}
}

// idRecorder records the event id each plugin call's context carries.
type idRecorder struct {
	*recorder
	mu  sync.Mutex
	ids []string
}

func (r *idRecorder) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	r.mu.Lock()
	r.ids = append(r.ids, "status:"+EventID(ctx))
	r.mu.Unlock()
	return r.recorder.PostStatus(ctx, req)
}

func (r *idRecorder) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	r.mu.Lock()
	r.ids = append(r.ids, "notify:"+EventID(ctx))
	r.mu.Unlock()
	return r.recorder.NotifyCompletion(ctx, c, repo)
}

func (r *idRecorder) Repository(string) (sdk.Repository, error)     { return r, nil }
func (r *idRecorder) Orchestrator(string) (sdk.Orchestrator, error) { return r, nil }

func TestPluginCallsCarryTheIDOfTheEventTheyDeliver(t *testing.T) {
	r := &idRecorder{recorder: &recorder{}}
	p := newTestPipeline(t, r.recorder, func(o *Options) { o.Plugins = r })
	submit(t, p,
		Job{ID: "e1", Config: testConfig, CommitID: commitA, Statuses: []sdk.Status{status("Status", "Progressing", sdk.StatePending)}},
		Job{ID: "e2", Config: testConfig, CommitID: commitA, Finished: true, Successful: true,
			Statuses: []sdk.Status{status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)}},
	)
	closeAndWait(t, p)
	if want := []string{"status:e1", "status:e2", "notify:e2"}; !slices.Equal(r.ids, want) {
		t.Errorf("event ids %v, want %v", r.ids, want)
	}
	if id := EventID(context.Background()); id != "" {
		t.Errorf("a context outside a delivery has event id %q", id)
	}
}
