package pipeline

// Submitted says what Submit did with a job.
type Submitted int

const (
	// Recorded: the job is recorded in the store and queued.
	Recorded Submitted = iota
	// Unchanged: delivering the job would change nothing (see
	// changesNothing), so it was neither recorded nor queued.
	Unchanged
)

// changesNothing reports whether delivering job now would post nothing,
// tell nothing and write nothing but the same state: what Flux's repeat of
// ReconciliationSucceeded for a finished commit is, every interval. That
// holds when
//   - the store is this replica's alone (not Shared: another replica's
//     jobs and writes are not seen here), so the states in memory are the
//     ones last written;
//   - no job of the pair is waiting, in flight or behind an open gate (a
//     job queued behind them keeps the pair's order);
//   - the pair's state is in memory, written less than half the state TTL
//     ago (so a repeat that is not recorded never lets the state be pruned
//     under it: the next one after that is recorded and renews it);
//   - the pair finished and every status equals the last posted for its
//     context;
//   - for a finished job: it is the commit's own (no DeployedWith
//     recorded), its outcome was told (or the config tells no pipeline),
//     no gate is to be read for it, and its finish walked for skipped
//     commits when the config tells them.
//
// p.mu must be held.
func (p *Pipeline) changesNothing(job Job, key string) bool {
	if p.shared != nil || p.queues[key] != nil {
		return false
	}
	if _, open := p.gates.Get(key); open {
		return false
	}
	st, ok := p.states.Get(key)
	if !ok || p.now().Sub(st.Updated) >= p.opts.StateTTL/2 || !st.Finished {
		return false
	}
	for _, s := range job.Statuses {
		if st.Posted[s.Name] != fingerprint(s) {
			return false
		}
	}
	if !job.Finished {
		return true
	}
	cfg := job.Config
	outcome := outcomeFailure
	if job.Successful {
		outcome = outcomeSuccess
	}
	switch {
	case st.DeployedWith != "":
		return false
	case cfg.OrchestratorType == "":
		return true // statuses only: nothing to tell, no walk
	case !st.Notified[outcome]:
		return false
	case job.Successful && len(cfg.RequiredEnvironments) > 0 && !st.Notified[outcomeFailure]:
		return false // the gate is read again: a failure may be told
	}
	return st.Walked || !cfg.TellsSkippedCommits()
}

// unchanged tells the observer what became of the statuses and the
// notification of a job that changed nothing, as delivering it would have.
func (p *Pipeline) unchanged(job Job) {
	for range job.Statuses {
		p.opts.Observer.StatusDone(job.Config.RepositoryType, StatusUnchanged)
	}
	if job.Finished && job.Config.OrchestratorType != "" {
		p.opts.Observer.NotificationDone(job.Config.OrchestratorType, NotifyAlreadyNotified)
	}
}
