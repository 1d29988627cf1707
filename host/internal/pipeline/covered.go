package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/skipped"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Results of looking for the commits a finished deployment covers, told to
// Observer.SkippedWalk.
const (
	WalkFound       = "found"        // skipped commits were queued
	WalkNone        = "none"         // head's parent was the last deployed commit
	WalkBaseUnknown = "base_unknown" // no earlier deployment of the config is known
	WalkOlder       = "older"        // head is not newer than the last deployed commit
	WalkNotAncestor = "not_ancestor" // force push, revert to an older commit
	WalkTooMany     = "too_many"     // more commits than the walk reads
	WalkUnsupported = "unsupported"  // the repository plugin cannot list commits
	WalkFailed      = "failed"       // the listing failed permanently or expired
)

var walkResults = map[string]string{
	skipped.ReasonBaseUnknown: WalkBaseUnknown,
	skipped.ReasonSameCommit:  WalkOlder,
	skipped.ReasonOlder:       WalkOlder,
	skipped.ReasonNotAncestor: WalkNotAncestor,
	skipped.ReasonTooMany:     WalkTooMany,
	skipped.ReasonUnsupported: WalkUnsupported,
}

// configStateKey is the key of a config's own state (State.LastFinished):
// a pair key with no commit.
func configStateKey(configKey string) string { return pairKey(configKey, "") }

// walkLocks serializes, per config, reading and moving the config's last
// finished commit (not the listing between: a slow repository must not
// make the deployments of one config finish one after the other), and
// remembers the last walk that moved it.
type walkLocks struct {
	mu    sync.Mutex
	locks map[string]*configWalk
}

// configWalk is the lock of one config and what its last walk found.
type configWalk struct {
	sync.Mutex
	// last is the walk that last moved the config's last finished commit
	// from this replica, with the first-parent chain it listed; nil when
	// none since the start or it listed nothing.
	last *walked
}

// walked is a walk that moved a config's last finished commit: from base
// to head, through chain (head's first parents down to base, head
// included, base not).
type walked struct {
	base, head string
	chain      map[string]bool
}

func (w *walkLocks) lock(key string) *configWalk {
	w.mu.Lock()
	if w.locks == nil {
		w.locks = map[string]*configWalk{}
	}
	l := w.locks[key]
	if l == nil {
		l = &configWalk{}
		w.locks[key] = l
	}
	w.mu.Unlock()
	l.Lock()
	return l
}

// coverWalk is the look for the commits a finished deployment covers:
// listed before its notification (listCovered), applied after it
// (finishCovering).
type coverWalk struct {
	walk skipped.Walk
	res  skipped.Result
	// same: the commit is the config's last deployed one already.
	same bool
	// later: the listing before the notification failed; it is retried
	// after it (a slow or failing repository must not hold up the
	// deployment's own notification).
	later bool
}

// listCovered lists the commits the deployment of rec's commit covers
// besides itself, before the orchestrator is told, so that telling it and
// recording that it was told are as close as for any event. It asks once:
// when that fails the listing is left for after the notification
// (coverWalk.later), where it is retried. It returns nil when the job
// covers nothing (a skipped commit's, a config that ignores skipped
// commits, a commit whose finish walked before: Flux's repeats), and false
// when shutdown interrupted it (the job stays).
func (p *Pipeline) listCovered(log *slog.Logger, rec Record, cfg config.Config, repo sdk.Repository, st *State) (*coverWalk, bool) {
	if rec.DeployedWith != "" || !rec.Finished || !cfg.TellsSkippedCommits() || st.Walked {
		return nil, true
	}
	base, ok := p.lastFinished(log, rec.ConfigKey)
	switch {
	case !ok:
		return nil, false
	case base == rec.CommitID:
		return &coverWalk{same: true}, true // a repeat of the last deployed commit
	}
	cw := &coverWalk{walk: skipped.Walk{Config: cfg.SDK(config.RoleRepository), Base: base, Head: rec.CommitID,
		MaxCommits: p.opts.SkippedMaxCommits, NotBefore: p.now().Add(-p.opts.MaxAge)}}
	ctx, cancel := context.WithTimeout(context.WithValue(p.ctx, eventKey{}, rec.ID), p.opts.CallTimeout)
	defer cancel()
	var err error
	if cw.res, err = skipped.Find(ctx, repo, cw.walk); err != nil {
		if p.ctx.Err() != nil {
			return nil, false
		}
		log.Warn("cannot list the commits this deployment skipped yet; listing again after the notification", "error", err, "base", base)
		cw.later = true
	}
	return cw, true
}

// list asks the repository which commits lie between base and rec's
// commit, retrying like a notification. It returns nil when the listing
// failed for good (logged and given up: the config's last deployed commit
// stays, so the next deployment covers these commits), and false when
// shutdown interrupted it.
func (p *Pipeline) list(log *slog.Logger, rec Record, cfg config.Config, repo sdk.Repository, base string) (*coverWalk, bool) {
	cw := &coverWalk{walk: skipped.Walk{Config: cfg.SDK(config.RoleRepository), Base: base, Head: rec.CommitID,
		MaxCommits: p.opts.SkippedMaxCommits, NotBefore: p.now().Add(-p.opts.MaxAge)}}
	err := p.retry(rec, logger(log), StepSkipped, cfg.RepositoryType, func(ctx context.Context) error {
		var err error
		cw.res, err = skipped.Find(ctx, repo, cw.walk)
		return err
	})
	switch {
	case err == nil:
		return cw, true
	case p.ctx.Err() != nil:
		log.Warn("delivery interrupted by shutdown", "error", err)
		return nil, false
	}
	reason := ReasonPermanent
	if errors.Is(err, errExpired) {
		reason = ReasonMaxAge
	}
	log.Error("cannot list the commits this deployment skipped; they are not told", "error", err, "base", base)
	p.opts.Observer.SkippedWalk(WalkFailed)
	p.giveUp(rec, StepSkipped, "", reason, err)
	return nil, true
}

// finishCovering removes the finished job of a commit that finished on its
// own, after queuing a job for every commit its deployment covers (cw,
// from listCovered; nil: none). The order keeps the work across a crash:
// the covered commits' jobs are added, each recorded like an event's; then
// the job is removed, with the pair's state (the orchestrator was told);
// last the config's last finished commit moves to this one. A crash before
// the removal resumes the job, which lists again: a covered commit queued
// twice is told once, by the rule that an outcome is told once per commit.
// When there are covered jobs to add or the listing must be read again,
// the pair's state is recorded first, so a crash meanwhile does not tell
// the orchestrator again.
//
// The config's lock is held while its last finished commit is checked and
// moved, not while the repository lists the commits: when another
// deployment of the config moved it since the listing, the walk is
// answered again from the new one (rewalk), from the listing when it
// decides that, else by listing again.
func (p *Pipeline) finishCovering(log *slog.Logger, rec Record, cfg config.Config, repo sdk.Repository, st *State, cw *coverWalk) bool {
	switch {
	case cw == nil:
		return p.finish(log, rec, st)
	case cw.same:
		st.Walked = true
		return p.finish(log, rec, st)
	}
	key := configStateKey(rec.ConfigKey)
	recorded := false
	record := func() bool {
		if recorded {
			return true
		}
		if !p.persist(log, "record the delivery progress", func() error { return p.opts.Store.Progress(rec, *st) }) {
			return false
		}
		p.cacheState(rec.Key(), *st)
		recorded = true
		return true
	}
	if cw.later {
		var ok bool
		if !record() {
			return false
		}
		if cw, ok = p.list(log, rec, cfg, repo, cw.walk.Base); !ok {
			return false
		} else if cw == nil {
			return p.finish(log, rec, st)
		}
	}
	for {
		l := p.walks.lock(rec.ConfigKey)
		cur, ok := p.lastFinished(log, rec.ConfigKey)
		if !ok {
			l.Unlock()
			return false
		}
		res := cw.res
		if cur != cw.walk.Base {
			again, decided := rewalk(cw.walk, cw.res, cur, l.last)
			if !decided {
				l.Unlock()
				if cur == rec.CommitID {
					st.Walked = true // another replica finished it meanwhile
					return p.finish(log, rec, st)
				}
				log.Info("another deployment of the config finished during the walk; walking again from it", "base", cw.walk.Base, "last_deployed", cur)
				if !record() {
					return false
				}
				if cw, ok = p.list(log, rec, cfg, repo, cur); !ok {
					return false
				} else if cw == nil {
					return p.finish(log, rec, st)
				}
				continue
			}
			res = again
		}
		if len(res.Commits) > 0 && !record() {
			l.Unlock()
			return false
		}
		done := p.applyWalk(log, rec, cfg, st, res, key)
		if done && res.Advance {
			l.last = chainOf(cw.walk.Base, rec.CommitID, res)
		}
		l.Unlock()
		return done
	}
}

// applyWalk queues the covered commits, removes the job and moves the
// config's last finished commit. The config's walk lock is held.
func (p *Pipeline) applyWalk(log *slog.Logger, rec Record, cfg config.Config, st *State, res skipped.Result, key string) bool {
	if !p.queueCovered(log, rec, cfg, res) {
		return false
	}
	st.Walked = true
	if !p.finish(log, rec, st) {
		return false
	}
	if !res.Advance {
		return true
	}
	next := State{LastFinished: rec.CommitID}
	if p.persist(log, "record the config's last deployed commit", func() error {
		return p.opts.Store.Done(Record{ConfigKey: rec.ConfigKey}, &next)
	}) {
		p.cacheState(key, next)
	}
	return true
}

// lastFinished reads the config's last finished commit; false when
// shutdown interrupted the read.
func (p *Pipeline) lastFinished(log *slog.Logger, configKey string) (string, bool) {
	key := configStateKey(configKey)
	marker, ok := p.cachedState(key)
	if !ok && !p.persist(log, "read the config's last deployed commit", func() error {
		var err error
		marker, err = p.opts.Store.State(key)
		return err
	}) {
		return "", false
	}
	return marker.LastFinished, true
}

// rewalk answers walk again from cur, the config's last finished commit
// that another deployment set while walk listed from walk.Base, without
// asking the repository when what is known decides it: cur is in head's
// first-parent chain through the listing (the commits after cur are
// covered), or the other deployment walked from the same base, both chains
// reached it, and head is in the other's chain (head is older: nothing) or
// not (neither descends from the other: nothing covered, head is the
// last). False: walk again from cur.
func rewalk(walk skipped.Walk, res skipped.Result, cur string, last *walked) (skipped.Result, bool) {
	if cur == walk.Head || res.List == nil {
		return skipped.Result{}, false
	}
	if again := skipped.FirstParents(*res.List, cur, walk.Head, walk.NotBefore); again.Reason == skipped.ReasonNone {
		again.List = res.List
		return again, true
	}
	if _, reached := skipped.Chain(*res.List, walk.Base, walk.Head); !reached ||
		last == nil || last.head != cur || last.base != walk.Base {
		return skipped.Result{}, false
	}
	if last.chain[walk.Head] {
		return skipped.Result{Reason: skipped.ReasonOlder, List: res.List}, true
	}
	return skipped.Result{Reason: skipped.ReasonNotAncestor, Advance: true, List: res.List}, true
}

// chainOf is what rewalk needs to know of a walk from base that moved the
// last finished commit to head: head's first-parent chain down to base,
// when its listing reached base.
func chainOf(base, head string, res skipped.Result) *walked {
	if res.List == nil {
		return nil
	}
	chain, reached := skipped.Chain(*res.List, base, head)
	if !reached {
		return nil
	}
	w := &walked{base: base, head: head, chain: map[string]bool{}}
	for _, c := range chain {
		w.chain[c.ID] = true
	}
	return w
}

// queueCovered records and queues a job telling each covered commit the
// outcome of rec's commit, in the order the branch went through them. It
// returns false when shutdown interrupted it (the store did not take the
// writes until then): rec's job stays and walks again after the restart.
func (p *Pipeline) queueCovered(log *slog.Logger, rec Record, cfg config.Config, res skipped.Result) bool {
	switch {
	case res.Reason != skipped.ReasonNone:
		p.opts.Observer.SkippedWalk(walkResults[res.Reason])
		log.Info("no skipped commits to tell", "reason", res.Reason)
		return true
	case len(res.Commits) == 0:
		p.opts.Observer.SkippedWalk(WalkNone)
		if res.TooOld > 0 {
			log.Info("skipped commits older than the maximum age are not told", "older_than_max_age", res.TooOld)
		}
		return true
	}
	p.opts.Observer.SkippedWalk(WalkFound)
	status := coveredStatus(rec, cfg)
	for _, c := range res.Commits {
		job := Record{ID: rec.ID, ConfigKey: rec.ConfigKey, CommitID: c.ID, Statuses: []sdk.Status{status},
			Finished: true, Successful: rec.Successful, Received: p.now(), DeployedWith: rec.CommitID,
			DedupID: "covered\x00" + rec.ConfigKey + "\x00" + rec.CommitID + "\x00" + c.ID}
		if !p.persist(log, "record the job of a skipped commit", func() error {
			var err error
			job.Seq, err = p.opts.Store.Add(job)
			return err
		}) {
			return false
		}
		p.queueHere(&entry{rec: job, cfg: &cfg})
		log.Info("skipped commit queued with this deployment's outcome", "skipped_commit", c.ID, "successful", rec.Successful)
	}
	if res.TooOld > 0 {
		log.Info("skipped commits older than the maximum age are not told", "older_than_max_age", res.TooOld)
	}
	return true
}

// coveredStatus is the status a covered commit gets: "Status" (with the
// config's status context) in the outcome of the deployment that contained
// it, described as deployed with that commit. The raw state is the one of
// that deployment's last "Status", so raw subscribers see the operator's
// own word.
func coveredStatus(rec Record, cfg config.Config) sdk.Status {
	name := "Status"
	if cfg.StatusContext != "" {
		name = cfg.StatusContext + "/" + name
	}
	st := sdk.Status{Name: name, State: sdk.StateFailed, RawState: "Failed", Description: skipped.Description(rec.CommitID)}
	if rec.Successful {
		st.State, st.RawState = sdk.StateSucceeded, "Succeeded"
	}
	for _, s := range rec.Statuses {
		if s.Name == name {
			st.RawState, st.Genre, st.Operator = s.RawState, s.Genre, s.Operator
		} else if st.Operator == "" {
			st.Genre, st.Operator = s.Genre, s.Operator
		}
	}
	return st
}

// keepsOwnOutcome reports whether rec is the job of a skipped commit that
// has finished on its own meanwhile: its own outcome stands.
func keepsOwnOutcome(rec Record, st State) bool {
	return rec.DeployedWith != "" && st.Finished && st.DeployedWith == ""
}

// notificationDone tells the observer the outcome of a notification,
// counting a skipped commit's apart.
func (p *Pipeline) notificationDone(rec Record, orchestratorType, outcome string) {
	if rec.DeployedWith != "" {
		p.opts.Observer.SkippedNotificationDone(orchestratorType, outcome)
		return
	}
	p.opts.Observer.NotificationDone(orchestratorType, outcome)
}
