package repository

import (
	"context"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

// Paging of a commit's statuses: GitHub keeps at most 1000 statuses per
// commit and context, and lists them newest first, 100 per page at most.
const (
	statusPageSize = 100
	maxStatusPages = 10
)

// ListStatuses lists the latest status of every context of a commit: GET
// /repos/{owner}/{repo}/commits/{ref}/statuses, page by page. GitHub lists
// a commit's statuses newest first, so the first one of a context is its
// latest; the later ones are history. Reading stops after 1000 statuses,
// which holds every context but one that was posted over and over.
func (r *Repository) ListStatuses(ctx context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	c, err := r.commitRead(req.Config, req.Repository, req.CommitID)
	if err != nil {
		return nil, err
	}
	var out []sdk.CommitStatus
	seen := map[string]bool{}
	opts := &github.ListOptions{PerPage: statusPageSize}
	for range maxStatusPages {
		page, resp, err := c.client.Repositories.ListStatuses(ctx, c.owner, c.repo, c.sha, opts)
		if err != nil {
			return nil, c.classify(err, "list the statuses of", ghapi.NeedsStatuses)
		}
		for _, st := range page {
			if seen[st.GetContext()] {
				continue
			}
			seen[st.GetContext()] = true
			out = append(out, sdk.CommitStatus{
				Name:        st.GetContext(),
				State:       stateOf(st.GetState()),
				Description: st.GetDescription(),
				UpdatedAt:   st.GetUpdatedAt().Time,
			})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// stateOf maps GitHub's commit status state back to a normalized state;
// "not applicable", posted as success, reads back as succeeded. An unknown
// state is pending: it decides nothing.
func stateOf(s string) sdk.State {
	switch s {
	case "success":
		return sdk.StateSucceeded
	case "failure":
		return sdk.StateFailed
	case "error":
		return sdk.StateError
	}
	return sdk.StatePending
}
