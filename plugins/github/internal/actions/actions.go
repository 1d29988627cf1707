// Package actions is the orchestrator capability for GitHub Actions: when a
// deployment succeeded it sends the repository_dispatch event "sync-success"
// that the waiting workflow listens for.
package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/syncsuccess"
	"github.com/google/go-github/v60/github"
)

// EventType is the repository_dispatch event type workflows listen for.
const EventType = syncsuccess.EventType

// maxMessageBytes bounds the commit message in the payload: GitHub refuses
// a client_payload of 64 KiB or more.
const maxMessageBytes = 60 << 10

// Orchestrator implements sdk.Orchestrator for GitHub Actions. It has no
// periodic work (no Sweep).
type Orchestrator struct {
	sdk.UnimplementedOrchestrator
	clients *ghapi.Clients
	log     *slog.Logger
}

// New returns the orchestrator capability using clients, logging to log.
func New(clients *ghapi.Clients, log *slog.Logger) *Orchestrator {
	return &Orchestrator{clients: clients, log: log}
}

// ValidateConfig checks gitHubOrgUrl, gitHubGitOpsRepoName and the
// credential; a GitHub App must get an installation token.
func (o *Orchestrator) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	s, errs := settings.ForOrchestrator(cfg)
	if errs = append(errs, ghapi.ValidateCredential(cfg)...); len(errs) > 0 {
		return errs, nil
	}
	return o.clients.CheckApp(ctx, cfg, s), nil
}

// NotifyCompletion tells the workflow waiting for a manifest commit that its
// deployment succeeded. It reads the commit's message through repo (the
// config's repository, served by the host) and sends repository_dispatch
// "sync-success" to gitHubGitOpsRepoName with client_payload {sha, runid,
// commitmessage} (plus environment when the config has a status context,
// and deployed_with, the full id of the commit whose deployment contained
// it, when the operator skipped the commit: Completion.DeployedWith).
// A failed deployment sends nothing: GitHub Actions workflows wait for
// success only, as with the old connector.
//
// One call sends at most one dispatch; the host calls again only after an
// error, so a workflow gets one event per successful deployment. An error
// after GitHub took the event (a lost answer) can repeat it: GitHub offers
// no way to ask whether an event arrived.
func (o *Orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	s, errs := settings.ForOrchestrator(c.Config)
	if len(errs) > 0 {
		return sdk.NotifyResult{}, settings.ConfigError(c.Config, errs)
	}
	if _, err := ghapi.CommitID(c.CommitID); err != nil {
		return sdk.NotifyResult{}, err
	}
	if !c.Successful {
		return sdk.NotifyResult{Reason: "the deployment failed: GitHub Actions are told of successful deployments only"}, nil
	}
	client, err := o.clients.For(c.Config, s)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	commit, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: c.Config, CommitID: c.CommitID})
	if err != nil {
		return sdk.NotifyResult{}, fmt.Errorf("read the message of manifest commit %s: %w", c.CommitID, err)
	}
	if c.DeployedWith != "" {
		if _, err := ghapi.CommitID(c.DeployedWith); err != nil {
			return sdk.NotifyResult{}, err
		}
	}
	p, missing := syncsuccess.Parse(commit.Message)
	p, payload := syncsuccess.Build(o.log, c, p, missing, maxMessageBytes)
	raw, err := json.Marshal(payload)
	if err != nil {
		return sdk.NotifyResult{}, sdk.Permanent(fmt.Errorf("encode the dispatch payload: %w", err))
	}
	body := json.RawMessage(raw)
	_, _, err = client.Repositories.Dispatch(ctx, s.Owner, s.GitOpsRepo, github.DispatchRequestOptions{EventType: EventType, ClientPayload: &body})
	if err != nil {
		return sdk.NotifyResult{}, ghapi.Classify(err, ghapi.Call{
			Action:    fmt.Sprintf("send repository_dispatch %s to %s/%s", EventType, s.Owner, s.GitOpsRepo),
			Repo:      s.Owner + "/" + s.GitOpsRepo,
			RepoField: settings.GitOpsRepo,
			Needs:     ghapi.NeedsDispatch,
		}, c.Config.Token)
	}
	return sdk.NotifyResult{
		Notified: true,
		Reason:   fmt.Sprintf("sent repository_dispatch %s to %s/%s (run id %q, source commit %q)", EventType, s.Owner, s.GitOpsRepo, p.RunID, p.SHA),
	}, nil
}
