// Command v1orchestrator is an orchestrator plugin as the SDK built them
// before protocol version 2: it speaks protocol 1 only (its description has
// no protocol_versions) and dials the host's repository on the broker id of
// each call. It uses go-plugin and the generated protocol only, so that the
// tests of newer hosts meet what older plugins do, not the SDK's current
// code for protocol 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type orchestratorPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (orchestratorPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterOrchestratorServiceServer(s, server{broker: b})
	return nil
}

func (orchestratorPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

type server struct {
	pb.UnimplementedOrchestratorServiceServer
	broker *plugin.GRPCBroker
}

func (server) ValidateConfig(context.Context, *pb.OrchestratorServiceValidateConfigRequest) (*pb.OrchestratorServiceValidateConfigResponse, error) {
	return &pb.OrchestratorServiceValidateConfigResponse{}, nil
}

// repository dials the host's repository of one call.
func (s server) repository(id uint32) (pb.RepositoryServiceClient, func(), error) {
	conn, err := s.broker.Dial(id)
	if err != nil {
		return nil, nil, status.Errorf(codes.Unavailable, "connect to the host's repository: %v", err)
	}
	return pb.NewRepositoryServiceClient(conn), func() { _ = conn.Close() }, nil
}

// NotifyCompletion reports the message of the commit, read through the
// host's repository, as the reason.
func (s server) NotifyCompletion(ctx context.Context, req *pb.NotifyCompletionRequest) (*pb.NotifyCompletionResponse, error) {
	repo, done, err := s.repository(req.GetRepositoryBrokerId())
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := repo.GetCommit(ctx, &pb.GetCommitRequest{Config: req.GetConfig(), Repository: "manifests", CommitId: req.GetCommitId()})
	if err != nil {
		return nil, err
	}
	return &pb.NotifyCompletionResponse{Notified: req.GetSuccessful(), Reason: res.GetCommit().GetMessage()}, nil
}

// Sweep reports how many pull requests the host's repository lists.
func (s server) Sweep(ctx context.Context, req *pb.SweepRequest) (*pb.SweepResponse, error) {
	repo, done, err := s.repository(req.GetRepositoryBrokerId())
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := repo.ListPullRequests(ctx, &pb.ListPullRequestsRequest{Config: req.GetConfig()})
	if err != nil {
		return nil, err
	}
	return &pb.SweepResponse{Notified: int32(len(res.GetPullRequests())), Until: req.GetSince()}, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "describe" {
		fmt.Println(`{"name":"v1orchestrator","version":"0.9.0","types":["V1"],"capabilities":["orchestrator"],"protocol_version":1,"sdk_version":"0.1.0"}`)
		return
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{1: {string(sdk.CapabilityOrchestrator): orchestratorPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
