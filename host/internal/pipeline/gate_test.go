package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// environments is a repository whose commit statuses a test sets per
// environment, as other connectors would post them, and a recorder for the
// rest.
type environments struct {
	*recorder
	mu    sync.Mutex
	list  []sdk.CommitStatus
	errs  []error
	reads int
	at    time.Time
}

func newEnvironments() *environments {
	return &environments{recorder: &recorder{}, at: time.Now()}
}

func (e *environments) Repository(string) (sdk.Repository, error)     { return e, nil }
func (e *environments) Orchestrator(string) (sdk.Orchestrator, error) { return e.recorder, nil }

// set posts the Status of env on every commit, newer than the ones before.
func (e *environments) set(env string, state sdk.State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.at = e.at.Add(time.Second)
	e.list = append(e.list, sdk.CommitStatus{Name: env + "/Status", State: state, UpdatedAt: e.at})
}

func (e *environments) ListStatuses(_ context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reads++
	if len(e.errs) > 0 {
		err := e.errs[0]
		e.errs = e.errs[1:]
		return nil, err
	}
	// ListStatuses answers newest first.
	out := slices.Clone(e.list)
	slices.Reverse(out)
	return out, nil
}

func (e *environments) readCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads
}

// gatekeeper is the config of dev-east, which tells its pipeline once
// dev-east and dev-west both deployed a commit.
var gatekeeper = func() config.Config {
	c := testConfig
	c.Name, c.StatusContext = "dev-east", "dev-east"
	c.RequiredEnvironments = []string{"dev-east", "dev-west"}
	return c
}()

// deployed is dev-east's own finished deployment of commit A.
func deployed(successful bool) Job {
	raw, state := "ReconciliationSucceeded", sdk.StateSucceeded
	if !successful {
		raw, state = "HealthCheckFailed", sdk.StateFailed
	}
	return Job{ID: "east-" + raw, Config: gatekeeper, CommitID: commitA, Finished: true, Successful: successful,
		Statuses: []sdk.Status{status("dev-east/Status", raw, state)}}
}

// gateOptions resolve jobs to the gatekeeper and read open gates every few
// milliseconds.
func gateOptions(o *Options) {
	o.Resolve = func(key string) (config.Config, error) {
		if key == gatekeeper.Key() {
			return gatekeeper, nil
		}
		return testConfig, nil
	}
	o.GateInitialInterval, o.GateMaxInterval = 5*time.Millisecond, 20*time.Millisecond
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func notified(r *recorder) []string {
	_, n := r.snapshot()
	return n
}

func TestAGatekeeperTellsSuccessOnlyOnceEveryRequiredEnvironmentSucceeded(t *testing.T) {
	env := newEnvironments()
	logs := &hostproc.Log{}
	p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) {
		o.Plugins = env
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	env.set("dev-east", sdk.StateSucceeded)
	env.set("dev-west", sdk.StatePending)
	submit(t, p, deployed(true))
	eventually(t, "the gate was read three times", func() bool { return env.readCount() >= 3 })
	if n := notified(env.recorder); len(n) != 0 || p.OpenGates() > 1 {
		t.Fatalf("told %v while dev-west deploys (%d gates open)", n, p.OpenGates())
	}
	open := logs.Messages("gate open: waiting for the required environments")
	if len(open) == 0 || open[0]["waiting_for"] != "dev-west (pending)" || open[0]["commit"] != commitA {
		t.Fatalf("gate open log lines %v", open)
	}
	env.set("dev-west", sdk.StateSucceeded)
	eventually(t, "the pipeline was told", func() bool { return len(notified(env.recorder)) > 0 })
	submit(t, p, deployed(true)) // Flux repeats the success
	waitIdle(t, p)
	eventually(t, "no gate is open", func() bool { return p.OpenGates() == 0 })
	closeAndWait(t, p)
	if n := notified(env.recorder); !slices.Equal(n, []string{"aaaaaaa:success"}) {
		t.Fatalf("told %v, want one success", n)
	}
	if len(logs.Messages("gate decided: every required environment succeeded")) == 0 {
		t.Error("no log line of the decision")
	}
}

func TestARequiredEnvironmentThatFailedOrTheOwnFailureTellsFailureAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		west      sdk.State
		own       bool
		wantReads int
	}{
		{"dev-west failed", sdk.StateFailed, true, 1},
		{"dev-west errored", sdk.StateError, true, 1},
		{"dev-east failed itself", sdk.StatePending, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnvironments()
			p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) { o.Plugins = env })
			env.set("dev-east", sdk.StateSucceeded)
			env.set("dev-west", tc.west)
			submit(t, p, deployed(tc.own))
			waitIdle(t, p)
			submit(t, p, deployed(tc.own)) // a repeat tells nothing more
			waitIdle(t, p)
			closeAndWait(t, p)
			if n := notified(env.recorder); !slices.Equal(n, []string{"aaaaaaa:failure"}) || p.OpenGates() != 0 {
				t.Fatalf("told %v (%d gates open), want one failure", n, p.OpenGates())
			}
			if env.readCount() != tc.wantReads*2 {
				t.Errorf("%d reads, want %d", env.readCount(), tc.wantReads*2)
			}
		})
	}
}

func TestAnotherEventOfTheCommitReadsItsOpenGateAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func() Store
	}{
		{"own store", func() Store { return NewMemoryStore() }},
		// A shared store hands the event to the replica, which wakes the
		// gate as Submit does.
		{"shared store", func() Store { return sharedMemory{MemoryStore: NewMemoryStore(), added: make(chan Record, 10)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnvironments()
			p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) {
				o.Plugins, o.Store = env, tc.store()
				o.GateInitialInterval, o.GateMaxInterval = time.Hour, time.Hour
			})
			env.set("dev-east", sdk.StateSucceeded)
			submit(t, p, deployed(true))
			eventually(t, "the gate is open", func() bool { return p.OpenGates() == 1 })
			env.set("dev-west", sdk.StateSucceeded)
			// dev-west's config in the same connector reports the commit.
			west := testConfig
			west.Name, west.StatusContext = "dev-west", "dev-west"
			submit(t, p, Job{ID: "west", Config: west, CommitID: commitA, Statuses: []sdk.Status{status("dev-west/Status", "Progressing", sdk.StatePending)}})
			eventually(t, "the pipeline was told", func() bool { return len(notified(env.recorder)) == 1 })
			if p.OpenGates() != 0 || env.readCount() != 2 {
				t.Errorf("%d gates open after %d reads, want none after 2", p.OpenGates(), env.readCount())
			}
			closeAndWait(t, p)
		})
	}
}

func TestAnOpenGateIsGivenUpAtTheMaximumAgeVisiblyAndNeverTells(t *testing.T) {
	env := newEnvironments()
	logs := &hostproc.Log{}
	var mu sync.Mutex
	var gaveUp []GiveUp
	obs := &observed{}
	p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) {
		o.Plugins = env
		o.MaxAge = 300 * time.Millisecond
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		o.Observer = obs
		o.OnGiveUp = func(g GiveUp) { mu.Lock(); gaveUp = append(gaveUp, g); mu.Unlock() }
	})
	env.set("dev-east", sdk.StateSucceeded)
	submit(t, p, deployed(true))
	eventually(t, "the gate was given up", func() bool { mu.Lock(); defer mu.Unlock(); return len(gaveUp) == 1 })
	waitIdle(t, p)
	closeAndWait(t, p)
	g := gaveUp[0]
	if g.Step != StepGate || g.Reason != ReasonMaxAge || g.CommitID != commitA || g.ConfigKey != "dev-east" ||
		!strings.Contains(g.Err.Error(), "dev-west (no status)") {
		t.Fatalf("give-up %+v", g)
	}
	lines := logs.Messages("gate given up: the required environments did not all deploy the commit within the event's maximum age")
	if len(lines) != 1 || lines[0]["waiting_for"] != "dev-west (no status)" {
		t.Fatalf("give-up log lines %v", lines)
	}
	if n := notified(env.recorder); len(n) != 0 || p.OpenGates() != 0 {
		t.Fatalf("told %v (%d gates open)", n, p.OpenGates())
	}
	if !slices.Equal(obs.notifications, []string{"GITHUB/" + NotifyExpired}) {
		t.Errorf("observer told %v", obs.notifications)
	}
	if pending, _ := p.opts.Store.Pending(); len(pending) != 0 {
		t.Errorf("the given-up job is still in the store: %+v", pending)
	}
}

func TestAnOpenGateSurvivesARestartAndTellsOnceWithoutPostingAgain(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	env := newEnvironments()
	hour := func(o *Options) { o.GateInitialInterval, o.GateMaxInterval = time.Hour, time.Hour }
	p1 := newTestPipeline(t, env.recorder, gateOptions, restartOn(st), gateOptions, hour, func(o *Options) { o.Plugins = env })
	env.set("dev-east", sdk.StateSucceeded)
	submit(t, p1, deployed(true))
	eventually(t, "the gate is open", func() bool { return p1.OpenGates() == 1 })
	closeAndWait(t, p1)
	if pending, _ := st.Pending(); len(pending) != 1 || pending[0].Next != 1 {
		t.Fatalf("the store holds %+v, want the gate's job with its status posted", pending)
	}
	if s, _ := st.State(gatekeeper.Key() + "@" + commitA); !s.Finished || len(s.Notified) != 0 {
		t.Fatalf("state %+v", s)
	}

	env.set("dev-west", sdk.StateSucceeded) // while the host was down
	p2 := newTestPipeline(t, env.recorder, restartOn(st), gateOptions, hour, func(o *Options) { o.Plugins = env })
	eventually(t, "the pipeline was told", func() bool { return len(notified(env.recorder)) == 1 })
	waitIdle(t, p2)
	closeAndWait(t, p2)
	posted, n := env.recorder.snapshot()
	if !slices.Equal(n, []string{"aaaaaaa:success"}) || !slices.Equal(posted, []string{"aaaaaaa/dev-east/Status=ReconciliationSucceeded"}) {
		t.Fatalf("told %v, posted %v: want one success and the status once", n, posted)
	}
	if pending, _ := st.Pending(); len(pending) != 0 {
		t.Fatalf("the store still holds %+v", pending)
	}
}

func TestAFailureAfterTheGateSaidSuccessIsToldOnceByTheNextEvent(t *testing.T) {
	env := newEnvironments()
	p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) { o.Plugins = env })
	env.set("dev-east", sdk.StateSucceeded)
	env.set("dev-west", sdk.StateSucceeded)
	submit(t, p, deployed(true))
	waitIdle(t, p)
	env.set("dev-west", sdk.StatePending) // dev-west deploys the commit again: nothing new to wait for
	submit(t, p, deployed(true))
	waitIdle(t, p)
	if p.OpenGates() != 0 {
		t.Fatal("a gate opened although success was told")
	}
	env.set("dev-west", sdk.StateFailed)
	submit(t, p, deployed(true), deployed(true))
	waitIdle(t, p)
	closeAndWait(t, p)
	if n := notified(env.recorder); !slices.Equal(n, []string{"aaaaaaa:success", "aaaaaaa:failure"}) {
		t.Fatalf("told %v, want success, then the failure once", n)
	}
}

func TestReadErrorsKeepTheGateOpenWhenRetryableAndGiveItUpWhenPermanent(t *testing.T) {
	env := newEnvironments()
	env.errs = []error{sdk.Retryable(errors.New("502"), 0), sdk.Retryable(errors.New("503"), 0)}
	var mu sync.Mutex
	var gaveUp []GiveUp
	p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) {
		o.Plugins = env
		o.OnGiveUp = func(g GiveUp) { mu.Lock(); gaveUp = append(gaveUp, g); mu.Unlock() }
	})
	env.set("dev-east", sdk.StateSucceeded)
	env.set("dev-west", sdk.StateSucceeded)
	submit(t, p, deployed(true))
	eventually(t, "the pipeline was told", func() bool { return len(notified(env.recorder)) == 1 })
	if env.readCount() != 3 {
		t.Errorf("%d reads, want 2 failed and 1 that decided", env.readCount())
	}

	env.mu.Lock()
	env.errs = []error{fmt.Errorf("list statuses: %w", sdk.ErrUnimplemented)}
	env.mu.Unlock()
	other := deployed(true)
	other.CommitID = commitB
	submit(t, p, other)
	waitIdle(t, p)
	closeAndWait(t, p)
	if len(gaveUp) != 1 || gaveUp[0].Step != StepGate || gaveUp[0].Reason != ReasonPermanent || gaveUp[0].CommitID != commitB {
		t.Fatalf("give-ups %+v", gaveUp)
	}
	if n := notified(env.recorder); len(n) != 1 {
		t.Fatalf("told %v", n)
	}
}

func TestAGateWhoseStatusesStayUnreadableIsGivenUpSayingWhy(t *testing.T) {
	env := newEnvironments()
	for range 1000 {
		env.errs = append(env.errs, sdk.Retryable(errors.New("502 bad gateway"), 0))
	}
	var mu sync.Mutex
	var gaveUp []GiveUp
	p := newTestPipeline(t, env.recorder, gateOptions, func(o *Options) {
		o.Plugins = env
		o.MaxAge = 100 * time.Millisecond
		o.OnGiveUp = func(g GiveUp) { mu.Lock(); gaveUp = append(gaveUp, g); mu.Unlock() }
	})
	submit(t, p, deployed(true))
	eventually(t, "the gate was given up", func() bool { mu.Lock(); defer mu.Unlock(); return len(gaveUp) == 1 })
	closeAndWait(t, p)
	if g := gaveUp[0]; g.Step != StepGate || g.Reason != ReasonMaxAge || !strings.Contains(g.Err.Error(), "statuses not readable") || !strings.Contains(g.Err.Error(), "502") {
		t.Fatalf("give-up %+v", g)
	}
	if env.readCount() < 2 || len(notified(env.recorder)) != 0 {
		t.Errorf("%d reads, told %v: want reads again and nothing told", env.readCount(), notified(env.recorder))
	}
}

func TestALaterEventOfThePairTakesTheOpenGateOverWithItsDeadline(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	env := newEnvironments()
	p := newTestPipeline(t, env.recorder, restartOn(st), gateOptions, func(o *Options) {
		o.Plugins = env
		o.GateInitialInterval, o.GateMaxInterval = time.Hour, time.Hour
	})
	env.set("dev-east", sdk.StateSucceeded)
	first, repeat := deployed(true), deployed(true)
	t0 := time.Now()
	first.ID, first.Received = "first", t0
	repeat.ID, repeat.Received = "repeat", t0.Add(time.Minute)
	submit(t, p, first)
	eventually(t, "the gate is open", func() bool { return p.OpenGates() == 1 })
	submit(t, p, repeat) // Flux repeats the success
	// The first job is removed before the repeat reads the gate and
	// records it open with the first's acceptance time: wait for the end.
	eventually(t, "the gate passed to the repeat, with the first event's acceptance time", func() bool {
		pending, _ := st.Pending()
		return len(pending) == 1 && pending[0].ID == "repeat" && pending[0].Received.Equal(t0) && p.OpenGates() == 1
	})
	env.set("dev-west", sdk.StateSucceeded)
	other := deployed(true)
	other.ID = "third"
	submit(t, p, other)
	eventually(t, "the pipeline was told", func() bool { return len(notified(env.recorder)) == 1 })
	waitIdle(t, p)
	closeAndWait(t, p)
	if pending, _ := st.Pending(); len(pending) != 0 {
		t.Errorf("left in the store: %+v", pending)
	}
	if n := notified(env.recorder); !slices.Equal(n, []string{"aaaaaaa:success"}) {
		t.Errorf("told %v", n)
	}
}

// sharedMemory is a MemoryStore that one replica shares with none: Consume
// hands it every job Add records, in order, as a shared store hands a
// replica the jobs of its partitions.
type sharedMemory struct {
	*MemoryStore
	added chan Record
}

func (s sharedMemory) Add(r Record) (uint64, error) {
	seq, err := s.MemoryStore.Add(r)
	if err == nil {
		r.Seq = seq
		s.added <- r
	}
	return seq, err
}

func (s sharedMemory) Durable() bool { return true }

func (s sharedMemory) Consume(ctx context.Context, add func(Record) bool) error {
	for {
		select {
		case r := <-s.added:
			add(r)
		case <-ctx.Done():
			return nil
		}
	}
}
