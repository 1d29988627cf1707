package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
)

// reportingSource is a config source that records the give-ups reported to
// it, as a GitOpsConfig's Delivered condition would show them.
type reportingSource struct {
	reports chan [3]string
}

func (reportingSource) Run(context.Context, func(config.Snapshot)) error { return nil }

func (s reportingSource) ReportGiveUp(_ context.Context, key, reason, message string) error {
	s.reports <- [3]string{key, reason, message}
	return nil
}

func TestAGateGivenUpShowsOnTheGitOpsConfigWithTheEnvironmentsStillMissing(t *testing.T) {
	src := reportingSource{reports: make(chan [3]string, 1)}
	h := &host{source: src, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	counted := 0
	h.gaveUp(func(pipeline.GiveUp) { counted++ })(pipeline.GiveUp{
		ConfigKey: "team-shop/shop-dev-east", CommitID: "abc1230", Step: pipeline.StepGate, Reason: pipeline.ReasonMaxAge,
		Err: errors.New("older than the maximum age: still waiting for dev-west (no status)"),
	})
	select {
	case r := <-src.reports:
		if r[0] != "team-shop/shop-dev-east" || r[1] != pipeline.ReasonMaxAge ||
			!strings.Contains(r[2], "commit abc1230: wait for required environments given up") || !strings.Contains(r[2], "dev-west (no status)") {
			t.Errorf("reported %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the give-up was not reported to the GitOpsConfig")
	}
	if counted != 1 {
		t.Errorf("counted %d times", counted)
	}
}
