// Package orchestrator is the plugin's orchestrator capability for Azure
// Pipelines: it completes the agentless task a pipeline waits in (an
// InvokeRESTAPI task with completionEvent Callback) when the deployment of
// the pull request that task opened has finished, and fails the tasks of
// abandoned pull requests.
//
// The commit, the pull request and its properties are read through the
// host's repository (whatever plugin serves it); the plan, the build's
// timeline and the TaskCompleted event go to Azure DevOps directly.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// The sweep's window.
const (
	// SweepHorizon is how far back a sweep looks: a task waits at most
	// this long after its pull request was abandoned.
	SweepHorizon = 72 * time.Hour
	// SweepOverlap is how far before the previous sweep's end a sweep
	// starts, so pull requests closed while it ran, or stamped by a clock
	// slightly behind, are not missed.
	SweepOverlap = 5 * time.Minute
)

// Orchestrator implements sdk.Orchestrator.
type Orchestrator struct {
	clients *azdoapi.Clients
	// now is the clock of sweeps.
	now func() time.Time
}

var _ sdk.Orchestrator = (*Orchestrator)(nil)

// New returns the orchestrator capability; clients is shared with the
// repository.
func New(clients *azdoapi.Clients) *Orchestrator {
	return &Orchestrator{clients: clients, now: time.Now}
}

// ValidateConfig reports the problems of a config for completing pipeline
// tasks. A credential Entra ID refuses is one.
func (o *Orchestrator) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	s, errs := config.Parse(cfg, config.ForOrchestrator)
	if len(errs) > 0 {
		return errs, nil
	}
	return o.clients.CheckCredential(ctx, cfg, s), nil
}

// NotifyCompletion completes the task of the pipeline that opened the pull
// request behind a deployed commit, with succeeded or failed:
//
//  1. the pull request: "Merged PR <n>" in the commit's comment, else the
//     completed pull request of the PR repository whose merge commit the
//     commit is;
//  2. its callback property (callback-task-id-<statusContext>, then
//     callback-task-id); absent or not a valid callback → nothing to do;
//  3. nothing to do when the plan is completed, or the job's timeline
//     record is completed or missing;
//  4. TaskCompleted.
//
// Step 3 makes a repeat (a retried call, a re-sent event, the other
// outcome) a no-op once the task is completed.
func (o *Orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	commit, err := azdoapi.CommitID(c.CommitID)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	s, err := config.Load(c.Config, config.ForOrchestrator)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	log := sdk.Logger().With("config", c.Config.Name, "commit", commit)
	number, reason, err := o.pullRequestOf(ctx, c.Config, s, commit, repo)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	if number == 0 {
		log.Info("no pipeline to notify", "reason", reason)
		return sdk.NotifyResult{Reason: reason}, nil
	}
	res, err := o.complete(ctx, c.Config, s, repo, number, c.Successful, log.With("pull_request", number))
	if err == nil && !res.Notified {
		log.Info("pipeline task not completed", "pull_request", number, "reason", res.Reason)
	}
	return res, err
}

// pullRequestOf finds the pull request that produced a commit; 0 and a
// reason when there is none.
func (o *Orchestrator) pullRequestOf(ctx context.Context, cfg sdk.Config, s config.Settings, commit string, repo sdk.Repository) (int64, string, error) {
	cm, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: cfg, CommitID: commit})
	if err != nil {
		return 0, "", fmt.Errorf("read the comment of commit %s: %w", commit, err)
	}
	if n, ok := PullRequestNumber(cm.Message); ok {
		return n, "", nil
	}
	prs, err := repo.FindPullRequests(ctx, sdk.FindPullRequestsRequest{Config: cfg, Repository: s.PRRepo, CommitID: commit})
	if err != nil {
		return 0, "", fmt.Errorf("find the pull request that merged commit %s: %w", commit, err)
	}
	for _, pr := range prs {
		if pr.Number > 0 {
			return pr.Number, "", nil
		}
	}
	return 0, fmt.Sprintf("the comment of commit %s names no pull request (\"Merged PR <n>\") and no completed pull request of repository %s merged it", commit, s.PRRepo), nil
}

// complete completes the task waiting on pull request number, unless
// there is none or it already finished; the result's reason says why not.
func (o *Orchestrator) complete(ctx context.Context, cfg sdk.Config, s config.Settings, repo sdk.Repository, number int64, successful bool, log *slog.Logger) (sdk.NotifyResult, error) {
	cb, reason, err := o.callback(ctx, cfg, s, repo, number)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	if reason != "" {
		return skip(reason), nil
	}
	client, err := o.clients.For(cfg, s)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	ref := cb.PlanRef()
	if err := client.CheckPlanRef(ref); err != nil {
		return skip(fmt.Sprintf("the callback of pull request %d is not used: %v (the connector sends its token only to the organization of azdoOrgUrl)", number, err)), nil
	}
	log = log.With("plan", cb.PlanID, "job", cb.JobID, "task", cb.TaskID)
	plan, err := client.Plan(ctx, ref)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	if plan.State == azdoapi.StateCompleted {
		return skip(fmt.Sprintf("the pipeline run waiting on pull request %d already finished (plan %s is completed)", number, cb.PlanID)), nil
	}
	if plan.BuildURL == "" {
		return skip(fmt.Sprintf("plan %s of pull request %d has no owning build: its job cannot be checked", cb.PlanID, number)), nil
	}
	records, err := client.Timeline(ctx, plan.BuildURL)
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	var job *azdoapi.TimelineRecord
	for i := range records {
		if strings.EqualFold(records[i].ID, cb.JobID) {
			job = &records[i]
			break
		}
	}
	switch {
	case job == nil:
		return skip(fmt.Sprintf("job %s of pull request %d is not in its run's timeline (the run was retried or deleted)", cb.JobID, number)), nil
	case job.State == azdoapi.StateCompleted:
		return skip(fmt.Sprintf("job %s of pull request %d already completed", cb.JobID, number)), nil
	}
	result := "failed"
	if successful {
		result = "succeeded"
	}
	if err := client.TaskCompleted(ctx, ref, cb.TaskID, cb.JobID, result); err != nil {
		return sdk.NotifyResult{}, err
	}
	log.Info("completed the pipeline task", "result", result)
	return sdk.NotifyResult{Notified: true, Reason: fmt.Sprintf("completed task %s of pull request %d: %s", cb.TaskID, number, result)}, nil
}

// callback reads the callback of a pull request; a reason instead when it
// has none or it is not valid.
func (o *Orchestrator) callback(ctx context.Context, cfg sdk.Config, s config.Settings, repo sdk.Repository, number int64) (Callback, string, error) {
	keys := PropertyKeys(s.StatusContext)
	for _, key := range keys {
		value, found, err := repo.GetPullRequestProperty(ctx, sdk.GetPullRequestPropertyRequest{Config: cfg, Repository: s.PRRepo, Number: number, Key: key})
		if err != nil {
			return Callback{}, "", fmt.Errorf("read property %s of pull request %d: %w", key, number, err)
		}
		if !found {
			continue
		}
		cb, err := ParseCallback(value)
		if err != nil {
			return Callback{}, fmt.Sprintf("property %s of pull request %d is not a valid callback: %v", key, number, err), nil
		}
		return cb, "", nil
	}
	return Callback{}, fmt.Sprintf("pull request %d of repository %s has no %s property: no pipeline waits for it", number, s.PRRepo, strings.Join(keys, " or ")), nil
}

func skip(reason string) sdk.NotifyResult { return sdk.NotifyResult{Reason: reason} }

// Sweep fails the tasks waiting on pull requests of the PR repository
// that were abandoned within SweepHorizon and since the previous sweep
// (req.Since, less SweepOverlap). A task already completed is left alone,
// so pull requests seen by two sweeps are completed once. Problems with one
// pull request's data (no callback, a missing plan) are logged and do not
// fail the sweep; passing failures do, so the next sweep covers the same
// window again.
func (o *Orchestrator) Sweep(ctx context.Context, req sdk.SweepRequest, repo sdk.Repository) (sdk.SweepResult, error) {
	s, err := config.Load(req.Config, config.ForOrchestrator)
	if err != nil {
		return sdk.SweepResult{}, err
	}
	now := o.now()
	from := now.Add(-SweepHorizon)
	if !req.Since.IsZero() {
		if since := req.Since.Add(-SweepOverlap); since.After(from) {
			from = since
		}
	}
	prs, err := repo.ListPullRequests(ctx, sdk.ListPullRequestsRequest{
		Config: req.Config, Repository: s.PRRepo, State: sdk.PullRequestAbandoned, ClosedAfter: from,
	})
	if err != nil {
		return sdk.SweepResult{}, fmt.Errorf("sweep: list the pull requests of repository %s abandoned since %s: %w", s.PRRepo, from.UTC().Format(time.RFC3339), err)
	}
	log := sdk.Logger().With("config", req.Config.Name)
	notified := 0
	var errs []error
	for _, pr := range prs {
		if pr.Number <= 0 || (pr.State != sdk.PullRequestAbandoned && pr.State != sdk.PullRequestStateUnspecified) ||
			(!pr.ClosedAt.IsZero() && pr.ClosedAt.Before(from)) {
			continue
		}
		res, err := o.complete(ctx, req.Config, s, repo, pr.Number, false, log.With("pull_request", pr.Number, "abandoned", true))
		if err != nil {
			switch sdk.KindOf(err) {
			case sdk.KindNotFound, sdk.KindInvalidInput, sdk.KindPermanent:
				log.Warn("abandoned pull request skipped", "pull_request", pr.Number, "error", err.Error())
			default:
				errs = append(errs, err)
			}
			continue
		}
		if res.Notified {
			notified++
		} else {
			log.Debug("abandoned pull request: no task completed", "pull_request", pr.Number, "reason", res.Reason)
		}
	}
	if len(errs) > 0 {
		return sdk.SweepResult{Notified: notified}, fmt.Errorf("sweep: %d of %d abandoned pull requests failed: %w", len(errs), len(prs), errors.Join(errs...))
	}
	if notified > 0 {
		log.Info("failed the tasks of abandoned pull requests", "count", notified)
	}
	return sdk.SweepResult{Notified: notified, Until: now}, nil
}
