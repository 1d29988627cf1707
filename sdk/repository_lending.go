package sdk

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// The host's side of an orchestrator's calls to the repository: how the
// Repository passed to NotifyCompletion and Sweep is served to the plugin
// process over go-plugin's broker (see orchestrator.proto for the wire
// contract of each protocol version).

// repositoryCall is what a request carries to reach its repository: the
// broker id the host serves RepositoryService on and, under protocol 2,
// the token of the call. Zero when the call has no repository.
type repositoryCall struct {
	brokerID uint32
	token    uint64
}

// repositoryLending serves the repository of each call to the plugin.
type repositoryLending interface {
	// lend makes repo reachable for one call; end ends that when the call
	// returned. A nil repo lends nothing.
	lend(repo Repository) (call repositoryCall, end func())
	// failed tells the lending that the call failed with err.
	failed(call repositoryCall, err error)
}

// perCallLending is protocol 1: each call's repository on a new broker id,
// so a new connection (and TLS handshake) per call.
type perCallLending struct {
	broker *plugin.GRPCBroker
	conns  *atomic.Int64
}

func (l *perCallLending) lend(repo Repository) (repositoryCall, func()) {
	if repo == nil {
		return repositoryCall{}, func() {}
	}
	s := serveOnBroker(l.broker, repo, l.conns)
	return repositoryCall{brokerID: s.id}, s.stop
}

func (l *perCallLending) failed(repositoryCall, error) {}

// unconnectedServing is how long the shared id may wait for the plugin's
// connection before the host serves a new one: the plugin can no longer
// dial it after go-plugin's 5 s.
const unconnectedServing = 10 * time.Second

// sharedLending is protocol 2: every call's repository on one broker id,
// served from the first call that needs it, and routed by the call's
// token. It serves a new id when the plugin reports that it cannot connect
// to the current one, when the current one stopped serving (its listener
// failed), or when the plugin never connected to it.
type sharedLending struct {
	broker *plugin.GRPCBroker
	conns  *atomic.Int64
	calls  callRepositories

	mu      sync.Mutex
	current *brokerServer
}

func (l *sharedLending) lend(repo Repository) (repositoryCall, func()) {
	if repo == nil {
		return repositoryCall{}, func() {}
	}
	token, end := l.calls.add(repo)
	return repositoryCall{brokerID: l.serving().id, token: token}, end
}

// serving returns the served id, serving one when there is none usable.
func (l *sharedLending) serving() *brokerServer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.current; s != nil {
		select {
		case <-s.done: // the listener failed or the broker closed
		default:
			if s.connected.Load() || time.Since(s.started) < unconnectedServing {
				return s
			}
			s.stop()
		}
	}
	l.current = serveOnBroker(l.broker, &l.calls, l.conns)
	return l.current
}

func (l *sharedLending) failed(call repositoryCall, err error) {
	if call.brokerID == 0 || !isRepositoryUnreachable(err) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current != nil && l.current.id == call.brokerID {
		l.current.stop()
		l.current = nil
	}
}

// brokerServer is RepositoryService served on one broker id, over the
// broker's mutual TLS, until stop.
type brokerServer struct {
	id        uint32
	started   time.Time
	connected atomic.Bool
	server    chan *grpc.Server
	done      chan struct{}
}

// serveOnBroker serves impl on a new broker id, counting the plugin's
// connections in conns. It returns at once: go-plugin sends the id's
// address to the plugin, which has 5 s to dial it.
func serveOnBroker(b *plugin.GRPCBroker, impl Repository, conns *atomic.Int64) *brokerServer {
	s := &brokerServer{id: b.NextId(), started: time.Now(), server: make(chan *grpc.Server, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b.AcceptAndServe(s.id, func(opts []grpc.ServerOption) *grpc.Server {
			gs := grpc.NewServer(append(opts, grpc.StatsHandler(connCounter{s: s, conns: conns}))...)
			pb.RegisterRepositoryServiceServer(gs, &repositoryServer{impl: impl})
			s.server <- gs
			return gs
		})
	}()
	return s
}

// stop ends the serving and closes its connections. Call it once.
func (s *brokerServer) stop() {
	select {
	case gs := <-s.server:
		gs.Stop()
	case <-s.done: // the broker could not accept: nothing to stop
	}
}

// connCounter marks a brokerServer connected and counts its connections.
type connCounter struct {
	s     *brokerServer
	conns *atomic.Int64
}

func (connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connCounter) HandleRPC(context.Context, stats.RPCStats)                       {}
func (connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (c connCounter) HandleConn(_ context.Context, st stats.ConnStats) {
	if _, ok := st.(*stats.ConnBegin); ok {
		c.s.connected.Store(true)
		c.conns.Add(1)
	}
}

// repositoryCallKey is the gRPC metadata key of a protocol 2 call's token.
const repositoryCallKey = "gitops-connector-repository-call"

// callRepositories is the Repository the shared id serves: each request
// goes to the repository of the call its token names, registered for that
// call's duration. Tokens are a counter: only the plugin process this host
// started can reach the id (the broker's mutual TLS), so a token needs to
// be unique, not secret.
type callRepositories struct {
	last atomic.Uint64
	mu   sync.RWMutex
	open map[uint64]Repository
}

func (c *callRepositories) add(repo Repository) (uint64, func()) {
	token := c.last.Add(1)
	c.mu.Lock()
	if c.open == nil {
		c.open = map[uint64]Repository{}
	}
	c.open[token] = repo
	c.mu.Unlock()
	return token, func() {
		c.mu.Lock()
		delete(c.open, token)
		c.mu.Unlock()
	}
}

// of returns the repository of the call named in ctx's metadata; a
// missing, malformed, unknown or ended token is FAILED_PRECONDITION.
func (c *callRepositories) of(ctx context.Context) (Repository, error) {
	values := metadata.ValueFromIncomingContext(ctx, repositoryCallKey)
	if len(values) != 1 {
		return nil, status.Errorf(codes.FailedPrecondition, "the request names no repository call (metadata %q): protocol 2 requires the token of the notification it is made for", repositoryCallKey)
	}
	token, err := strconv.ParseUint(values[0], 10, 64)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "repository call %.20q is not a token", values[0])
	}
	c.mu.RLock()
	repo, ok := c.open[token]
	c.mu.RUnlock()
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf("repository call %d is not in progress: the notification it was made for has ended", token))
	}
	return repo, nil
}

func (c *callRepositories) ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error) {
	return routed(ctx, c, cfg, Repository.ValidateConfig)
}

func (c *callRepositories) PostStatus(ctx context.Context, req PostStatusRequest) error {
	repo, err := c.of(ctx)
	if err != nil {
		return err
	}
	return repo.PostStatus(ctx, req)
}

func (c *callRepositories) GetCommit(ctx context.Context, req GetCommitRequest) (Commit, error) {
	return routed(ctx, c, req, Repository.GetCommit)
}

func (c *callRepositories) FindPullRequests(ctx context.Context, req FindPullRequestsRequest) ([]PullRequest, error) {
	return routed(ctx, c, req, Repository.FindPullRequests)
}

func (c *callRepositories) GetPullRequestProperty(ctx context.Context, req GetPullRequestPropertyRequest) (string, bool, error) {
	repo, err := c.of(ctx)
	if err != nil {
		return "", false, err
	}
	return repo.GetPullRequestProperty(ctx, req)
}

func (c *callRepositories) ListPullRequests(ctx context.Context, req ListPullRequestsRequest) ([]PullRequest, error) {
	return routed(ctx, c, req, Repository.ListPullRequests)
}

func (c *callRepositories) ListCommits(ctx context.Context, req ListCommitsRequest) (CommitList, error) {
	return routed(ctx, c, req, Repository.ListCommits)
}

func (c *callRepositories) ListStatuses(ctx context.Context, req ListStatusesRequest) ([]CommitStatus, error) {
	return routed(ctx, c, req, Repository.ListStatuses)
}

// routed answers one request from the repository of its call.
func routed[Req, Res any](ctx context.Context, c *callRepositories, req Req, method func(Repository, context.Context, Req) (Res, error)) (Res, error) {
	repo, err := c.of(ctx)
	if err != nil {
		var zero Res
		return zero, err
	}
	return method(repo, ctx, req)
}
