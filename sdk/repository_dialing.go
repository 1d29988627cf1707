package sdk

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The plugin's side of an orchestrator's calls to the host's repository
// (see repository_lending.go for the host's, and orchestrator.proto for
// the wire contract).

// repositoryDialer gives the plugin's code the host's repository of one
// call, from the request's repository_broker_id and repository_call. done
// is called when the call returned. It connects before the plugin's code
// runs: an error means the call was not acted on.
type repositoryDialer interface {
	dial(brokerID uint32, call uint64) (repo Repository, done func(), err error)
}

// perCallDialer is protocol 1: a new connection to a new broker id per
// call, closed when the call returns.
type perCallDialer struct{ broker *plugin.GRPCBroker }

func (d perCallDialer) dial(id uint32, _ uint64) (Repository, func(), error) {
	if id == 0 {
		return UnimplementedRepository{}, func() {}, nil
	}
	// At once: the broker gives up on an id after 5 s.
	conn, err := d.broker.Dial(id)
	if err != nil {
		return nil, nil, Retryable(fmt.Errorf("connect to the host's repository: %w", err), 0)
	}
	return &repositoryClient{client: pb.NewRepositoryServiceClient(conn)}, func() { _ = conn.Close() }, nil
}

// sharedDialer is protocol 2: one connection per plugin process, to the
// id the host serves every call's repository on; each call's requests
// carry the call's token. A request naming a higher id than the one
// connected to (the host served a new one) replaces the connection.
type sharedDialer struct {
	broker *plugin.GRPCBroker

	mu       sync.Mutex // held while dialling: concurrent first calls share one dial
	id       uint32
	conn     *grpc.ClientConn
	failedID uint32 // an id whose dial failed: go-plugin offers an id once
}

// readyTimeout bounds the wait for the shared connection to be ready.
const readyTimeout = 5 * time.Second

func (d *sharedDialer) dial(id uint32, call uint64) (Repository, func(), error) {
	if id == 0 {
		return UnimplementedRepository{}, func() {}, nil
	}
	conn, err := d.connection(id)
	if err != nil {
		return nil, nil, err
	}
	cc := callConn{cc: conn, token: strconv.FormatUint(call, 10)}
	return &repositoryClient{client: pb.NewRepositoryServiceClient(cc)}, func() {}, nil
}

func (d *sharedDialer) connection(id uint32) (*grpc.ClientConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil && id <= d.id {
		return d.conn, nil
	}
	if id == d.failedID {
		return nil, repositoryUnreachable(id, fmt.Errorf("its dial failed before"))
	}
	conn, err := d.broker.Dial(id)
	if err == nil {
		if err = waitReady(conn); err != nil {
			_ = conn.Close()
		}
	}
	if err != nil {
		d.failedID = id
		return nil, repositoryUnreachable(id, err)
	}
	if d.conn != nil {
		_ = d.conn.Close()
	}
	d.id, d.conn = id, conn
	return conn, nil
}

// waitReady connects conn and waits until it is ready, so that a
// connection that cannot be made fails the call before the plugin acts.
func waitReady(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn.Connect()
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if st == connectivity.Shutdown || !conn.WaitForStateChange(ctx, st) {
			return fmt.Errorf("not connected within %s (%s)", readyTimeout, st)
		}
	}
	return nil
}

// callConn is the shared connection as one call's requests use it: each
// carries the call's token in its metadata.
type callConn struct {
	cc    grpc.ClientConnInterface
	token string
}

func (c callConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.cc.Invoke(metadata.AppendToOutgoingContext(ctx, repositoryCallKey, c.token), method, args, reply, opts...)
}

func (c callConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.cc.NewStream(metadata.AppendToOutgoingContext(ctx, repositoryCallKey, c.token), desc, method, opts...)
}

// The ErrorInfo of "the plugin cannot connect to the host's repository".
const (
	errorDomain                 = "gitops-connector.io"
	reasonRepositoryUnreachable = "REPOSITORY_UNREACHABLE"
)

// repositoryUnreachable is the answer of a call whose repository the
// plugin cannot connect to: retryable, and marked so that the host serves
// a new id.
func repositoryUnreachable(id uint32, err error) error {
	st := status.New(codes.Unavailable, fmt.Sprintf("cannot connect to the host's repository (broker id %d): %v", id, err))
	if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonRepositoryUnreachable}); derr == nil {
		st = withInfo
	}
	return st.Err()
}

// isRepositoryUnreachable reports whether a call's error is the plugin's
// repositoryUnreachable.
func isRepositoryUnreachable(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain && info.GetReason() == reasonRepositoryUnreachable {
			return true
		}
	}
	return false
}
