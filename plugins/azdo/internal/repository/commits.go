package repository

import (
	"context"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// ListCommits lists the commits reachable from the head and not from the
// base, newest first, each with its parents, its full comment and its
// committer date. The service lists the ids (POST commitsbatch, paged, at
// most the request's limit) without parents, so each listed commit is then
// read (GET commit): a walk of n commits costs n+1 requests or more. A head
// that is an ancestor of the base lists nothing; a base that is not an
// ancestor of the head lists what head has beyond their merge base, and the
// host tells that case from the parents.
func (r *Repository) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	head, err := azdoapi.CommitID(req.HeadCommitID)
	if err != nil {
		return sdk.CommitList{}, err
	}
	base, err := azdoapi.CommitID(req.BaseCommitID)
	if err != nil {
		return sdk.CommitList{}, err
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return sdk.CommitList{}, err
	}
	ids, truncated, err := client.CommitsBetween(ctx, repo, base, head, req.Limit())
	if err != nil {
		return sdk.CommitList{}, err
	}
	out := sdk.CommitList{Truncated: truncated}
	for _, id := range ids {
		gc, err := client.Commit(ctx, repo, id)
		if err != nil {
			return sdk.CommitList{}, err
		}
		out.Commits = append(out.Commits, commitOf(gc, id))
	}
	return out, nil
}
