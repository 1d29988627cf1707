package sdk

import (
	"context"
	"fmt"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// orchestratorPlugin adapts an Orchestrator to go-plugin. Its calls carry the
// id of a GRPCBroker stream on which the host serves the repository.
type orchestratorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Orchestrator
}

func (p *orchestratorPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterOrchestratorServiceServer(s, &orchestratorServer{impl: p.impl, broker: b})
	return nil
}

func (p *orchestratorPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &orchestratorClient{client: pb.NewOrchestratorServiceClient(c), broker: b}, nil
}

type orchestratorServer struct {
	pb.UnimplementedOrchestratorServiceServer
	impl   Orchestrator
	broker *plugin.GRPCBroker
}

func (s *orchestratorServer) ValidateConfig(ctx context.Context, req *pb.OrchestratorServiceValidateConfigRequest) (*pb.OrchestratorServiceValidateConfigResponse, error) {
	errs, err := s.impl.ValidateConfig(ctx, configFromProto(req.GetConfig()))
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.OrchestratorServiceValidateConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
}

// dialRepository connects to the repository the host serves for this call.
// It dials at once: the broker gives up on an id after 5 s.
func (s *orchestratorServer) dialRepository(id uint32) (Repository, func(), error) {
	if id == 0 {
		return UnimplementedRepository{}, func() {}, nil
	}
	conn, err := s.broker.Dial(id)
	if err != nil {
		return nil, nil, Retryable(fmt.Errorf("connect to the host's repository: %w", err), 0)
	}
	return &repositoryClient{client: pb.NewRepositoryServiceClient(conn)}, func() { _ = conn.Close() }, nil
}

func (s *orchestratorServer) NotifyCompletion(ctx context.Context, req *pb.NotifyCompletionRequest) (*pb.NotifyCompletionResponse, error) {
	if err := checkCommitIDs("commit id", req.GetCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	if d := req.GetDeployedWith(); d != "" {
		if err := checkCommitIDs("deployed-with commit id", d); err != nil {
			return nil, errorToStatus(err)
		}
	}
	repo, done, err := s.dialRepository(req.GetRepositoryBrokerId())
	if err != nil {
		return nil, errorToStatus(err)
	}
	defer done()
	res, err := s.impl.NotifyCompletion(ctx, Completion{
		Config:       configFromProto(req.GetConfig()),
		CommitID:     req.GetCommitId(),
		Successful:   req.GetSuccessful(),
		Statuses:     statusesFromProto(req.GetStatuses()),
		DeployedWith: req.GetDeployedWith(),
	}, repo)
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.NotifyCompletionResponse{Notified: res.Notified, Reason: res.Reason}, nil
}

func (s *orchestratorServer) Sweep(ctx context.Context, req *pb.SweepRequest) (*pb.SweepResponse, error) {
	repo, done, err := s.dialRepository(req.GetRepositoryBrokerId())
	if err != nil {
		return nil, errorToStatus(err)
	}
	defer done()
	res, err := s.impl.Sweep(ctx, SweepRequest{
		Config: configFromProto(req.GetConfig()),
		Since:  timeFromProto(req.GetSince()),
	}, repo)
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.SweepResponse{Notified: int32(res.Notified), Until: timeToProto(res.Until)}, nil
}

// orchestratorClient is the host's view of an orchestrator plugin.
type orchestratorClient struct {
	client pb.OrchestratorServiceClient
	broker *plugin.GRPCBroker
}

func (c *orchestratorClient) ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error) {
	res, err := c.client.ValidateConfig(ctx, &pb.OrchestratorServiceValidateConfigRequest{Config: configToProto(cfg)})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return fieldErrorsFromProto(res.GetErrors()), nil
}

// serveRepository serves repo on a new broker id for the duration of one
// call, over the connection's TLS when the plugin was started with
// AutoMTLS. The returned stop function ends it.
func (c *orchestratorClient) serveRepository(repo Repository) (uint32, func(), error) {
	if repo == nil {
		return 0, func() {}, nil
	}
	id := c.broker.NextId()
	served := make(chan *grpc.Server, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			pb.RegisterRepositoryServiceServer(s, &repositoryServer{impl: repo})
			served <- s
			return s
		})
	}()
	stop := func() {
		select {
		case s := <-served:
			s.Stop()
		case <-done: // the broker could not accept: nothing to stop
		}
	}
	return id, stop, nil
}

func (c *orchestratorClient) NotifyCompletion(ctx context.Context, req Completion, repo Repository) (NotifyResult, error) {
	id, stop, err := c.serveRepository(repo)
	if err != nil {
		return NotifyResult{}, err
	}
	defer stop()
	res, err := c.client.NotifyCompletion(ctx, &pb.NotifyCompletionRequest{
		Config:             configToProto(req.Config),
		CommitId:           req.CommitID,
		Successful:         req.Successful,
		Statuses:           statusesToProto(req.Statuses),
		RepositoryBrokerId: id,
		DeployedWith:       req.DeployedWith,
	})
	if err != nil {
		return NotifyResult{}, errorFromStatus(err)
	}
	return NotifyResult{Notified: res.GetNotified(), Reason: res.GetReason()}, nil
}

func (c *orchestratorClient) Sweep(ctx context.Context, req SweepRequest, repo Repository) (SweepResult, error) {
	id, stop, err := c.serveRepository(repo)
	if err != nil {
		return SweepResult{}, err
	}
	defer stop()
	res, err := c.client.Sweep(ctx, &pb.SweepRequest{
		Config:             configToProto(req.Config),
		Since:              timeToProto(req.Since),
		RepositoryBrokerId: id,
	})
	if err != nil {
		return SweepResult{}, errorFromStatus(err)
	}
	return SweepResult{Notified: int(res.GetNotified()), Until: timeFromProto(res.GetUntil())}, nil
}
