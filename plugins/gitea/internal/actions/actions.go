// Package actions is the orchestrator capability for Gitea and Forgejo
// Actions: when a deployment succeeded it dispatches the configured
// workflow (workflow_dispatch) with the sync-success fields as inputs.
package actions

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/syncsuccess"
)

// maxMessageBytes bounds the commit message input, as the GitHub plugin
// bounds its payload: the inputs are stored with the run.
const maxMessageBytes = 60 << 10

// Orchestrator implements sdk.Orchestrator for Gitea and Forgejo Actions.
// It has no periodic work (no Sweep).
type Orchestrator struct {
	sdk.UnimplementedOrchestrator
	api *giteaapi.Client
	log *slog.Logger
}

// New returns the orchestrator capability calling the API through api,
// logging to log.
func New(api *giteaapi.Client, log *slog.Logger) *Orchestrator {
	return &Orchestrator{api: api, log: log}
}

// ValidateConfig checks giteaUrl, giteaOwner, giteaGitOpsAppRepoName,
// giteaWorkflow and giteaWorkflowRef.
func (o *Orchestrator) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	_, errs := settings.ForOrchestrator(cfg)
	return errs, nil
}

// mergeRE matches the message of a Gitea or Forgejo merge commit: "Merge
// pull request '<title>' (#12) from <branch> into <base>", the branch of a
// fork as <owner>/<repo>:<branch>.
var mergeRE = regexp.MustCompile(`(?m)^Merge pull request '.*' \(#\d+\) from (?:\S+:)?(\S+) into \S+$`)

// ParseMessage reads the run id and the source commit from a manifest
// commit message. In Gitea's merge commit message the CD workflow's branch
// deploy/<run id>/<sha> comes without the owner GitHub puts before it, so
// it is read from the branch (syncsuccess.ParseBranch); any other message
// (a squash or a commit of the workflow itself) is read as on GitHub
// (syncsuccess.Parse).
func ParseMessage(msg string) (syncsuccess.Payload, string) {
	if m := mergeRE.FindStringSubmatch(msg); m != nil {
		return syncsuccess.ParseBranch(msg, m[1])
	}
	return syncsuccess.Parse(msg)
}

// NotifyCompletion tells the workflow waiting for a manifest commit that
// its deployment succeeded. It reads the commit's message through repo (the
// config's repository, served by the host) and dispatches giteaWorkflow of
// giteaGitOpsAppRepoName on giteaWorkflowRef: POST
// /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches with the
// inputs sha, runid, commitmessage (see ParseMessage) (plus environment when the config has a
// status context, deployed_with when the commit was deployed as part of a
// newer one). The workflow reads those it declares under
// on.workflow_dispatch.inputs; Gitea drops the others. A failed deployment
// dispatches nothing, as with GitHub Actions.
//
// One call dispatches at most once; the host calls again only after an
// error. An error after Gitea took the dispatch (a lost answer) can repeat
// it: Gitea offers no way to ask whether a dispatch arrived.
func (o *Orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	s, errs := settings.ForOrchestrator(c.Config)
	if len(errs) > 0 {
		return sdk.NotifyResult{}, settings.ConfigError(c.Config, errs)
	}
	if err := sdk.CheckCommitID("commit id", c.CommitID); err != nil {
		return sdk.NotifyResult{}, err
	}
	if c.DeployedWith != "" {
		if err := sdk.CheckCommitID("deployed-with commit id", c.DeployedWith); err != nil {
			return sdk.NotifyResult{}, err
		}
	}
	if !c.Successful {
		return sdk.NotifyResult{Reason: "the deployment failed: Gitea Actions are told of successful deployments only"}, nil
	}
	commit, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: c.Config, CommitID: c.CommitID})
	if err != nil {
		return sdk.NotifyResult{}, fmt.Errorf("read the message of manifest commit %s: %w", c.CommitID, err)
	}
	p, missing := ParseMessage(commit.Message)
	p, inputs := syncsuccess.Build(o.log, c, p, missing, maxMessageBytes)
	full := s.Owner + "/" + s.AppRepo
	_, err = o.api.Do(ctx, giteaapi.Call{
		API: s.API, Token: c.Config.Token, Method: http.MethodPost,
		Path:   []string{"repos", s.Owner, s.AppRepo, "actions", "workflows", s.Workflow, "dispatches"},
		Body:   map[string]any{"ref": s.WorkflowRef, "inputs": inputs},
		Action: fmt.Sprintf("dispatch workflow %s of %s on %s", s.Workflow, full, s.WorkflowRef),
		Repo:   full, RepoField: settings.AppRepo, Needs: giteaapi.NeedsDispatch,
		Missing: fmt.Sprintf(", that %s holds workflow %s (%s) and that %s exists (%s)", settings.AppRepo, s.Workflow, settings.Workflow, s.WorkflowRef, settings.WorkflowRef),
	}, nil)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	return sdk.NotifyResult{
		Notified: true,
		Reason:   fmt.Sprintf("dispatched workflow %s of %s on %s (run id %q, source commit %q)", s.Workflow, full, s.WorkflowRef, p.RunID, p.SHA),
	}, nil
}
