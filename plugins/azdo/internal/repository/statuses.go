package repository

import (
	"context"
	"strings"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// ListStatuses lists the latest status of every context of a commit. An
// Azure Repos context is {name, genre}: the name as PostStatus posted it
// ("dev/Status", the host's status context included) and the genre (the
// Flux kind, "ArgoCD"). The service groups by context (latestOnly); the
// plugin keeps the newest of each context again for servers that list the
// history. The description loses the "<name>: " PostStatus put before it.
func (r *Repository) ListStatuses(ctx context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	commit, err := azdoapi.CommitID(req.CommitID)
	if err != nil {
		return nil, err
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return nil, err
	}
	list, err := client.Statuses(ctx, repo, commit)
	if err != nil {
		return nil, err
	}
	type key struct{ name, genre string }
	latest := map[key]int{}
	var out []sdk.CommitStatus
	for _, gs := range list {
		st := commitStatus(gs)
		k := key{st.Name, st.Genre}
		if i, seen := latest[k]; seen {
			if st.UpdatedAt.After(out[i].UpdatedAt) {
				out[i] = st
			}
			continue
		}
		latest[k] = len(out)
		out = append(out, st)
	}
	return out, nil
}

// statesOf maps the service's states back: the inverse of states.
var statesOf = func() map[git.GitStatusState]sdk.State {
	m := make(map[git.GitStatusState]sdk.State, len(states))
	for s, gs := range states {
		m[gs] = s
	}
	return m
}()

// commitStatus converts a status the service listed; a state it does not
// know (notSet) is pending: it decides nothing.
func commitStatus(gs git.GitStatus) sdk.CommitStatus {
	var st sdk.CommitStatus
	if gs.Context != nil {
		if gs.Context.Name != nil {
			st.Name = *gs.Context.Name
		}
		if gs.Context.Genre != nil {
			st.Genre = *gs.Context.Genre
		}
	}
	st.State = sdk.StatePending
	if gs.State != nil {
		if s, ok := statesOf[*gs.State]; ok {
			st.State = s
		}
	}
	if gs.Description != nil {
		st.Description = strings.TrimPrefix(*gs.Description, st.Name+": ")
	}
	switch {
	case gs.UpdatedDate != nil && !gs.UpdatedDate.Time.IsZero():
		st.UpdatedAt = gs.UpdatedDate.Time
	case gs.CreationDate != nil:
		st.UpdatedAt = gs.CreationDate.Time
	}
	return st
}
