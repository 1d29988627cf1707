// Package repobind gives an orchestrator plugin the repository of its config.
//
// An orchestrator calls repository functions through the host with the
// config it was called with, which carries the orchestrator's credential.
// The host must not forward that credential to the repository plugin (it may
// belong to another kind of host): Bind replaces the config of every call
// with the one the repository plugin receives, its own credential included.
package repobind

import (
	"context"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Bind returns repo with every request's config replaced by cfg, the
// config as the repository plugin receives it.
func Bind(repo sdk.Repository, cfg sdk.Config) sdk.Repository {
	return bound{repo: repo, cfg: cfg}
}

type bound struct {
	repo sdk.Repository
	cfg  sdk.Config
}

func (b bound) ValidateConfig(ctx context.Context, _ sdk.Config) ([]sdk.FieldError, error) {
	return b.repo.ValidateConfig(ctx, b.cfg)
}

func (b bound) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	req.Config = b.cfg
	return b.repo.PostStatus(ctx, req)
}

func (b bound) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	req.Config = b.cfg
	return b.repo.GetCommit(ctx, req)
}

func (b bound) FindPullRequests(ctx context.Context, req sdk.FindPullRequestsRequest) ([]sdk.PullRequest, error) {
	req.Config = b.cfg
	return b.repo.FindPullRequests(ctx, req)
}

func (b bound) GetPullRequestProperty(ctx context.Context, req sdk.GetPullRequestPropertyRequest) (string, bool, error) {
	req.Config = b.cfg
	return b.repo.GetPullRequestProperty(ctx, req)
}

func (b bound) ListPullRequests(ctx context.Context, req sdk.ListPullRequestsRequest) ([]sdk.PullRequest, error) {
	req.Config = b.cfg
	return b.repo.ListPullRequests(ctx, req)
}

func (b bound) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	req.Config = b.cfg
	return b.repo.ListCommits(ctx, req)
}

func (b bound) ListStatuses(ctx context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	req.Config = b.cfg
	return b.repo.ListStatuses(ctx, req)
}
