// Package sweep runs the orchestrators' periodic work (Azure Pipelines:
// failing the tasks of abandoned pull requests) for every valid config.
//
// There is exactly one worker per config. When a config changes, its worker
// is stopped before the new one starts; when it is deleted, its worker
// stops. An orchestrator that has no periodic work (its Sweep is
// unimplemented) is not called again for that config.
package sweep

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/repobind"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Plugins gives the repository and orchestrator of a type.
type Plugins interface {
	Repository(typ string) (sdk.Repository, error)
	Orchestrator(typ string) (sdk.Orchestrator, error)
}

// Runner owns the sweep workers.
type Runner struct {
	Plugins  Plugins
	Interval time.Duration
	Logger   *slog.Logger
	// Leader, when set, elects the replica that sweeps among several
	// (package leader); the others skip their intervals. Nil: this replica
	// always sweeps.
	Leader interface{ Leading() bool }

	mu      sync.Mutex
	workers map[string]*worker
}

type worker struct {
	revision string
	cancel   context.CancelFunc
	done     chan struct{}
}

// Reconcile makes the workers match configs: one per config, restarted when
// the config changed, stopped when it is gone.
func (r *Runner) Reconcile(configs []config.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.workers == nil {
		r.workers = map[string]*worker{}
	}
	want := map[string]config.Config{}
	for _, c := range configs {
		if c.OrchestratorType != "" { // statuses-only configs have no pipeline to sweep
			want[c.Key()] = c
		}
	}
	for key, w := range r.workers {
		if c, ok := want[key]; !ok || c.Revision() != w.revision {
			w.stop()
			delete(r.workers, key)
		}
	}
	for key, c := range want {
		if _, ok := r.workers[key]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := &worker{revision: c.Revision(), cancel: cancel, done: make(chan struct{})}
		r.workers[key] = w
		go r.run(ctx, c, w.done)
	}
}

// Stop stops every worker and waits for them.
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, w := range r.workers {
		w.stop()
		delete(r.workers, key)
	}
}

// Workers returns the number of running workers.
func (r *Runner) Workers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.workers)
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (r *Runner) run(ctx context.Context, c config.Config, done chan struct{}) {
	defer close(done)
	log := r.Logger.With("config", c.Key(), "orchestrator", c.OrchestratorType)
	orch, err := r.Plugins.Orchestrator(c.OrchestratorType)
	if err != nil {
		log.Error("no sweeps for the config: no orchestrator plugin", "error", err)
		return
	}
	repo, err := r.Plugins.Repository(c.RepositoryType)
	if err != nil {
		log.Error("no sweeps for the config: no repository plugin", "error", err)
		return
	}
	repo = repobind.Bind(repo, c.SDK(config.RoleRepository))
	interval := r.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	var since time.Time
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if r.Leader != nil && !r.Leader.Leading() {
			since = time.Time{} // a new lead sweeps everything again
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				continue
			}
		}
		callCtx, cancel := context.WithTimeout(ctx, interval+time.Minute)
		res, err := orch.Sweep(callCtx, sdk.SweepRequest{Config: c.SDK(config.RoleOrchestrator), Since: since}, repo)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case sdk.KindOf(err) == sdk.KindUnimplemented:
			log.Debug("orchestrator has no periodic work")
			return
		case err != nil:
			log.Warn("sweep failed; trying again next interval", "error", err)
		default:
			since = res.Until
			if res.Notified > 0 {
				log.Info("sweep notified pipelines", "notified", res.Notified)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
