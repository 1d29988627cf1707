package pluginhost

import (
	"context"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The proxies reach a binary's current process on every call, starting it
// again when it has exited.

type operatorProxy struct{ b *binary }

func (p operatorProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.operator.ValidateConfig(ctx, cfg)
}

func (p operatorProxy) ParseEvent(ctx context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.ParseResult{}, err
	}
	return d.operator.ParseEvent(ctx, req)
}

type repositoryProxy struct{ b *binary }

func (p repositoryProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.repository.ValidateConfig(ctx, cfg)
}

func (p repositoryProxy) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	d, err := p.b.get(ctx)
	if err != nil {
		return err
	}
	return d.repository.PostStatus(ctx, req)
}

func (p repositoryProxy) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.Commit{}, err
	}
	return d.repository.GetCommit(ctx, req)
}

func (p repositoryProxy) FindPullRequests(ctx context.Context, req sdk.FindPullRequestsRequest) ([]sdk.PullRequest, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.repository.FindPullRequests(ctx, req)
}

func (p repositoryProxy) GetPullRequestProperty(ctx context.Context, req sdk.GetPullRequestPropertyRequest) (string, bool, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return "", false, err
	}
	return d.repository.GetPullRequestProperty(ctx, req)
}

func (p repositoryProxy) ListPullRequests(ctx context.Context, req sdk.ListPullRequestsRequest) ([]sdk.PullRequest, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.repository.ListPullRequests(ctx, req)
}

type orchestratorProxy struct{ b *binary }

func (p orchestratorProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.orchestrator.ValidateConfig(ctx, cfg)
}

func (p orchestratorProxy) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	return d.orchestrator.NotifyCompletion(ctx, c, repo)
}

func (p orchestratorProxy) Sweep(ctx context.Context, req sdk.SweepRequest, repo sdk.Repository) (sdk.SweepResult, error) {
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.SweepResult{}, err
	}
	return d.orchestrator.Sweep(ctx, req, repo)
}
