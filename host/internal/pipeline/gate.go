package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/gate"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// StepGate is the step of waiting for a config's required environments, in
// GiveUp.Step.
const StepGate = "wait for required environments"

// decide returns the outcome to tell the orchestrator of a finished job,
// and false when there is nothing to tell now.
//
// A config without required environments tells its own outcome. A config
// with them (package gate) tells its own failure at once; its own success
// is a gate: it reads the commit's statuses and tells success once every
// required environment succeeded, failure once one failed; while some are
// still deploying, the job stays in the store with its gate open and is
// read again with backoff, or at once when another event of the commit
// arrives (Submit), until the job is older than MaxAge: then the gate is
// given up. A later job of the pair while the gate is open takes the gate
// over, with its deadline, and the earlier job is removed. The job of a
// commit a
// deployment skipped (Record.DeployedWith) reads the statuses of the
// commit deployed, and its gate wakes with that commit's events. Once
// success was told, a gate that is open again tells nothing; one that
// fails tells the failure (once, as any failure after a success).
func (p *Pipeline) decide(log *slog.Logger, e *entry, rec Record, cfg config.Config, repo sdk.Repository, st *State) (string, bool) {
	if !rec.Successful {
		return outcomeFailure, true
	}
	if len(cfg.RequiredEnvironments) == 0 || (st.Notified[outcomeSuccess] && st.Notified[outcomeFailure]) {
		return outcomeSuccess, true
	}
	// The commits a deployment skipped are gated as the deployment is:
	// by the statuses of the commit deployed.
	commit := rec.CommitID
	if rec.DeployedWith != "" {
		commit = rec.DeployedWith
	}
	key := rec.Key()
	if held, open := p.gates.Get(key); open && held != e {
		if held.rec.Seq > rec.Seq {
			// A later job holds the gate (it was read for this one
			// meanwhile): this one adds its earlier deadline, after it
			// is removed, so the jobs of a pair finish in order.
			if !p.finish(log, rec, st) {
				return "", false
			}
			log.Info("event delivered; the commit's gate is open with a later event")
			if rec.Received.Before(held.rec.Received) {
				held.rec.Received = rec.Received
				p.persist(log, "record the open gate", func() error { return p.opts.Store.Progress(held.rec, *st) })
			}
			return "", false
		}
		// The gate passes to this later job, with the earlier one's
		// deadline; the earlier job is removed first, so the jobs of a
		// pair finish in order (a shared store relies on it).
		if p.gates.Take(key, held) {
			if !p.finish(log, held.rec, st) {
				return "", false
			}
			rec.Received, e.gateReads = held.rec.Received, held.gateReads
			log.Info("the commit's gate passes to this event", "earlier_event", held.rec.ID)
		}
	}
	ctx, cancel := context.WithTimeout(context.WithValue(p.ctx, eventKey{}, rec.ID), p.opts.CallTimeout)
	statuses, err := repo.ListStatuses(ctx, sdk.ListStatusesRequest{Config: cfg.SDK(config.RoleRepository), CommitID: commit})
	cancel()
	res := gate.Decide(cfg.RequiredEnvironments, statuses)
	switch {
	case p.ctx.Err() != nil:
		return "", false // the job stays in the store
	case err != nil && !sdk.IsRetryable(err):
		log.Error("gate given up: the commit's statuses cannot be read", "error", err, "kind", sdk.KindOf(err).String())
		p.giveUp(rec, StepGate, "", ReasonPermanent, fmt.Errorf("read the statuses of the required environments: %w", err))
		p.finish(log, rec, st)
		return "", false
	case err != nil:
		log.Warn("cannot read the commit's statuses for its gate; reading again later", "error", err)
	case res.Outcome == gate.Success:
		log.Info("gate decided: every required environment succeeded", "environments", cfg.RequiredEnvironments)
		return outcomeSuccess, true
	case res.Outcome == gate.Failure:
		log.Info("gate decided: a required environment failed", "failed", gate.Describe(res.Failed))
		return outcomeFailure, true
	case st.Notified[outcomeSuccess]:
		return outcomeSuccess, true // told already; nothing new to wait for
	}
	missing := gate.Describe(res.Missing)
	if err != nil {
		missing = "statuses not readable: " + err.Error()
	}
	deadline := rec.Received.Add(p.opts.MaxAge)
	if !p.now().Before(deadline) {
		log.Error("gate given up: the required environments did not all deploy the commit within the event's maximum age",
			"waiting_for", missing, "max_age", p.opts.MaxAge)
		p.notificationDone(rec, cfg.OrchestratorType, NotifyExpired)
		p.giveUp(rec, StepGate, "", ReasonMaxAge, fmt.Errorf("%w: still waiting for %s", errExpired, missing))
		p.finish(log, rec, st)
		return "", false
	}
	if !p.persist(log, "record the open gate", func() error { return p.opts.Store.Progress(rec, *st) }) {
		return "", false
	}
	p.cacheState(key, *st)
	e.rec = rec
	e.gateReads++
	delay := min(gate.Backoff(e.gateReads, p.opts.GateInitialInterval, p.opts.GateMaxInterval), deadline.Sub(p.now()))
	p.gates.Open(key, commit, e, delay)
	log.Info("gate open: waiting for the required environments", "waiting_for", missing, "read_again_in", delay)
	return "", false
}

// reopen queues the job of a gate that is due, behind nothing older of its
// pair. After Close it does nothing: a durable store keeps the job for the
// next start.
func (p *Pipeline) reopen(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	key := e.rec.Key()
	q := p.enqueue(key, e)
	if p.started {
		p.startDrain(key, q)
	}
}

// OpenGates returns the number of gates waiting for their next read.
func (p *Pipeline) OpenGates() int { return p.gates.Len() }
