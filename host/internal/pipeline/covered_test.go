package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// graphRecorder is a recorder whose repository lists commits from a graph,
// and whose orchestrator fails the commits in failing with a retryable
// error.
type graphRecorder struct {
	*recorder
	gmu     sync.Mutex
	commits map[string]sdk.Commit
	lists   int
	failing map[string]bool
	tried   map[string]int
}

func newGraph() *graphRecorder {
	return &graphRecorder{recorder: &recorder{}, commits: map[string]sdk.Commit{}, failing: map[string]bool{}, tried: map[string]int{}}
}

func (g *graphRecorder) Repository(string) (sdk.Repository, error)     { return g, nil }
func (g *graphRecorder) Orchestrator(string) (sdk.Orchestrator, error) { return g, nil }

// commit adds a commit minutes after t0 with its parents.
func (g *graphRecorder) commit(id string, at time.Time, parents ...string) string {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	g.commits[id] = sdk.Commit{ID: id, ParentIDs: parents, CommittedAt: at}
	return id
}

// ListCommits lists what head reaches and base does not, newest first.
func (g *graphRecorder) ListCommits(_ context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	g.lists++
	excluded := map[string]bool{}
	for id := req.BaseCommitID; id != ""; {
		excluded[id] = true
		c := g.commits[id]
		id = ""
		if len(c.ParentIDs) > 0 {
			id = c.ParentIDs[0]
		}
	}
	var out sdk.CommitList
	for id := req.HeadCommitID; id != "" && !excluded[id]; {
		c, ok := g.commits[id]
		if !ok {
			break
		}
		if len(out.Commits) == req.Limit() {
			out.Truncated = true
			break
		}
		out.Commits = append(out.Commits, c)
		id = ""
		if len(c.ParentIDs) > 0 {
			id = c.ParentIDs[0]
		}
	}
	return out, nil
}

func (g *graphRecorder) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	g.gmu.Lock()
	g.tried[c.CommitID]++
	fail := g.failing[c.CommitID]
	g.gmu.Unlock()
	if fail {
		return sdk.NotifyResult{}, sdk.Retryable(errors.New("503"), 0)
	}
	return g.recorder.NotifyCompletion(ctx, c, repo)
}

func (g *graphRecorder) listCalls() int {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	return g.lists
}

func finished(cfg config.Config, commit string, ok bool) Job {
	st := status("Status", "ReconciliationSucceeded", sdk.StateSucceeded)
	if !ok {
		st = status("Status", "HealthCheckFailed", sdk.StateFailed)
	}
	return Job{Config: cfg, CommitID: commit, Finished: true, Successful: ok, Statuses: []sdk.Status{st}}
}

func id(c byte) string { return strings.Repeat(string(c), 40) }

// history is c0 ← c1 ← c2 ← c3, a minute apart, ending now.
func history(g *graphRecorder) (c0, c1, c2, c3 string) {
	now := time.Now()
	c0 = g.commit(id('0'), now.Add(-3*time.Minute))
	c1 = g.commit(id('1'), now.Add(-2*time.Minute), c0)
	c2 = g.commit(id('2'), now.Add(-time.Minute), c1)
	c3 = g.commit(id('3'), now, c2)
	return
}

// crash stops a pipeline on a durable store at once, interrupting what is
// in flight, as a killed host leaves its store.
func crash(t *testing.T, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func deliverAll(t *testing.T, p *Pipeline, jobs ...Job) {
	t.Helper()
	for _, j := range jobs {
		submit(t, p, j)
		waitIdle(t, p)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestAFinishTellsEveryCommitItSkippedOnceWithItsOutcome(t *testing.T) {
	for _, ok := range []bool{true, false} {
		outcome := map[bool]string{true: "success", false: "failure"}[ok]
		t.Run(outcome, func(t *testing.T) {
			g := newGraph()
			c0, _, _, c3 := history(g)
			o := &observed{}
			subs := &subscriberRecorder{}
			cfg := testConfig
			cfg.StatusContext = "dev"
			p := newTestPipeline(t, g.recorder, func(opts *Options) {
				opts.Plugins, opts.Observer, opts.SubscriberClient = g, o, subs
				opts.SubscriberList = testSubscribers
			})
			first := finished(cfg, c0, true)
			first.Statuses[0].Name = "dev/Status"
			third := finished(cfg, c3, ok)
			third.Statuses[0].Name = "dev/Status"
			deliverAll(t, p, first, third, third) // Flux repeats the third
			closeAndWait(t, p)

			posted, notified := g.snapshot()
			raw := map[bool]string{true: "ReconciliationSucceeded", false: "HealthCheckFailed"}[ok]
			wantPosted := []string{"0000000/dev/Status=ReconciliationSucceeded", "3333333/dev/Status=" + raw,
				"1111111/dev/Status=" + raw, "2222222/dev/Status=" + raw}
			if !slices.Equal(sorted(posted), sorted(wantPosted)) {
				t.Errorf("posted %v, want %v", posted, wantPosted)
			}
			wantNotified := []string{"0000000:success", "3333333:" + outcome,
				"1111111:" + outcome + " with 3333333", "2222222:" + outcome + " with 3333333"}
			if !slices.Equal(sorted(notified), sorted(wantNotified)) {
				t.Errorf("notified %v, want %v", notified, wantNotified)
			}
			if !slices.Equal(o.skipped, []string{"GITHUB/notified", "GITHUB/notified"}) || len(o.notifications) != 3 {
				t.Errorf("observer: skipped %v, direct %v", o.skipped, o.notifications)
			}
			if !slices.Equal(o.walks, []string{WalkBaseUnknown, WalkFound}) {
				t.Errorf("walks %v", o.walks)
			}
			for _, sp := range subs.got {
				if sp.CommitID == id('1') && (sp.StatusName != "dev/Status" || !strings.Contains(sp.Message, "deployed with 3333333 ("+c3+")")) {
					t.Errorf("subscriber payload of a skipped commit: %+v", sp)
				}
			}
			if g.listCalls() != 1 {
				t.Errorf("%d listings, want 1 (none for the first deployment and the repeat)", g.listCalls())
			}
		})
	}
}

var testSubscribers = []subscriber.Subscriber{{Name: "audit", URL: "http://audit.example"}}

func TestNothingIsWalkedWhenBaseIsUnknownIgnoredOrNotAnAncestor(t *testing.T) {
	g := newGraph()
	c0, _, _, c3 := history(g)
	x := g.commit(id('x'), time.Now(), c0) // a force push replaced c1..c3 with x
	c4 := g.commit(id('4'), time.Now(), x)

	p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins = g })
	deliverAll(t, p, finished(testConfig, c3, true)) // first deployment: base unknown
	deliverAll(t, p, finished(testConfig, c4, true)) // force push
	// A config that ignores skipped commits tells only what it saw.
	deliverAll(t, p, finished(ignoringConfig, c0, true), finished(ignoringConfig, c3, true))
	closeAndWait(t, p)
	_, notified := g.snapshot()
	if want := []string{"3333333:success", "4444444:success", "0000000:success", "3333333:success"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
	if g.listCalls() != 1 {
		t.Errorf("%d listings, want 1 (the force push only)", g.listCalls())
	}
}

func TestACommitThatFinishedOnItsOwnKeepsItsOutcomeAndALaterOwnEventFollowsTheFinishRule(t *testing.T) {
	g := newGraph()
	c0, c1, c2, c3 := history(g)
	st := NewMemoryStore()
	// c2 finished on its own, failed, while the config's last deployed
	// commit is c0 (its event came after c0's and before c3's).
	if err := st.Done(Record{ConfigKey: testConfig.Key()}, &State{LastFinished: c0}); err != nil {
		t.Fatal(err)
	}
	if err := st.Done(Record{ConfigKey: testConfig.Key(), CommitID: c2}, &State{Finished: true, Notified: map[string]bool{"failure": true}}); err != nil {
		t.Fatal(err)
	}
	o := &observed{}
	p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store, opts.Observer = g, st, o })
	deliverAll(t, p, finished(testConfig, c3, true))
	// Own events for c1 afterwards: the same outcome is not told again, a
	// different one is.
	deliverAll(t, p, finished(testConfig, c1, true), finished(testConfig, c1, false))
	closeAndWait(t, p)
	posted, notified := g.snapshot()
	if want := []string{"3333333:success", "1111111:success with 3333333", "1111111:failure"}; !slices.Equal(notified, want) {
		t.Errorf("notified %v, want %v", notified, want)
	}
	for _, s := range posted {
		if strings.HasPrefix(s, "2222222") {
			t.Errorf("a status was posted on the commit that finished on its own: %v", posted)
		}
	}
	if !slices.Contains(o.skipped, "GITHUB/"+NotifyKeptOwnOutcome) {
		t.Errorf("observer: %v", o.skipped)
	}
}

func TestTheWalkIsBoundedByCommitsAndAge(t *testing.T) {
	g := newGraph()
	now := time.Now()
	c0 := g.commit(id('0'), now.Add(-3*time.Hour))
	old := g.commit(id('o'), now.Add(-2*time.Hour), c0)
	c1 := g.commit(id('1'), now.Add(-time.Minute), old)
	c2 := g.commit(id('2'), now, c1)
	p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.MaxAge = g, time.Hour })
	deliverAll(t, p, finished(testConfig, c0, true), finished(testConfig, c2, true))
	_, notified := g.snapshot()
	if want := []string{"0000000:success", "2222222:success", "1111111:success with 2222222"}; !slices.Equal(notified, want) {
		t.Errorf("age bound: notified %v, want %v", notified, want)
	}
	closeAndWait(t, p)

	g = newGraph()
	c0, _, _, c3 := history(g)
	p = newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.SkippedMaxCommits = g, 2 })
	deliverAll(t, p, finished(testConfig, c0, true), finished(testConfig, c3, true))
	closeAndWait(t, p)
	if _, notified := g.snapshot(); !slices.Equal(notified, []string{"0000000:success", "3333333:success"}) {
		t.Errorf("commit bound: notified %v, want only the deployed commits", notified)
	}
}

func TestARestartWhileTellingSkippedCommitsLosesNothingAndTellsNothingTwice(t *testing.T) {
	st := durableMemory{NewMemoryStore()}
	g := newGraph()
	c0, _, c2, c3 := history(g)
	g.failing[c2] = true // c2's pipeline cannot be told before the restart
	p1 := newTestPipeline(t, g.recorder, restartOn(st), func(opts *Options) { opts.Plugins = g })
	deliverAll(t, p1, finished(testConfig, c0, true))
	submit(t, p1, finished(testConfig, c3, true))
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.gmu.Lock()
		tried := g.tried[c2]
		g.gmu.Unlock()
		_, notified := g.snapshot()
		if tried > 1 && len(notified) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c2 tried %d times, notified %v", tried, notified)
		}
		time.Sleep(5 * time.Millisecond)
	}
	crash(t, p1)
	pending, _ := st.Pending()
	if len(pending) != 1 || pending[0].CommitID != c2 || pending[0].DeployedWith != c3 || pending[0].Next != 1 {
		t.Fatalf("pending after the stop: %+v, want c2's job with its status posted", pending)
	}

	g.gmu.Lock()
	g.failing[c2] = false
	g.gmu.Unlock()
	p2 := newTestPipeline(t, g.recorder, restartOn(st), func(opts *Options) { opts.Plugins = g })
	waitIdle(t, p2)
	deliverAll(t, p2, finished(testConfig, c3, true)) // Flux repeats the third after the restart
	closeAndWait(t, p2)
	posted, notified := g.snapshot()
	if want := []string{"0000000:success", "3333333:success", "1111111:success with 3333333", "2222222:success with 3333333"}; !slices.Equal(sorted(notified), sorted(want)) {
		t.Errorf("notified %v, want each once: %v", notified, want)
	}
	if n := len(posted); n != 4 {
		t.Errorf("posted %v, want one status per commit", posted)
	}
}

// addBlocker fails the Add of skipped commits' jobs while blocked, as a
// host that crashes after listing them and before recording them.
type addBlocker struct {
	Store
	mu      sync.Mutex
	blocked bool
	tried   chan struct{}
}

func (a *addBlocker) Add(r Record) (uint64, error) {
	a.mu.Lock()
	blocked := a.blocked && r.DeployedWith != ""
	a.mu.Unlock()
	if blocked {
		select {
		case a.tried <- struct{}{}:
		default:
		}
		return 0, errDiskFull
	}
	return a.Store.Add(r)
}

func TestACrashBetweenTheListAndTheNotificationsLosesNothingAndTellsNothingTwice(t *testing.T) {
	mem := durableMemory{NewMemoryStore()}
	g := newGraph()
	c0, _, _, c3 := history(g)
	blocker := &addBlocker{Store: mem, blocked: true, tried: make(chan struct{}, 1)}
	p1 := newTestPipeline(t, g.recorder, restartOn(blocker), func(opts *Options) { opts.Plugins = g })
	deliverAll(t, p1, finished(testConfig, c0, true))
	submit(t, p1, finished(testConfig, c3, true))
	select {
	case <-blocker.tried:
	case <-time.After(10 * time.Second):
		t.Fatal("the skipped commits were never recorded")
	}
	crash(t, p1)
	if g.listCalls() != 1 {
		t.Fatalf("%d listings before the crash, want 1", g.listCalls())
	}
	p2 := newTestPipeline(t, g.recorder, restartOn(mem), func(opts *Options) { opts.Plugins = g })
	waitIdle(t, p2)
	closeAndWait(t, p2)
	_, notified := g.snapshot()
	if want := []string{"0000000:success", "3333333:success", "1111111:success with 3333333", "2222222:success with 3333333"}; !slices.Equal(sorted(notified), sorted(want)) {
		t.Errorf("notified %v, want each once: %v", notified, want)
	}
	if g.listCalls() != 2 {
		t.Errorf("%d listings, want 2 (listed again after the restart)", g.listCalls())
	}
	// The config's last deployed commit moved to the third.
	if s, _ := mem.State(configStateKey(testConfig.Key())); s.LastFinished != c3 {
		t.Errorf("last deployed commit %q, want %q", s.LastFinished, c3)
	}
}

// gatedGraph is a graphRecorder that also holds each commit's statuses:
// those it posts and those other environments posted.
type gatedGraph struct {
	*graphRecorder
	smu      sync.Mutex
	statuses map[string][]sdk.CommitStatus
	// readOf lists the commits whose statuses were read.
	readOf []string
}

func (g *gatedGraph) Repository(string) (sdk.Repository, error)     { return g, nil }
func (g *gatedGraph) Orchestrator(string) (sdk.Orchestrator, error) { return g, nil }

func (g *gatedGraph) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	g.set(req.CommitID, req.Status.Name, req.Status.State)
	return g.recorder.PostStatus(ctx, req)
}

func (g *gatedGraph) set(commit, name string, state sdk.State) {
	g.smu.Lock()
	defer g.smu.Unlock()
	g.statuses[commit] = append([]sdk.CommitStatus{{Name: name, State: state, UpdatedAt: time.Now()}}, g.statuses[commit]...)
}

func (g *gatedGraph) ListStatuses(_ context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	g.smu.Lock()
	defer g.smu.Unlock()
	g.readOf = append(g.readOf, req.CommitID)
	return slices.Clone(g.statuses[req.CommitID]), nil
}

func TestASkippedCommitIsGatedAsTheDeploymentIs(t *testing.T) {
	// A commit the gatekeeper skipped is told what the gate of the commit
	// deployed decided, by that commit's statuses: whoever deployed c3
	// deployed what c3 contains, whether or not their connectors posted
	// statuses on the commits in between.
	for _, tc := range []struct {
		west sdk.State
		want string
	}{
		{sdk.StateSucceeded, "success"},
		{sdk.StateFailed, "failure"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			g := &gatedGraph{graphRecorder: newGraph(), statuses: map[string][]sdk.CommitStatus{}}
			c0, c1, c2, c3 := history(g.graphRecorder)
			// dev-west deployed c0 and c3 and posted nothing on c1 and c2.
			g.set(c0, "dev-west/Status", sdk.StateSucceeded)
			g.set(c3, "dev-west/Status", tc.west)
			st := durableMemory{NewMemoryStore()}
			p := newTestPipeline(t, g.recorder, func(opts *Options) { opts.Plugins, opts.Store = g, st })
			first, third := finished(gatekeeper, c0, true), finished(gatekeeper, c3, true)
			first.Statuses[0].Name, third.Statuses[0].Name = "dev-east/Status", "dev-east/Status"
			deliverAll(t, p, first, third)
			closeAndWait(t, p)
			posted, notified := g.snapshot()
			want := []string{"0000000:success", "3333333:" + tc.want, "1111111:" + tc.want + " with 3333333", "2222222:" + tc.want + " with 3333333"}
			if !slices.Equal(sorted(notified), sorted(want)) {
				t.Errorf("notified %v, want %v", notified, want)
			}
			if p.OpenGates() != 0 {
				t.Errorf("%d open gates", p.OpenGates())
			}
			// Each skipped commit shows dev-east's own outcome.
			if !slices.Contains(posted, "2222222/dev-east/Status=ReconciliationSucceeded") {
				t.Errorf("c2 did not get dev-east's status: %v", posted)
			}
			if slices.Contains(g.readOf, c1) || slices.Contains(g.readOf, c2) {
				t.Errorf("read the statuses of %v, want only those of the commits deployed", g.readOf)
			}
			if pending, _ := st.Pending(); len(pending) != 0 {
				t.Errorf("pending %+v", pending)
			}
		})
	}
}
