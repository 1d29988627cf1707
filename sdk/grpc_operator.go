package sdk

import (
	"context"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// operatorPlugin adapts an Operator to go-plugin.
type operatorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Operator
}

func (p *operatorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterOperatorServiceServer(s, &operatorServer{impl: p.impl})
	return nil
}

func (p *operatorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &operatorClient{client: pb.NewOperatorServiceClient(c)}, nil
}

type operatorServer struct {
	pb.UnimplementedOperatorServiceServer
	impl Operator
}

func (s *operatorServer) ValidateConfig(ctx context.Context, req *pb.OperatorServiceValidateConfigRequest) (*pb.OperatorServiceValidateConfigResponse, error) {
	errs, err := s.impl.ValidateConfig(ctx, configFromProto(req.GetConfig()))
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.OperatorServiceValidateConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
}

func (s *operatorServer) ParseEvent(ctx context.Context, req *pb.ParseEventRequest) (*pb.ParseEventResponse, error) {
	in := ParseRequest{Body: req.GetBody()}
	if req.GetConfig() != nil {
		cfg := configFromProto(req.GetConfig())
		in.Config = &cfg
	}
	res, err := s.impl.ParseEvent(ctx, in)
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.ParseEventResponse{
		Handled:    res.Handled,
		Reason:     res.Reason,
		ConfigName: res.ConfigName,
		CommitId:   res.CommitID,
		Statuses:   statusesToProto(res.Statuses),
		Finished:   res.Finished,
		Successful: res.Successful,
	}, nil
}

// operatorClient is the host's view of an operator plugin.
type operatorClient struct {
	client pb.OperatorServiceClient
}

func (c *operatorClient) ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error) {
	res, err := c.client.ValidateConfig(ctx, &pb.OperatorServiceValidateConfigRequest{Config: configToProto(cfg)})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return fieldErrorsFromProto(res.GetErrors()), nil
}

func (c *operatorClient) ParseEvent(ctx context.Context, req ParseRequest) (ParseResult, error) {
	in := &pb.ParseEventRequest{Body: req.Body}
	if req.Config != nil {
		in.Config = configToProto(*req.Config)
	}
	res, err := c.client.ParseEvent(ctx, in)
	if err != nil {
		return ParseResult{}, errorFromStatus(err)
	}
	return ParseResult{
		Handled:    res.GetHandled(),
		Reason:     res.GetReason(),
		ConfigName: res.GetConfigName(),
		CommitID:   res.GetCommitId(),
		Statuses:   statusesFromProto(res.GetStatuses()),
		Finished:   res.GetFinished(),
		Successful: res.GetSuccessful(),
	}, nil
}
