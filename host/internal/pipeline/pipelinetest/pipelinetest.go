// Package pipelinetest holds what the benchmarks of the pipeline and of the
// event store share: plugins that cost nothing, so a benchmark measures the
// host's own work per event. Only tests import it.
package pipelinetest

import (
	"context"
	"sync/atomic"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Plugins is a repository and orchestrator, of every type, that answer at
// once and count the statuses posted.
type Plugins struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator

	// Posted counts the statuses posted.
	Posted atomic.Int64
	want   int64
	done   chan struct{}
}

// NewPlugins returns plugins whose Done is closed once want statuses were
// posted (at once when want is 0).
func NewPlugins(want int) *Plugins {
	p := &Plugins{want: int64(want), done: make(chan struct{})}
	if want == 0 {
		close(p.done)
	}
	return p
}

// Done is closed once the statuses NewPlugins was told of were posted.
func (p *Plugins) Done() <-chan struct{} { return p.done }

// PostStatus counts the status.
func (p *Plugins) PostStatus(context.Context, sdk.PostStatusRequest) error {
	if p.Posted.Add(1) == p.want {
		close(p.done)
	}
	return nil
}

// NotifyCompletion reports the orchestrator notified.
func (p *Plugins) NotifyCompletion(context.Context, sdk.Completion, sdk.Repository) (sdk.NotifyResult, error) {
	return sdk.NotifyResult{Notified: true}, nil
}

// ValidateConfig accepts every config.
func (p *Plugins) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

// Repository returns p for every type.
func (p *Plugins) Repository(string) (sdk.Repository, error) { return p, nil }

// Orchestrator returns p for every type.
func (p *Plugins) Orchestrator(string) (sdk.Orchestrator, error) { return p, nil }
