package jsstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
)

var replicaConfig = config.Config{Name: "default", RepositoryType: "GITHUB", OrchestratorType: "GITHUB"}

// api records what the replicas' plugins did, as the GitHub API would see
// it: a call counts once it returned.
type api struct {
	mu       sync.Mutex
	posted   map[string][]string // commit → descriptions, in order
	notified map[string]int      // commit → notifications
}

func newAPI() *api { return &api{posted: map[string][]string{}, notified: map[string]int{}} }

func (a *api) snapshot() (map[string][]string, map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	posted := map[string][]string{}
	for k, v := range a.posted {
		posted[k] = slices.Clone(v)
	}
	notified := map[string]int{}
	for k, v := range a.notified {
		notified[k] = v
	}
	return posted, notified
}

// replicaPlugins are one replica's plugins. Once frozen, every call hangs:
// the replica is as good as killed.
type replicaPlugins struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator
	api    *api
	frozen chan struct{}
	once   sync.Once
	calls  atomic.Int64 // calls that returned

	mu         sync.Mutex
	unrecorded map[string]bool // commits with a call that returned and whose state was not written since
}

func (p *replicaPlugins) freeze() { p.once.Do(func() { close(p.frozen) }) }

// recorded notes that a commit's state was written.
func (p *replicaPlugins) recorded(commit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.unrecorded, commit)
}

// settled reports whether every call that returned was recorded.
func (p *replicaPlugins) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.unrecorded) == 0
}

func (p *replicaPlugins) call(ctx context.Context, commit string) error {
	select {
	case <-p.frozen:
		<-ctx.Done()
		return sdk.Retryable(ctx.Err(), 0)
	case <-time.After(2 * time.Millisecond): // an API call takes time
	}
	select {
	case <-p.frozen:
		<-ctx.Done()
		return sdk.Retryable(ctx.Err(), 0)
	default:
		p.calls.Add(1)
		p.mu.Lock()
		p.unrecorded[commit] = true
		p.mu.Unlock()
		return nil
	}
}

func (p *replicaPlugins) PostStatus(ctx context.Context, r sdk.PostStatusRequest) error {
	if err := p.call(ctx, r.CommitID); err != nil {
		return err
	}
	p.api.mu.Lock()
	defer p.api.mu.Unlock()
	p.api.posted[r.CommitID] = append(p.api.posted[r.CommitID], r.Status.Description)
	return nil
}

func (p *replicaPlugins) NotifyCompletion(ctx context.Context, c sdk.Completion, _ sdk.Repository) (sdk.NotifyResult, error) {
	if err := p.call(ctx, c.CommitID); err != nil {
		return sdk.NotifyResult{}, err
	}
	p.api.mu.Lock()
	defer p.api.mu.Unlock()
	p.api.notified[c.CommitID]++
	return sdk.NotifyResult{Notified: true}, nil
}

func (p *replicaPlugins) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

func (p *replicaPlugins) Repository(string) (sdk.Repository, error)     { return p, nil }
func (p *replicaPlugins) Orchestrator(string) (sdk.Orchestrator, error) { return p, nil }

// startReplicas starts three replicas on a server of their own.
func startReplicas(t *testing.T, name string, a *api) []*replica {
	t.Helper()
	srv := natsserver.Single(t)
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, srv.URL(), name, a))
	}
	return replicas
}

// trackedStore is a replica's store that tells its plugins when the state
// of a commit was written after their calls.
type trackedStore struct {
	*Store
	plugins *replicaPlugins
}

func (s trackedStore) Progress(r pipeline.Record, st pipeline.State) error {
	defer s.plugins.recorded(r.CommitID)
	return s.Store.Progress(r, st)
}

func (s trackedStore) Done(r pipeline.Record, st *pipeline.State) error {
	defer s.plugins.recorded(r.CommitID)
	return s.Store.Done(r, st)
}

type replica struct {
	store   *Store
	pipe    *pipeline.Pipeline
	plugins *replicaPlugins
}

// startReplica starts a pipeline on a store of its own on url.
func startReplica(t *testing.T, url, name string, a *api) *replica {
	t.Helper()
	s := open(t, url, name)
	plugins := &replicaPlugins{api: a, frozen: make(chan struct{}), unrecorded: map[string]bool{}}
	p, err := pipeline.New(pipeline.Options{
		Plugins: plugins, Store: trackedStore{Store: s, plugins: plugins}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Resolve:        func(string) (config.Config, error) { return replicaConfig, nil },
		InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, CallTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	r := &replica{store: s, pipe: p, plugins: plugins}
	t.Cleanup(func() { r.kill() })
	return r
}

// kill freezes a replica and cuts it from NATS: its calls in flight never
// return, it renews nothing, hands nothing back and writes nothing more.
// It dies after recording the calls that returned before: a replica killed
// between a call and its record makes that call again
// (docs/reliability.md), which is not what this test is about.
func (r *replica) kill() {
	r.plugins.freeze()
	for deadline := time.Now().Add(10 * time.Second); !r.plugins.settled() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	_ = r.store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = r.pipe.Close(ctx)
}

// stop shuts a replica down as the host does on SIGTERM: the deliveries in
// flight finish, the jobs it holds and has not started are handed back,
// then its connection closes.
func (r *replica) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.pipe.Close(ctx)
	r.plugins.freeze()
	_ = r.store.Close()
}

// events returns the events of commits commits, steps each; the last
// finishes the deployment.
func events(commits, steps int) [][]pipeline.Job {
	var out [][]pipeline.Job
	for c := range commits {
		commit := fmt.Sprintf("%07d%033d", c, 0)
		var jobs []pipeline.Job
		for s := range steps {
			jobs = append(jobs, pipeline.Job{
				ID: fmt.Sprintf("c%d-s%d", c, s), Config: replicaConfig, CommitID: commit,
				Statuses: []sdk.Status{{Name: "Status", State: sdk.StatePending, RawState: "Progressing", Description: fmt.Sprintf("step %d", s)}},
				Finished: s == steps-1, Successful: s == steps-1, DedupID: fmt.Sprintf("c%d-s%d", c, s),
			})
		}
		out = append(out, jobs)
	}
	return out
}

// waitDelivered waits until every commit was notified, then checks that each
// was notified once and its statuses posted in order, ending with the last
// (a status superseded while a replica took over may be skipped).
func waitDelivered(t *testing.T, a *api, all [][]pipeline.Job, steps int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, notified := a.snapshot()
		if len(notified) == len(all) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commits notified", len(notified), len(all))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a repeat would show now
	posted, notified := a.snapshot()
	var want []string
	for s := range steps {
		want = append(want, fmt.Sprintf("step %d", s))
	}
	for _, jobs := range all {
		commit := jobs[0].CommitID
		if notified[commit] != 1 {
			t.Errorf("commit %s notified %d times", commit[:7], notified[commit])
		}
		// Superseded statuses may be skipped after a fail-over; what is
		// posted is in order, once, and ends with the last.
		got := posted[commit]
		if len(got) == 0 || got[len(got)-1] != want[len(want)-1] || !sorted(got) {
			t.Errorf("commit %s: statuses posted %v, want a subsequence of %v ending with the last", commit[:7], got, want)
		}
	}
}

// sorted reports whether descriptions "step N" strictly increase.
func sorted(ds []string) bool {
	for i := 1; i < len(ds); i++ {
		var a, b int
		fmt.Sscanf(ds[i-1], "step %d", &a)
		fmt.Sscanf(ds[i], "step %d", &b)
		if b <= a {
			return false
		}
	}
	return true
}

func waitEmpty(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := s.Pending()
		if err == nil && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs left in the stream: %d (%v)", len(left), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// submit spreads the events over the replicas, each sent to one replica
// and sent again (a sender's retry) to the next; the events of one commit
// in order.
func submit(t *testing.T, all [][]pipeline.Job, replicas []*replica, during func(i int)) {
	t.Helper()
	i := 0
	for s := range all[0] {
		for c := range all {
			job := all[c][s]
			var live []*replica
			for _, r := range replicas {
				if !isFrozen(r) {
					live = append(live, r)
				}
			}
			if _, err := live[i%len(live)].pipe.Submit(job); err != nil {
				t.Fatal(err)
			}
			retry := job
			retry.ID += "-retry"
			if _, err := live[(i+1)%len(live)].pipe.Submit(retry); err != nil {
				t.Fatal(err)
			}
			i++
			if during != nil {
				during(i)
			}
		}
	}
}

func TestReplicasDeliverEveryEventInOrderPerCommitAndNotifyOnce(t *testing.T) {
	a := newAPI()
	replicas := startReplicas(t, "replicas", a)
	all := events(12, 4)
	submit(t, all, replicas, nil)
	waitDelivered(t, a, all, 4)
	posted, _ := a.snapshot()
	for _, jobs := range all {
		if got := posted[jobs[0].CommitID]; len(got) != 4 {
			t.Errorf("commit %s: posted %v; without a fail-over every status is posted once", jobs[0].CommitID[:7], got)
		}
	}
	waitEmpty(t, replicas[0].store)
}

// Each way a replica leaves while it delivers: it dies (frozen and cut from
// NATS: its jobs are handed out again after AckWait) or it shuts down
// (it hands the jobs it holds back at once and its partitions are pinned
// to another replica at once). Either way the replica taking over must
// not deliver a newer event of a commit before an older one still held or
// handed back.
func TestWhenTheReplicaDeliveringDiesAnotherDeliversItsEvents(t *testing.T) {
	for _, leave := range []struct {
		name string
		do   func(*replica)
	}{
		{"killed", (*replica).kill},
		{"shut down", (*replica).stop},
	} {
		t.Run(leave.name, func(t *testing.T) {
			a := newAPI()
			replicas := startReplicas(t, "failover", a)
			all := events(12, 4)
			// A partition's events go to one replica at a time: twice,
			// mid-stream, the replica that delivers leaves.
			submit(t, all, replicas, func(i int) {
				if i == len(all) || i == 2*len(all) {
					leave.do(delivering(t, replicas))
				}
			})
			waitDelivered(t, a, all, 4)
			for _, r := range replicas {
				if !isFrozen(r) {
					waitEmpty(t, r.store)
				}
			}
		})
	}
}

// delivering waits until a live replica has delivered something and
// returns it.
func delivering(t *testing.T, replicas []*replica) *replica {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, r := range replicas {
			if !isFrozen(r) && r.plugins.calls.Load() > 0 {
				return r
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no live replica delivers")
	return nil
}

func isFrozen(r *replica) bool {
	select {
	case <-r.plugins.frozen:
		return true
	default:
		return false
	}
}
