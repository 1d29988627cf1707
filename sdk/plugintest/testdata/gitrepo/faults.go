package main

import (
	"context"
	"errors"
	"os"
	"sync"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The faults PLUGINTEST_FAULT may name:
//
//	no-commit-check  serve PostStatus without the SDK's adapters (as a plugin
//	                 of another language or an old SDK might), so no commit
//	                 id is checked before a URL is built from it;
//	429-permanent    report a 429 answer as permanent;
//	not-repeatable   fail a PostStatus repeated with the same input.
var fault = os.Getenv("PLUGINTEST_FAULT")

func classify(err error) error {
	if fault == "429-permanent" && sdk.StatusOf(err) == 429 {
		return sdk.Permanent(err)
	}
	return err
}

var posted sync.Map

func once(req sdk.PostStatusRequest) error {
	if fault != "not-repeatable" {
		return nil
	}
	if _, dup := posted.LoadOrStore(req.Config.Name+"/"+req.CommitID+"/"+req.Status.Name, true); dup {
		return sdk.Permanent(errors.New("this status was posted already"))
	}
	return nil
}

// unchecked serves PostStatus straight from the protocol.
type unchecked struct {
	pb.UnimplementedRepositoryServiceServer
	repo sdk.Repository
}

func (u unchecked) ValidateConfig(ctx context.Context, req *pb.RepositoryServiceValidateConfigRequest) (*pb.RepositoryServiceValidateConfigResponse, error) {
	errs, _ := u.repo.ValidateConfig(ctx, sdk.Config{Settings: req.GetConfig().GetSettings()})
	out := &pb.RepositoryServiceValidateConfigResponse{}
	for _, e := range errs {
		out.Errors = append(out.Errors, &pb.FieldError{Field: e.Field, Message: e.Message})
	}
	return out, nil
}

func (u unchecked) PostStatus(ctx context.Context, req *pb.PostStatusRequest) (*pb.PostStatusResponse, error) {
	cfg := sdk.Config{Name: req.GetConfig().GetName(), Settings: req.GetConfig().GetSettings(), Token: req.GetConfig().GetToken()}
	err := u.repo.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: req.GetCommitId(),
		Status: sdk.Status{Name: req.GetStatus().GetName(), State: sdk.StatePending, Description: req.GetStatus().GetDescription()}})
	switch {
	case err == nil:
		return &pb.PostStatusResponse{}, nil
	case sdk.IsRetryable(err):
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return nil, status.Error(codes.FailedPrecondition, err.Error())
}

type uncheckedPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	repo sdk.Repository
}

func (p uncheckedPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterRepositoryServiceServer(s, unchecked{repo: p.repo})
	return nil
}

func (uncheckedPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

func serveUnchecked(repo sdk.Repository) {
	sets := map[int]plugin.PluginSet{}
	for _, v := range sdk.ProtocolVersions() {
		sets[v] = plugin.PluginSet{string(sdk.CapabilityRepository): uncheckedPlugin{repo: repo}}
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sets,
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
