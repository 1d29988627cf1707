package pluginhost

import (
	"context"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The proxies reach a binary's current process on every call, starting it
// again when it has exited, and tell the observer each call's duration and
// error (a call that found no running process included).

// observe reports one call; use it as defer observe(...)(&err).
func (b *binary) observe(c sdk.Capability, method, typ string) func(*error) {
	start := time.Now()
	return func(err *error) { b.observer.PluginCall(c, method, typ, time.Since(start), *err) }
}

type operatorProxy struct {
	b   *binary
	typ string
}

func (p operatorProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) (_ []sdk.FieldError, err error) {
	defer p.b.observe(sdk.CapabilityOperator, "ValidateConfig", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Operator.ValidateConfig(ctx, cfg)
}

func (p operatorProxy) ParseEvent(ctx context.Context, req sdk.ParseRequest) (_ sdk.ParseResult, err error) {
	defer p.b.observe(sdk.CapabilityOperator, "ParseEvent", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.ParseResult{}, err
	}
	return d.Operator.ParseEvent(ctx, req)
}

type repositoryProxy struct {
	b   *binary
	typ string
}

func (p repositoryProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) (_ []sdk.FieldError, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "ValidateConfig", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Repository.ValidateConfig(ctx, cfg)
}

func (p repositoryProxy) PostStatus(ctx context.Context, req sdk.PostStatusRequest) (err error) {
	defer p.b.observe(sdk.CapabilityRepository, "PostStatus", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return err
	}
	return d.Repository.PostStatus(ctx, req)
}

func (p repositoryProxy) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (_ sdk.Commit, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "GetCommit", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.Commit{}, err
	}
	return d.Repository.GetCommit(ctx, req)
}

func (p repositoryProxy) FindPullRequests(ctx context.Context, req sdk.FindPullRequestsRequest) (_ []sdk.PullRequest, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "FindPullRequests", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Repository.FindPullRequests(ctx, req)
}

func (p repositoryProxy) GetPullRequestProperty(ctx context.Context, req sdk.GetPullRequestPropertyRequest) (_ string, _ bool, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "GetPullRequestProperty", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return "", false, err
	}
	return d.Repository.GetPullRequestProperty(ctx, req)
}

func (p repositoryProxy) ListPullRequests(ctx context.Context, req sdk.ListPullRequestsRequest) (_ []sdk.PullRequest, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "ListPullRequests", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Repository.ListPullRequests(ctx, req)
}

func (p repositoryProxy) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (_ sdk.CommitList, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "ListCommits", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.CommitList{}, err
	}
	return d.Repository.ListCommits(ctx, req)
}

func (p repositoryProxy) ListStatuses(ctx context.Context, req sdk.ListStatusesRequest) (_ []sdk.CommitStatus, err error) {
	defer p.b.observe(sdk.CapabilityRepository, "ListStatuses", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Repository.ListStatuses(ctx, req)
}

type orchestratorProxy struct {
	b   *binary
	typ string
}

func (p orchestratorProxy) ValidateConfig(ctx context.Context, cfg sdk.Config) (_ []sdk.FieldError, err error) {
	defer p.b.observe(sdk.CapabilityOrchestrator, "ValidateConfig", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Orchestrator.ValidateConfig(ctx, cfg)
}

func (p orchestratorProxy) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (_ sdk.NotifyResult, err error) {
	defer p.b.observe(sdk.CapabilityOrchestrator, "NotifyCompletion", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	return d.Orchestrator.NotifyCompletion(ctx, c, repo)
}

func (p orchestratorProxy) Sweep(ctx context.Context, req sdk.SweepRequest, repo sdk.Repository) (_ sdk.SweepResult, err error) {
	defer p.b.observe(sdk.CapabilityOrchestrator, "Sweep", p.typ)(&err)
	d, err := p.b.get(ctx)
	if err != nil {
		return sdk.SweepResult{}, err
	}
	return d.Orchestrator.Sweep(ctx, req, repo)
}
