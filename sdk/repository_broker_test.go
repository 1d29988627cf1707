package sdk_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

// callRepository is the host's repository of one call: its commit message
// and its number of pull requests name it, and it counts what it is asked,
// so a call answered from another call's repository shows.
type callRepository struct {
	sdk.UnimplementedRepository
	name  string
	prs   int
	asked atomic.Int32
}

func (r *callRepository) GetCommit(_ context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	r.asked.Add(1)
	return sdk.Commit{ID: req.CommitID, Message: r.name}, nil
}

func (r *callRepository) ListPullRequests(context.Context, sdk.ListPullRequestsRequest) ([]sdk.PullRequest, error) {
	r.asked.Add(1)
	return make([]sdk.PullRequest, r.prs), nil
}

const commit = "0123456789abcdef0123456789abcdef01234567"

// notify calls NotifyCompletion with a repository of its own and fails
// unless the plugin answered from that repository, asking it once.
func notify(ctx context.Context, o sdk.Orchestrator, name string) error {
	repo := &callRepository{name: name}
	res, err := o.NotifyCompletion(ctx, sdk.Completion{Config: sdk.Config{Name: "prod"}, CommitID: commit, Successful: true}, repo)
	switch {
	case err != nil:
		return fmt.Errorf("NotifyCompletion %s: %w", name, err)
	case res.Reason != name || !res.Notified:
		return fmt.Errorf("NotifyCompletion %s = %+v: answered from another call's repository", name, res)
	case repo.asked.Load() != 1:
		return fmt.Errorf("NotifyCompletion %s asked its repository %d times, want once", name, repo.asked.Load())
	}
	return nil
}

// sweep is notify for Sweep: the repository of call n lists n pull
// requests.
func sweep(ctx context.Context, o sdk.Orchestrator, n int) error {
	repo := &callRepository{prs: n}
	res, err := o.Sweep(ctx, sdk.SweepRequest{Config: sdk.Config{Name: "prod"}}, repo)
	switch {
	case err != nil:
		return fmt.Errorf("Sweep %d: %w", n, err)
	case res.Notified != n || repo.asked.Load() != 1:
		return fmt.Errorf("Sweep %d notified %d and asked its repository %d times: answered from another call's repository", n, res.Notified, repo.asked.Load())
	}
	return nil
}

// manyCalls makes rounds of NotifyCompletion and Sweep calls, one by one
// and then concurrently, each with its own repository, and returns how
// many it made.
func manyCalls(t *testing.T, o sdk.Orchestrator) int64 {
	t.Helper()
	ctx := context.Background()
	calls := int64(0)
	for i := range 5 {
		if err := notify(ctx, o, fmt.Sprintf("sequential %d", i)); err != nil {
			t.Fatal(err)
		}
		if err := sweep(ctx, o, i); err != nil {
			t.Fatal(err)
		}
		calls += 2
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- notify(ctx, o, fmt.Sprintf("concurrent %d", i)) }()
		go func() { defer wg.Done(); errs <- sweep(ctx, o, 10+i) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	return calls + 64
}

func TestProtocol2ServesEveryCallsRepositoryOnOneConnection(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/echo"))
	if c.Protocol != sdk.LatestProtocolVersion {
		t.Fatalf("negotiated protocol %d, want %d", c.Protocol, sdk.LatestProtocolVersion)
	}
	manyCalls(t, c.Orchestrator)
	if n := sdk.RepositoryConnections(c.Orchestrator); n != 1 {
		t.Errorf("the plugin made %d connections to the host's repository, want 1", n)
	}
}

func TestAHostOfProtocol1ServesEachCallOnAConnectionOfItsOwn(t *testing.T) {
	c := plugintest.StartProtocol(t, plugintest.Build(t, "plugintest/testdata/echo"), 1)
	calls := manyCalls(t, c.Orchestrator)
	if n := sdk.RepositoryConnections(c.Orchestrator); n != calls {
		t.Errorf("the plugin made %d connections to the host's repository in %d calls, want one per call", n, calls)
	}
}

func TestAPluginOfProtocol1OnlyWorksWithTheHost(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/v1orchestrator"))
	if c.Protocol != 1 {
		t.Fatalf("negotiated protocol %d with a plugin of protocol 1", c.Protocol)
	}
	calls := manyCalls(t, c.Orchestrator)
	if n := sdk.RepositoryConnections(c.Orchestrator); n != calls {
		t.Errorf("the plugin made %d connections to the host's repository in %d calls, want one per call", n, calls)
	}
}

func TestARepositoryIsRefusedAfterItsCallEnded(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/echo"))
	ctx := context.Background()
	first := &callRepository{name: "first"}
	if _, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{
		Config: sdk.Config{Name: "prod", Settings: map[string]string{"keepRepository": "yes"}}, CommitID: commit, Successful: true,
	}, first); err != nil {
		t.Fatal(err)
	}
	second := &callRepository{name: "second"}
	_, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{
		Config: sdk.Config{Name: "prod", Settings: map[string]string{"useKeptRepository": "yes"}}, CommitID: commit, Successful: true,
	}, second)
	if err == nil || sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "is not in progress: the notification it was made for has ended") {
		t.Fatalf("a call through an ended call's repository = %v (%v), want a permanent error saying the call ended", err, sdk.KindOf(err))
	}
	if first.asked.Load() != 1 || second.asked.Load() != 0 {
		t.Errorf("the ended call's repository was asked %d times, the current call's %d; want 1 (its own call) and 0", first.asked.Load(), second.asked.Load())
	}
}

func TestTheHostServesANewRepositoryIDWhenTheSharedOneStops(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/echo"))
	ctx := context.Background()
	if err := notify(ctx, c.Orchestrator, "before"); err != nil {
		t.Fatal(err)
	}
	sdk.StopServingRepository(c.Orchestrator)
	for i := range 3 {
		if err := notify(ctx, c.Orchestrator, fmt.Sprintf("after %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := sdk.RepositoryConnections(c.Orchestrator); n != 2 {
		t.Errorf("the plugin made %d connections to the host's repository, want 2 (the first, and one to the new id)", n)
	}
}

func TestTheHostServesANewRepositoryIDWhenThePluginCannotConnect(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/echo"))
	ctx := context.Background()
	sdk.HandOutAnUnservedRepositoryID(c.Orchestrator, 0)
	err := notify(ctx, c.Orchestrator, "unserved")
	if !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "cannot connect to the host's repository") {
		t.Fatalf("a call whose repository cannot be reached = %v, want a retryable error saying so", err)
	}
	for i := range 3 {
		if err := notify(ctx, c.Orchestrator, fmt.Sprintf("after %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := sdk.RepositoryConnections(c.Orchestrator); n != 1 {
		t.Errorf("the plugin made %d connections to the host's repository, want 1", n)
	}
}

func TestTheHostServesANewRepositoryIDWhenThePluginNeverConnected(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "plugintest/testdata/echo"))
	// Served longer than the plugin could still dial it (go-plugin: 5 s).
	sdk.HandOutAnUnservedRepositoryID(c.Orchestrator, time.Minute)
	for i := range 3 {
		if err := notify(context.Background(), c.Orchestrator, fmt.Sprintf("call %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := sdk.RepositoryConnections(c.Orchestrator); n != 1 {
		t.Errorf("the plugin made %d connections to the host's repository, want 1", n)
	}
}
