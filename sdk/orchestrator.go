package sdk

import (
	"context"
	"time"
)

// Orchestrator tells a CI/CD pipeline that a deployment finished (GitHub
// Actions, Azure Pipelines, ...).
//
// The host calls NotifyCompletion when an event says the deployment of a
// commit finished, at most once per (config, commit, outcome) that returned
// no error. After a retryable error it calls again with the same input, so an
// implementation that sends more than one request must make a repeat safe
// (e.g. check whether the pipeline was already told).
//
// repo gives access to the repository functions through the host, whatever
// plugin serves the config's repository. It is valid only during the call.
//
// Embed UnimplementedOrchestrator to implement only part of the interface.
type Orchestrator interface {
	// ValidateConfig reports the problems of a config for this orchestrator.
	ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error)
	// NotifyCompletion tells the pipeline waiting for a commit that its
	// deployment finished.
	NotifyCompletion(ctx context.Context, req Completion, repo Repository) (NotifyResult, error)
	// Sweep runs the orchestrator's periodic work for one config (Azure
	// Pipelines: fail the tasks of abandoned pull requests). The host calls
	// it every sweep interval for every config that uses this orchestrator.
	Sweep(ctx context.Context, req SweepRequest, repo Repository) (SweepResult, error)
}

// Completion says that the deployment of a commit finished.
type Completion struct {
	Config Config
	// CommitID is a hex commit id, checked by the SDK (as DeployedWith
	// when set).
	CommitID string
	// Successful is the outcome.
	Successful bool
	// Statuses are the statuses of the event that finished the deployment.
	Statuses []Status
	// DeployedWith is set when CommitID did not finish on its own: the
	// operator skipped it and deployed DeployedWith, a newer commit that
	// contains it. Successful is then DeployedWith's outcome. "" for a
	// direct completion.
	DeployedWith string
}

// NotifyResult says what NotifyCompletion did.
type NotifyResult struct {
	// Notified is false when nothing was sent (e.g. no pipeline waits for
	// this commit, or the pipeline already finished); Reason says why.
	Notified bool
	Reason   string
}

// SweepRequest asks for one periodic sweep.
type SweepRequest struct {
	Config Config
	// Since is the Until of the previous successful sweep of this config;
	// zero on the first sweep.
	Since time.Time
}

// SweepResult says what a sweep did.
type SweepResult struct {
	// Notified is how many pipelines were notified.
	Notified int
	// Until is the time up to which the sweep looked; the host passes it as
	// Since of the next sweep.
	Until time.Time
}

// UnimplementedOrchestrator answers every Orchestrator method with
// ErrUnimplemented. Embed it to implement only some methods; an orchestrator
// without Sweep has no periodic work.
type UnimplementedOrchestrator struct{}

// ValidateConfig accepts every config.
func (UnimplementedOrchestrator) ValidateConfig(context.Context, Config) ([]FieldError, error) {
	return nil, nil
}

// NotifyCompletion returns ErrUnimplemented.
func (UnimplementedOrchestrator) NotifyCompletion(context.Context, Completion, Repository) (NotifyResult, error) {
	return NotifyResult{}, ErrUnimplemented
}

// Sweep returns ErrUnimplemented.
func (UnimplementedOrchestrator) Sweep(context.Context, SweepRequest, Repository) (SweepResult, error) {
	return SweepResult{}, ErrUnimplemented
}
