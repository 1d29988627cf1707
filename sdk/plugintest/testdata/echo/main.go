// Command echo is a plugin serving every capability, used to test the SDK's
// protocol adapters and the conformance kit over a real go-plugin connection.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

type operator struct{}

func (operator) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	if cfg.Setting("gitOpsOperatorType") == "" {
		return []sdk.FieldError{{Field: "gitOpsOperatorType", Message: "is required"}}, nil
	}
	return nil, nil
}

// ParseEvent accepts {"commit": "<hex>", "state": "...", "config": "..."}.
func (operator) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	var ev struct {
		Commit string `json:"commit"`
		Config string `json:"config"`
		Panic  bool   `json:"panic"`
	}
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return sdk.Ignored("not an echo event"), nil
	}
	if ev.Panic {
		panic("asked to panic")
	}
	if ev.Commit == "" {
		return sdk.Ignored("no commit"), nil
	}
	if !hexID.MatchString(ev.Commit) {
		return sdk.ParseResult{}, sdk.InvalidInputf("commit %q is not a hex id", ev.Commit)
	}
	return sdk.ParseResult{
		Handled: true, ConfigName: ev.Config, CommitID: ev.Commit, Finished: true, Successful: true,
		Statuses: []sdk.Status{{Name: "Status", State: sdk.StateSucceeded, RawState: "Done", Description: "done", Genre: "Echo", Operator: "Echo"}},
	}, nil
}

type repository struct{ sdk.UnimplementedRepository }

func (repository) PostStatus(_ context.Context, req sdk.PostStatusRequest) error {
	switch {
	case !hexID.MatchString(req.CommitID):
		return sdk.InvalidInputf("commit id %q is not a hex id", req.CommitID)
	case req.Status.Name == "retry":
		return sdk.Retryable(errors.New("rate limited"), 3*time.Second)
	case req.Status.Name == "missing":
		return sdk.NotFound(errors.New("no such repository"))
	case req.Status.Name == "denied":
		return sdk.PermissionDenied(errors.New("token lacks repo:status"))
	case req.Status.Name == "plain":
		return errors.New("something odd")
	}
	return nil
}

func (repository) GetCommit(_ context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	return sdk.Commit{ID: req.CommitID, Message: "message of " + req.CommitID + " in " + req.Repository + " as " + req.Config.Name}, nil
}

// ListCommits lists two commits between base and head, the head first, each
// the child of the next.
func (repository) ListCommits(_ context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	mid := strings.Repeat("c", 40)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return sdk.CommitList{Truncated: req.Limit() < 2, Commits: []sdk.Commit{
		{ID: req.HeadCommitID, Message: "head", ParentIDs: []string{mid}, CommittedAt: at},
		{ID: mid, Message: "middle", ParentIDs: []string{req.BaseCommitID}, CommittedAt: at.Add(-time.Minute)},
	}}, nil
}

// ListStatuses reports one status named after the commit.
func (repository) ListStatuses(_ context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	return []sdk.CommitStatus{{
		Name: "env/Status", Genre: req.Repository, State: sdk.StateFailed, Description: req.CommitID,
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}}, nil
}

type orchestrator struct{ sdk.UnimplementedOrchestrator }

// kept is the host's repository of a call whose config has the setting
// "keepRepository": a later call with "useKeptRepository" reads through it,
// as a plugin that holds on to a call's repository would.
var kept struct {
	sync.Mutex
	repo sdk.Repository
}

// NotifyCompletion reads the commit through the host's repository and
// reports its message as the reason.
func (orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	if !hexID.MatchString(c.CommitID) {
		return sdk.NotifyResult{}, sdk.InvalidInputf("commit id %q is not a hex id", c.CommitID)
	}
	kept.Lock()
	if c.Config.Setting("keepRepository") != "" {
		kept.repo = repo
	}
	if c.Config.Setting("useKeptRepository") != "" {
		repo = kept.repo
	}
	kept.Unlock()
	cm, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: c.Config, Repository: "manifests", CommitID: c.CommitID})
	if err != nil {
		return sdk.NotifyResult{}, fmt.Errorf("read commit: %w", err)
	}
	reason := cm.Message
	if c.DeployedWith != "" {
		reason += " with " + c.DeployedWith
	}
	return sdk.NotifyResult{Notified: c.Successful, Reason: reason}, nil
}

// Sweep lists the pull requests through the host's repository and reports
// how many there are as notified.
func (orchestrator) Sweep(ctx context.Context, req sdk.SweepRequest, repo sdk.Repository) (sdk.SweepResult, error) {
	prs, err := repo.ListPullRequests(ctx, sdk.ListPullRequestsRequest{Config: req.Config})
	if err != nil {
		return sdk.SweepResult{}, fmt.Errorf("list pull requests: %w", err)
	}
	return sdk.SweepResult{Notified: len(prs), Until: req.Since}, nil
}

func main() {
	sdk.Serve(sdk.Plugin{
		Name:         "echo",
		Version:      "1.0.0",
		Types:        []string{"echo"},
		Operator:     operator{},
		Repository:   repository{},
		Orchestrator: orchestrator{},
	})
}
