// Package dryrun stands in for repository and orchestrator plugins when the
// host runs with --dry-run: it logs the actions the host would take instead
// of taking them, and needs no credentials.
package dryrun

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Plugins wraps the real plugins' lookups; the types must still exist.
type Plugins struct {
	Real   pipeline.Plugins
	Logger *slog.Logger
}

// Repository returns a repository that logs the statuses it would post.
func (p Plugins) Repository(typ string) (sdk.Repository, error) {
	real, err := p.Real.Repository(typ)
	if err != nil {
		return nil, err
	}
	return repository{Repository: real, typ: typ, log: p.Logger}, nil
}

// Orchestrator returns an orchestrator that logs the notices it would send.
func (p Plugins) Orchestrator(typ string) (sdk.Orchestrator, error) {
	real, err := p.Real.Orchestrator(typ)
	if err != nil {
		return nil, err
	}
	return orchestrator{Orchestrator: real, typ: typ, log: p.Logger}, nil
}

// repository keeps the real plugin's validation and reads; it only fakes
// writes.
type repository struct {
	sdk.Repository
	typ string
	log *slog.Logger
}

func (r repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	r.log.Info("dry run: would post commit status", "event", pipeline.EventID(ctx), "repository", r.typ, "config", key(req.Config),
		"commit", req.CommitID, "context", req.Status.Name, "state", req.Status.State.String(),
		"raw_state", req.Status.RawState, "description", req.Status.Description)
	return nil
}

type orchestrator struct {
	sdk.Orchestrator
	typ string
	log *slog.Logger
}

func (o orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, _ sdk.Repository) (sdk.NotifyResult, error) {
	o.log.Info("dry run: would notify the orchestrator", "event", pipeline.EventID(ctx), "orchestrator", o.typ, "config", key(c.Config),
		"commit", c.CommitID, "successful", c.Successful)
	return sdk.NotifyResult{Notified: true, Reason: "dry run"}, nil
}

func (o orchestrator) Sweep(_ context.Context, req sdk.SweepRequest, _ sdk.Repository) (sdk.SweepResult, error) {
	return sdk.SweepResult{}, fmt.Errorf("dry run: periodic sweeps are off: %w", sdk.ErrUnimplemented)
}

// key is the config's key as the host's other log lines name it.
func key(c sdk.Config) string {
	if c.Namespace == "" {
		return c.Name
	}
	return c.Namespace + "/" + c.Name
}
