package sdk

import (
	"context"
	"math"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// repositoryPlugin adapts a Repository to go-plugin.
type repositoryPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Repository
}

func (p *repositoryPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterRepositoryServiceServer(s, &repositoryServer{impl: p.impl})
	return nil
}

func (p *repositoryPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &repositoryClient{client: pb.NewRepositoryServiceClient(c)}, nil
}

// repositoryServer serves a Repository: in a repository plugin, and in the
// host for an orchestrator's calls through the broker. It refuses every
// request whose commit id is not a hex id (InvalidInput) before the
// Repository sees it, so no plugin ever builds a URL from a path such as
// "../../other/commits/<sha>".
type repositoryServer struct {
	pb.UnimplementedRepositoryServiceServer
	impl Repository
}

func (s *repositoryServer) ValidateConfig(ctx context.Context, req *pb.RepositoryServiceValidateConfigRequest) (*pb.RepositoryServiceValidateConfigResponse, error) {
	errs, err := s.impl.ValidateConfig(ctx, configFromProto(req.GetConfig()))
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.RepositoryServiceValidateConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
}

func (s *repositoryServer) PostStatus(ctx context.Context, req *pb.PostStatusRequest) (*pb.PostStatusResponse, error) {
	if err := checkCommitIDs("commit id", req.GetCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	err := s.impl.PostStatus(ctx, PostStatusRequest{
		Config:   configFromProto(req.GetConfig()),
		CommitID: req.GetCommitId(),
		Status:   statusFromProto(req.GetStatus()),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.PostStatusResponse{}, nil
}

func (s *repositoryServer) GetCommit(ctx context.Context, req *pb.GetCommitRequest) (*pb.GetCommitResponse, error) {
	if err := checkCommitIDs("commit id", req.GetCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	c, err := s.impl.GetCommit(ctx, GetCommitRequest{
		Config:     configFromProto(req.GetConfig()),
		Repository: req.GetRepository(),
		CommitID:   req.GetCommitId(),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.GetCommitResponse{Commit: commitToProto(c)}, nil
}

func (s *repositoryServer) FindPullRequests(ctx context.Context, req *pb.FindPullRequestsRequest) (*pb.FindPullRequestsResponse, error) {
	if err := checkCommitIDs("commit id", req.GetCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	prs, err := s.impl.FindPullRequests(ctx, FindPullRequestsRequest{
		Config:     configFromProto(req.GetConfig()),
		Repository: req.GetRepository(),
		CommitID:   req.GetCommitId(),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.FindPullRequestsResponse{PullRequests: pullRequestsToProto(prs)}, nil
}

func (s *repositoryServer) GetPullRequestProperty(ctx context.Context, req *pb.GetPullRequestPropertyRequest) (*pb.GetPullRequestPropertyResponse, error) {
	v, found, err := s.impl.GetPullRequestProperty(ctx, GetPullRequestPropertyRequest{
		Config:     configFromProto(req.GetConfig()),
		Repository: req.GetRepository(),
		Number:     req.GetNumber(),
		Key:        req.GetKey(),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.GetPullRequestPropertyResponse{Found: found, Value: v}, nil
}

func (s *repositoryServer) ListPullRequests(ctx context.Context, req *pb.ListPullRequestsRequest) (*pb.ListPullRequestsResponse, error) {
	prs, err := s.impl.ListPullRequests(ctx, ListPullRequestsRequest{
		Config:      configFromProto(req.GetConfig()),
		Repository:  req.GetRepository(),
		State:       prStateFromProto(req.GetState()),
		ClosedAfter: timeFromProto(req.GetClosedAfter()),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	return &pb.ListPullRequestsResponse{PullRequests: pullRequestsToProto(prs)}, nil
}

func (s *repositoryServer) ListCommits(ctx context.Context, req *pb.ListCommitsRequest) (*pb.ListCommitsResponse, error) {
	if err := checkCommitIDs("base commit id", req.GetBaseCommitId(), "head commit id", req.GetHeadCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	list, err := s.impl.ListCommits(ctx, ListCommitsRequest{
		Config:       configFromProto(req.GetConfig()),
		Repository:   req.GetRepository(),
		BaseCommitID: req.GetBaseCommitId(),
		HeadCommitID: req.GetHeadCommitId(),
		MaxCommits:   int(req.GetMaxCommits()),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	out := &pb.ListCommitsResponse{Truncated: list.Truncated, Commits: make([]*pb.Commit, 0, len(list.Commits))}
	for _, c := range list.Commits {
		out.Commits = append(out.Commits, commitToProto(c))
	}
	return out, nil
}

func (s *repositoryServer) ListStatuses(ctx context.Context, req *pb.ListStatusesRequest) (*pb.ListStatusesResponse, error) {
	if err := checkCommitIDs("commit id", req.GetCommitId()); err != nil {
		return nil, errorToStatus(err)
	}
	statuses, err := s.impl.ListStatuses(ctx, ListStatusesRequest{
		Config:     configFromProto(req.GetConfig()),
		Repository: req.GetRepository(),
		CommitID:   req.GetCommitId(),
	})
	if err != nil {
		return nil, errorToStatus(err)
	}
	out := &pb.ListStatusesResponse{Statuses: make([]*pb.CommitStatus, 0, len(statuses))}
	for _, st := range statuses {
		out.Statuses = append(out.Statuses, commitStatusToProto(st))
	}
	return out, nil
}

// repositoryClient is a Repository reached over gRPC: the host's view of a
// repository plugin, and an orchestrator's view of the host's repository.
type repositoryClient struct {
	client pb.RepositoryServiceClient
}

func (c *repositoryClient) ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error) {
	res, err := c.client.ValidateConfig(ctx, &pb.RepositoryServiceValidateConfigRequest{Config: configToProto(cfg)})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return fieldErrorsFromProto(res.GetErrors()), nil
}

func (c *repositoryClient) PostStatus(ctx context.Context, req PostStatusRequest) error {
	_, err := c.client.PostStatus(ctx, &pb.PostStatusRequest{
		Config:   configToProto(req.Config),
		CommitId: req.CommitID,
		Status:   statusToProto(req.Status),
	})
	return errorFromStatus(err)
}

func (c *repositoryClient) GetCommit(ctx context.Context, req GetCommitRequest) (Commit, error) {
	res, err := c.client.GetCommit(ctx, &pb.GetCommitRequest{
		Config:     configToProto(req.Config),
		Repository: req.Repository,
		CommitId:   req.CommitID,
	})
	if err != nil {
		return Commit{}, errorFromStatus(err)
	}
	return commitFromProto(res.GetCommit()), nil
}

func (c *repositoryClient) FindPullRequests(ctx context.Context, req FindPullRequestsRequest) ([]PullRequest, error) {
	res, err := c.client.FindPullRequests(ctx, &pb.FindPullRequestsRequest{
		Config:     configToProto(req.Config),
		Repository: req.Repository,
		CommitId:   req.CommitID,
	})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return pullRequestsFromProto(res.GetPullRequests()), nil
}

func (c *repositoryClient) GetPullRequestProperty(ctx context.Context, req GetPullRequestPropertyRequest) (string, bool, error) {
	res, err := c.client.GetPullRequestProperty(ctx, &pb.GetPullRequestPropertyRequest{
		Config:     configToProto(req.Config),
		Repository: req.Repository,
		Number:     req.Number,
		Key:        req.Key,
	})
	if err != nil {
		return "", false, errorFromStatus(err)
	}
	return res.GetValue(), res.GetFound(), nil
}

func (c *repositoryClient) ListPullRequests(ctx context.Context, req ListPullRequestsRequest) ([]PullRequest, error) {
	res, err := c.client.ListPullRequests(ctx, &pb.ListPullRequestsRequest{
		Config:      configToProto(req.Config),
		Repository:  req.Repository,
		State:       prStateToProto(req.State),
		ClosedAfter: timeToProto(req.ClosedAfter),
	})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	return pullRequestsFromProto(res.GetPullRequests()), nil
}

func (c *repositoryClient) ListCommits(ctx context.Context, req ListCommitsRequest) (CommitList, error) {
	res, err := c.client.ListCommits(ctx, &pb.ListCommitsRequest{
		Config:       configToProto(req.Config),
		Repository:   req.Repository,
		BaseCommitId: req.BaseCommitID,
		HeadCommitId: req.HeadCommitID,
		MaxCommits:   int32(min(req.MaxCommits, math.MaxInt32)),
	})
	if err != nil {
		return CommitList{}, errorFromStatus(err)
	}
	out := CommitList{Truncated: res.GetTruncated()}
	for _, cm := range res.GetCommits() {
		out.Commits = append(out.Commits, commitFromProto(cm))
	}
	return out, nil
}

func (c *repositoryClient) ListStatuses(ctx context.Context, req ListStatusesRequest) ([]CommitStatus, error) {
	res, err := c.client.ListStatuses(ctx, &pb.ListStatusesRequest{
		Config:     configToProto(req.Config),
		Repository: req.Repository,
		CommitId:   req.CommitID,
	})
	if err != nil {
		return nil, errorFromStatus(err)
	}
	var out []CommitStatus
	for _, st := range res.GetStatuses() {
		out = append(out, commitStatusFromProto(st))
	}
	return out, nil
}
