// Package skipped decides which commits the finished deployment of a commit
// covers besides itself: the commits of the manifests branch that the
// operator skipped because a newer one was already there when it
// reconciled.
//
// When the deployment of head finishes and base is the commit that finished
// last before it for the same config, the skipped commits are those of
// head's first-parent history after base — the states the branch went
// through between the two deployments, as a reconciled branch moves (a
// merge commit's other parents were never a state of the branch). The
// package only decides which commits; the pipeline tells each of them
// head's outcome through its durable queue, like any other notification.
package skipped

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Walk is one question: which commits does the deployment of Head cover,
// Base having finished before it?
type Walk struct {
	Config sdk.Config
	// Base is the commit of the config that finished last before Head;
	// "" when unknown (the first deployment, or the state was pruned).
	Base string
	Head string
	// MaxCommits bounds the walk; 0 means sdk.DefaultMaxCommits.
	MaxCommits int
	// NotBefore drops the skipped commits committed before it (a pipeline
	// waiting that long has given up); zero keeps all.
	NotBefore time.Time
}

// Why a walk found no skipped commits, in Result.Reason.
const (
	// ReasonNone: the walk found the commits between base and head (maybe
	// none: head's parent is base).
	ReasonNone = ""
	// ReasonBaseUnknown: no commit of the config finished before.
	ReasonBaseUnknown = "no earlier deployment of this config is known"
	// ReasonSameCommit: head is the commit that finished last.
	ReasonSameCommit = "the commit finished last already"
	// ReasonOlder: head is an ancestor of base (an older commit reported
	// again, or a rollback to it).
	ReasonOlder = "the commit is older than the last deployed commit"
	// ReasonNotAncestor: base is not in head's first-parent history (a
	// force push, a revert to an older commit, another branch).
	ReasonNotAncestor = "the last deployed commit is not in the commit's first-parent history"
	// ReasonTooMany: more commits lie between base and head than the walk
	// may read, so that base is an ancestor cannot be proved.
	ReasonTooMany = "more commits lie between the last deployed commit and this one than the walk reads"
	// ReasonUnsupported: the repository plugin cannot list commits.
	ReasonUnsupported = "the repository plugin cannot list commits"
)

// Result is the answer of Find.
type Result struct {
	// Commits are the skipped commits, oldest first; never head or base.
	Commits []sdk.Commit
	// TooOld counts the skipped commits dropped by NotBefore.
	TooOld int
	// Reason says why Commits is empty when it is not the history's
	// doing; ReasonNone otherwise.
	Reason string
	// Advance is true when head becomes the commit that finished last:
	// false only when head is base or an ancestor of it.
	Advance bool
	// List is what the repository listed; nil when Find asked nothing.
	// The pipeline answers the walk again from it when another deployment
	// moved the base meanwhile.
	List *sdk.CommitList
}

// Find lists the commits between Base and Head through repo and returns
// the ones Head's deployment covers. It calls the repository only when
// Base is known and differs from Head. An error of the repository is
// returned wrapped (the caller retries what is retryable), except that a
// plugin without ListCommits is a Result with ReasonUnsupported.
func Find(ctx context.Context, repo sdk.Repository, w Walk) (Result, error) {
	switch w.Base {
	case "":
		return Result{Reason: ReasonBaseUnknown, Advance: true}, nil
	case w.Head:
		return Result{Reason: ReasonSameCommit}, nil
	}
	list, err := repo.ListCommits(ctx, sdk.ListCommitsRequest{
		Config: w.Config, BaseCommitID: w.Base, HeadCommitID: w.Head, MaxCommits: w.MaxCommits,
	})
	if err != nil {
		if errors.Is(err, sdk.ErrUnimplemented) || sdk.KindOf(err) == sdk.KindUnimplemented {
			return Result{Reason: ReasonUnsupported, Advance: true}, nil
		}
		return Result{}, fmt.Errorf("list the commits between %s and %s: %w", w.Base, w.Head, err)
	}
	res := FirstParents(list, w.Base, w.Head, w.NotBefore)
	res.List = &list
	return res, nil
}

// FirstParents follows head's first parents through a ListCommits answer
// (git log base..head) down to base, and returns the commits on the way,
// oldest first, without head, dropping those committed before notBefore.
// When the first-parent chain leaves the list at a commit other than base,
// base is not an ancestor of head (or, when the list was truncated, that
// cannot be told): nothing is covered then. A base listed in the chain
// (the answer of a walk from an older base) ends the chain there.
func FirstParents(list sdk.CommitList, base, head string, notBefore time.Time) Result {
	chain, reached := Chain(list, base, head)
	switch {
	case len(chain) == 0:
		return Result{Reason: ReasonOlder}
	case reached:
	case list.Truncated:
		return Result{Reason: ReasonTooMany, Advance: true}
	default:
		return Result{Reason: ReasonNotAncestor, Advance: true}
	}
	chain = chain[1:]
	slices.Reverse(chain)
	out := Result{Advance: true}
	for _, c := range chain {
		if !notBefore.IsZero() && !c.CommittedAt.IsZero() && c.CommittedAt.Before(notBefore) {
			out.TooOld++
			continue
		}
		out.Commits = append(out.Commits, c)
	}
	return out
}

// Chain follows head's first parents through list, head first, until the
// chain reaches base (reached: base is head's first-parent ancestor; base
// is not in chain) or leaves the list. It is empty when head is not
// listed.
func Chain(list sdk.CommitList, base, head string) (chain []sdk.Commit, reached bool) {
	byID := make(map[string]sdk.Commit, len(list.Commits))
	for _, c := range list.Commits {
		byID[c.ID] = c
	}
	for cur := head; cur != base; {
		c, ok := byID[cur]
		if !ok {
			return chain, false
		}
		chain = append(chain, c)
		if len(c.ParentIDs) == 0 {
			return chain, false
		}
		cur = c.ParentIDs[0]
		delete(byID, c.ID) // a cycle in a bad answer ends the walk
	}
	return chain, len(chain) > 0
}

// ShortID is the abbreviated commit id statuses name the covering commit
// by.
func ShortID(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return id
}

// Description is the description of the status a skipped commit gets:
// "deployed with <short id> (<full id>)", so both the repository's page and
// the raw subscribers name the covering commit.
func Description(head string) string {
	return fmt.Sprintf("deployed with %s (%s)", ShortID(head), head)
}
