// Package repository is the plugin's repository capability for Azure Repos:
// commit statuses on the manifests repository, and the reads orchestrators
// use (commits, pull requests, pull request properties).
package repository

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// Repository implements sdk.Repository.
type Repository struct {
	sdk.UnimplementedRepository
	clients *azdoapi.Clients
}

var _ sdk.Repository = (*Repository)(nil)

// New returns the repository capability; clients is shared with the
// orchestrator.
func New(clients *azdoapi.Clients) *Repository { return &Repository{clients: clients} }

// ValidateConfig reports the problems of a config for posting statuses.
// A credential Entra ID refuses is one.
func (r *Repository) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	s, errs := config.Parse(cfg, config.ForRepository)
	if len(errs) > 0 {
		return errs, nil
	}
	return r.clients.CheckCredential(ctx, cfg, s), nil
}

// reader returns the client of a read and the repository it reads: name,
// or the manifests repository when name is "" (see azdoapi.Repository).
func (r *Repository) reader(cfg sdk.Config, name string) (*azdoapi.Client, string, error) {
	s, err := config.Load(cfg, config.ForReading)
	if err != nil {
		return nil, "", err
	}
	repo, err := azdoapi.Repository(name, s)
	if err != nil {
		return nil, "", err
	}
	c, err := r.clients.For(cfg, s)
	return c, repo, err
}

var states = map[sdk.State]git.GitStatusState{
	sdk.StatePending:       git.GitStatusStateValues.Pending,
	sdk.StateSucceeded:     git.GitStatusStateValues.Succeeded,
	sdk.StateFailed:        git.GitStatusStateValues.Failed,
	sdk.StateError:         git.GitStatusStateValues.Error,
	sdk.StateNotApplicable: git.GitStatusStateValues.NotApplicable,
}

// PostStatus posts a status on the manifests repository: state from the
// normalized state, description "<name>: <description>", target URL
// "<gitOpsAppURL>?noop=<name>" (Azure Repos shows several statuses only
// when their URLs differ) and context {name, genre}. Posting the same
// status twice only adds a duplicate entry to the commit's history, so a
// repeat is safe.
func (r *Repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	commit, err := azdoapi.CommitID(req.CommitID)
	if err != nil {
		return err
	}
	st := req.Status
	state, ok := states[st.State]
	if !ok {
		return sdk.InvalidInputf("status %q has no state", st.Name)
	}
	if strings.TrimSpace(st.Name) == "" {
		return sdk.InvalidInputf("a status has no name")
	}
	s, err := config.Load(req.Config, config.ForRepository)
	if err != nil {
		return err
	}
	target, err := TargetURL(s.AppURL, st.Name)
	if err != nil {
		return sdk.InvalidInput(fmt.Errorf("%s: %w", config.FieldAppURL, err))
	}
	description := st.Name + ": " + st.Description
	status := git.GitStatus{
		State:       &state,
		Description: &description,
		TargetUrl:   &target,
		Context:     &git.GitStatusContext{Name: &st.Name},
	}
	if st.Genre != "" {
		status.Context.Genre = &st.Genre
	}
	c, err := r.clients.For(req.Config, s)
	if err != nil {
		return err
	}
	return c.PostStatus(ctx, s.ManifestsRepo, commit, status)
}

// TargetURL returns appURL with the query parameter noop=<name> added.
func TargetURL(appURL, name string) (string, error) {
	u, err := url.Parse(appURL)
	if err != nil {
		return "", fmt.Errorf("is not a URL: %w", err)
	}
	param := "noop=" + url.QueryEscape(name)
	if u.RawQuery == "" {
		u.RawQuery = param
	} else {
		u.RawQuery += "&" + param
	}
	u.ForceQuery = false
	return u.String(), nil
}

// GetCommit reads a commit; its message is the commit's comment.
func (r *Repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	commit, err := azdoapi.CommitID(req.CommitID)
	if err != nil {
		return sdk.Commit{}, err
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return sdk.Commit{}, err
	}
	gc, err := client.Commit(ctx, repo, commit)
	if err != nil {
		return sdk.Commit{}, err
	}
	return commitOf(gc, commit), nil
}

// commitOf converts a commit the service read; id stands in for a missing
// commit id.
func commitOf(gc *git.GitCommit, id string) sdk.Commit {
	out := sdk.Commit{ID: id}
	if gc.CommitId != nil {
		out.ID = *gc.CommitId
	}
	if gc.Comment != nil {
		out.Message = *gc.Comment
	}
	if gc.Parents != nil {
		out.ParentIDs = append(out.ParentIDs, *gc.Parents...)
	}
	if gc.Committer != nil && gc.Committer.Date != nil {
		out.CommittedAt = gc.Committer.Date.Time
	}
	return out
}

// mergeWindow is how long before a merge commit's committer date its pull
// request may have been closed; the service stamps both when it completes
// the pull request.
const mergeWindow = time.Hour

// FindPullRequests returns the completed pull request whose merge commit is
// the commit. Azure Repos has no lookup by merge commit among the
// operations the plugin uses, so it lists completed pull requests closed
// since an hour before the commit's committer date (servers before API 7.1
// ignore that filter and are read newest first, up to the page limit) and
// compares their last merge commit; it stops at the first match.
func (r *Repository) FindPullRequests(ctx context.Context, req sdk.FindPullRequestsRequest) ([]sdk.PullRequest, error) {
	commit, err := azdoapi.CommitID(req.CommitID)
	if err != nil {
		return nil, err
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return nil, err
	}
	q := azdoapi.PullRequestQuery{Status: git.PullRequestStatusValues.Completed}
	// The committer date only narrows the search: a commit this repository
	// does not have (pull requests to a separate PR repository) is looked
	// for without it, and a repository that does not exist fails the list.
	gc, err := client.Commit(ctx, repo, commit)
	switch {
	case err == nil && gc.Committer != nil && gc.Committer.Date != nil && !gc.Committer.Date.Time.IsZero():
		q.ClosedAfter = gc.Committer.Date.Time.Add(-mergeWindow)
	case err != nil && sdk.KindOf(err) != sdk.KindNotFound:
		return nil, err
	}
	var found []sdk.PullRequest
	err = client.PullRequests(ctx, repo, q, func(page []git.GitPullRequest) bool {
		for _, pr := range page {
			if pr.LastMergeCommit == nil || pr.LastMergeCommit.CommitId == nil {
				continue
			}
			if merge := strings.ToLower(*pr.LastMergeCommit.CommitId); merge == commit || (len(commit) < len(merge) && strings.HasPrefix(merge, commit)) {
				found = append(found, pullRequest(pr, repo))
			}
		}
		return len(found) == 0
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// GetPullRequestProperty returns the $value of one property of a pull
// request.
func (r *Repository) GetPullRequestProperty(ctx context.Context, req sdk.GetPullRequestPropertyRequest) (string, bool, error) {
	number, err := azdoapi.PullRequestNumber(req.Number)
	if err != nil {
		return "", false, err
	}
	if strings.TrimSpace(req.Key) == "" {
		return "", false, sdk.InvalidInputf("no property name")
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return "", false, err
	}
	return client.PullRequestProperty(ctx, repo, number, req.Key)
}

var prStatuses = map[sdk.PullRequestState]git.PullRequestStatus{
	sdk.PullRequestStateUnspecified: git.PullRequestStatusValues.All,
	sdk.PullRequestActive:           git.PullRequestStatusValues.Active,
	sdk.PullRequestCompleted:        git.PullRequestStatusValues.Completed,
	sdk.PullRequestAbandoned:        git.PullRequestStatusValues.Abandoned,
}

// ListPullRequests lists the pull requests of a repository in a state
// (unspecified: any) closed at or after ClosedAfter (zero: any time). The
// service filters by closing time from API version 7.1 on; the plugin
// filters again, for older servers. Pages are read newest first until one
// is not full (see azdoapi.PullRequests for the page limit).
func (r *Repository) ListPullRequests(ctx context.Context, req sdk.ListPullRequestsRequest) ([]sdk.PullRequest, error) {
	status, ok := prStatuses[req.State]
	if !ok {
		return nil, sdk.InvalidInputf("unknown pull request state %d", req.State)
	}
	client, repo, err := r.reader(req.Config, req.Repository)
	if err != nil {
		return nil, err
	}
	var out []sdk.PullRequest
	err = client.PullRequests(ctx, repo, azdoapi.PullRequestQuery{Status: status, ClosedAfter: req.ClosedAfter},
		func(page []git.GitPullRequest) bool {
			for _, pr := range page {
				p := pullRequest(pr, repo)
				if !req.ClosedAfter.IsZero() && (p.ClosedAt.IsZero() || p.ClosedAt.Before(req.ClosedAfter)) {
					continue
				}
				out = append(out, p)
			}
			return true
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func pullRequest(pr git.GitPullRequest, repo string) sdk.PullRequest {
	p := sdk.PullRequest{Repository: repo}
	if pr.PullRequestId != nil {
		p.Number = int64(*pr.PullRequestId)
	}
	if pr.Title != nil {
		p.Title = *pr.Title
	}
	if pr.Status != nil {
		switch *pr.Status {
		case git.PullRequestStatusValues.Active:
			p.State = sdk.PullRequestActive
		case git.PullRequestStatusValues.Completed:
			p.State = sdk.PullRequestCompleted
		case git.PullRequestStatusValues.Abandoned:
			p.State = sdk.PullRequestAbandoned
		}
	}
	if pr.LastMergeCommit != nil && pr.LastMergeCommit.CommitId != nil {
		p.MergeCommitID = *pr.LastMergeCommit.CommitId
	}
	if pr.ClosedDate != nil {
		p.ClosedAt = pr.ClosedDate.Time
	}
	if pr.Repository != nil && pr.Repository.Name != nil {
		p.Repository = *pr.Repository.Name
	}
	return p
}
