package repository

import (
	"context"
	"fmt"
	"slices"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

// comparePageSize is the most commits GitHub lists per page of a
// comparison.
const comparePageSize = 100

// ListCommits lists the commits reachable from the head and not from the
// base, newest first: GET /repos/{owner}/{repo}/compare/{base}...{head},
// which is git log base..head in chronological order. The first page says
// how many there are (total_commits); when they are more than the request's
// limit, only the pages holding the newest ones are read and the list is
// marked truncated. A head that is an ancestor of the base (GitHub's
// "behind") lists nothing; a base that is not an ancestor of the head
// ("diverged") lists what head has beyond their merge base, and the host
// tells that case from the parents.
func (r *Repository) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	c, err := r.commitRead(req.Config, req.Repository, req.HeadCommitID)
	if err != nil {
		return sdk.CommitList{}, err
	}
	base, err := ghapi.CommitID(req.BaseCommitID)
	if err != nil {
		return sdk.CommitList{}, err
	}
	limit := req.Limit()
	read := func(page int) (*github.CommitsComparison, error) {
		cmp, _, err := c.client.Repositories.CompareCommits(ctx, c.owner, c.repo, base, c.sha,
			&github.ListOptions{Page: page, PerPage: comparePageSize})
		if err != nil {
			return nil, c.classify(err, "compare "+base+" with", ghapi.NeedsContents)
		}
		return cmp, nil
	}
	first, err := read(1)
	if err != nil {
		return sdk.CommitList{}, err
	}
	total := first.GetTotalCommits()
	pages := (total + comparePageSize - 1) / comparePageSize
	// Chronological: the newest commits are on the last pages.
	from := max(1, (total-limit)/comparePageSize+1)
	var chrono []*github.RepositoryCommit
	for page := from; page <= pages; page++ {
		cmp := first
		if page != 1 {
			if cmp, err = read(page); err != nil {
				return sdk.CommitList{}, err
			}
		}
		chrono = append(chrono, cmp.Commits...)
	}
	slices.Reverse(chrono)
	out := sdk.CommitList{Truncated: total > limit}
	for _, rc := range chrono[:min(len(chrono), limit)] {
		cm, err := commit(rc)
		if err != nil {
			return sdk.CommitList{}, err
		}
		out.Commits = append(out.Commits, cm)
	}
	return out, nil
}

// commit converts a commit as GitHub lists it, refusing an answer whose ids
// are not commit ids (an empty or foreign body).
func commit(rc *github.RepositoryCommit) (sdk.Commit, error) {
	out := sdk.Commit{ID: rc.GetSHA(), Message: rc.GetCommit().GetMessage(),
		CommittedAt: rc.GetCommit().GetCommitter().GetDate().Time}
	for _, p := range rc.Parents {
		out.ParentIDs = append(out.ParentIDs, p.GetSHA())
	}
	for _, id := range append([]string{out.ID}, out.ParentIDs...) {
		if !sdk.ValidCommitID(id) {
			return sdk.Commit{}, sdk.Permanent(fmt.Errorf("GitHub answered a commit whose id %.80q is not a commit id", id))
		}
	}
	return out, nil
}
