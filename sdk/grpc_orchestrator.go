package sdk

import (
	"context"
	"sync/atomic"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// orchestratorPlugin adapts an Orchestrator to go-plugin under one protocol
// version, which decides how the host's repository reaches the plugin
// (repositoryLending on the host, repositoryDialer in the plugin).
type orchestratorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl     Orchestrator
	protocol int
}

func (p *orchestratorPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	var repos repositoryDialer = perCallDialer{broker: b}
	if p.protocol >= 2 {
		repos = &sharedDialer{broker: b}
	}
	pb.RegisterOrchestratorServiceServer(s, &orchestratorServer{impl: p.impl, repos: repos})
	return nil
}

func (p *orchestratorPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	o := &orchestratorClient{client: pb.NewOrchestratorServiceClient(c)}
	o.repos = &perCallLending{broker: b, conns: &o.conns}
	if p.protocol >= 2 {
		o.repos = &sharedLending{broker: b, conns: &o.conns}
	}
	return o, nil
}

type orchestratorServer struct {
	pb.UnimplementedOrchestratorServiceServer
	impl  Orchestrator
	repos repositoryDialer
}

func (s *orchestratorServer) ValidateConfig(ctx context.Context, req *pb.OrchestratorServiceValidateConfigRequest) (*pb.OrchestratorServiceValidateConfigResponse, error) {
	errs, err := s.impl.ValidateConfig(ctx, configFromProto(req.GetConfig()))
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.OrchestratorServiceValidateConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
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
	repo, done, err := s.repos.dial(req.GetRepositoryBrokerId(), req.GetRepositoryCall())
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
	repo, done, err := s.repos.dial(req.GetRepositoryBrokerId(), req.GetRepositoryCall())
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
	repos  repositoryLending
	// conns counts the connections the plugin made to the host's
	// repository (tests prove with it what each protocol version costs).
	conns atomic.Int64
}

func (c *orchestratorClient) ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error) {
	res, err := c.client.ValidateConfig(ctx, &pb.OrchestratorServiceValidateConfigRequest{Config: configToProto(cfg)})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return fieldErrorsFromProto(res.GetErrors()), nil
}

func (c *orchestratorClient) NotifyCompletion(ctx context.Context, req Completion, repo Repository) (NotifyResult, error) {
	call, end := c.repos.lend(repo)
	defer end()
	res, err := c.client.NotifyCompletion(ctx, &pb.NotifyCompletionRequest{
		Config:             configToProto(req.Config),
		CommitId:           req.CommitID,
		Successful:         req.Successful,
		Statuses:           statusesToProto(req.Statuses),
		RepositoryBrokerId: call.brokerID,
		RepositoryCall:     call.token,
		DeployedWith:       req.DeployedWith,
	})
	if err != nil {
		c.repos.failed(call, err)
		return NotifyResult{}, errorFromStatus(err)
	}
	return NotifyResult{Notified: res.GetNotified(), Reason: res.GetReason()}, nil
}

func (c *orchestratorClient) Sweep(ctx context.Context, req SweepRequest, repo Repository) (SweepResult, error) {
	call, end := c.repos.lend(repo)
	defer end()
	res, err := c.client.Sweep(ctx, &pb.SweepRequest{
		Config:             configToProto(req.Config),
		Since:              timeToProto(req.Since),
		RepositoryBrokerId: call.brokerID,
		RepositoryCall:     call.token,
	})
	if err != nil {
		c.repos.failed(call, err)
		return SweepResult{}, errorFromStatus(err)
	}
	return SweepResult{Notified: int(res.GetNotified()), Until: timeFromProto(res.GetUntil())}, nil
}
