// Package repository is the repository capability for GitHub: commit
// statuses on the manifests repository, commits, and the pull requests a
// commit merged.
//
// ListPullRequests is not offered: GitHub has no "abandoned" pull request
// state and no orchestrator of this plugin needs the list (the Azure
// Pipelines orchestrator sweeps Azure Repos pull requests). Pull request
// properties do not exist on GitHub. Both answer sdk.ErrUnimplemented.
package repository

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

// MaxDescription is the longest description GitHub accepts on a commit
// status, in characters.
const MaxDescription = 140

// maxPullPages bounds the pages of pull requests read for one commit (100
// per page): a merge commit belongs to very few pull requests.
const maxPullPages = 10

// Repository implements sdk.Repository for GitHub.
type Repository struct {
	sdk.UnimplementedRepository
	clients *ghapi.Clients
}

// New returns the repository capability using clients.
func New(clients *ghapi.Clients) *Repository {
	return &Repository{clients: clients}
}

// ValidateConfig checks gitHubOrgUrl, gitHubGitOpsManifestsRepoName and the
// credential; a GitHub App must get an installation token for the
// manifests repository.
func (r *Repository) ValidateConfig(ctx context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	s, errs := settings.ForRepository(cfg)
	if errs = append(errs, ghapi.ValidateCredential(cfg)...); len(errs) > 0 {
		return errs, nil
	}
	return r.clients.CheckApp(ctx, cfg, s), nil
}

// PostStatus posts one commit status on the manifests repository: POST
// /repos/{owner}/{repo}/statuses/{sha}. A repeat posts the same status again,
// which GitHub shows once (the latest status per context counts).
func (r *Repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	s, errs := settings.ForRepository(req.Config)
	if len(errs) > 0 {
		return settings.ConfigError(req.Config, errs)
	}
	sha, err := ghapi.CommitID(req.CommitID)
	if err != nil {
		return err
	}
	state, err := State(req.Status.State)
	if err != nil {
		return err
	}
	if req.Status.Name == "" {
		return sdk.InvalidInputf("status of commit %s has no name", req.CommitID)
	}
	client, err := r.clients.For(req.Config, s)
	if err != nil {
		return err
	}
	status := &github.RepoStatus{
		State:       github.String(state),
		Description: github.String(Truncate(req.Status.Description, MaxDescription)),
		Context:     github.String(req.Status.Name),
	}
	if s.AppURL != "" {
		status.TargetURL = github.String(s.AppURL)
	}
	if err := createStatus(ctx, client, s.Owner, s.ManifestsRepo, sha, status); err != nil {
		return ghapi.Classify(err, ghapi.Call{
			Action:        fmt.Sprintf("post status %q (%s) on %s/%s@%s", req.Status.Name, state, s.Owner, s.ManifestsRepo, sha),
			Repo:          s.Owner + "/" + s.ManifestsRepo,
			RepoField:     settings.ManifestsRepo,
			Needs:         ghapi.NeedsStatuses,
			Unprocessable: fmt.Sprintf("check that commit %s is in repository %s/%s", sha, s.Owner, s.ManifestsRepo),
		}, req.Config.Token)
	}
	return nil
}

// createStatus is go-github's RepositoriesService.CreateStatus without
// decoding GitHub's answer: the plugin uses nothing of it, and decoding the
// status with its creator was half of the plugin's own processor time per
// status. The body is still read to its end, so the connection is kept for
// the next call; errors (non-2xx) are go-github's, rate limits included.
// sha is already escaped for a path (ghapi.CommitID).
func createStatus(ctx context.Context, client *github.Client, owner, repo, sha string, status *github.RepoStatus) error {
	req, err := client.NewRequest(http.MethodPost, "repos/"+owner+"/"+repo+"/statuses/"+sha, status)
	if err != nil {
		return err
	}
	_, err = client.Do(ctx, req, io.Discard)
	return err
}

// GetCommit reads a commit: GET /repos/{owner}/{repo}/commits/{ref}.
func (r *Repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	c, err := r.commitRead(req.Config, req.Repository, req.CommitID)
	if err != nil {
		return sdk.Commit{}, err
	}
	rc, _, err := c.client.Repositories.GetCommit(ctx, c.owner, c.repo, c.sha, nil)
	if err != nil {
		return sdk.Commit{}, c.classify(err, "read commit", ghapi.NeedsContents)
	}
	return commit(rc)
}

// FindPullRequests lists the pull requests merged by a commit: GET
// /repos/{owner}/{repo}/commits/{sha}/pulls, keeping those whose merge
// commit is the commit (GitHub also lists pull requests that merely contain
// it).
func (r *Repository) FindPullRequests(ctx context.Context, req sdk.FindPullRequestsRequest) ([]sdk.PullRequest, error) {
	c, err := r.commitRead(req.Config, req.Repository, req.CommitID)
	if err != nil {
		return nil, err
	}
	var out []sdk.PullRequest
	opts := &github.ListOptions{PerPage: 100}
	for range maxPullPages {
		prs, resp, err := c.client.PullRequests.ListPullRequestsWithCommit(ctx, c.owner, c.repo, c.sha, opts)
		if err != nil {
			return nil, c.classify(err, "list the pull requests of commit", ghapi.NeedsPulls)
		}
		for _, pr := range prs {
			// The id may be abbreviated; GitHub reports full ids.
			if strings.HasPrefix(strings.ToLower(pr.GetMergeCommitSHA()), strings.ToLower(req.CommitID)) {
				out = append(out, pullRequest(pr, c.repo))
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// commitRead is a read of one commit of a repository: the client and what
// the messages of its errors name.
type commitRead struct {
	client *github.Client
	// owner/repo is the repository; field the config field or request
	// field it came from.
	owner, repo, field string
	// sha is the commit id, escaped for a request path.
	sha   string
	token string
}

// commitRead resolves the repository a read names ("" is the manifests
// repository), the commit id and the config's client.
func (r *Repository) commitRead(cfg sdk.Config, name, commitID string) (commitRead, error) {
	s, errs := settings.ForRepository(cfg)
	if name != "" {
		// Reading another repository of the owner needs only the org URL.
		errs = dropField(errs, settings.ManifestsRepo)
	}
	if len(errs) > 0 {
		return commitRead{}, settings.ConfigError(cfg, errs)
	}
	c := commitRead{owner: s.Owner, repo: s.ManifestsRepo, field: settings.ManifestsRepo, token: cfg.Token}
	if name != "" {
		if err := settings.CheckRepoName(name); err != nil {
			return commitRead{}, sdk.InvalidInput(fmt.Errorf("repository: %w", err))
		}
		c.repo, c.field = name, "the requested repository"
	}
	var err error
	if c.sha, err = ghapi.CommitID(commitID); err != nil {
		return commitRead{}, err
	}
	if c.client, err = r.clients.For(cfg, s); err != nil {
		return commitRead{}, err
	}
	return c, nil
}

// classify wraps the error of a call that did action ("read commit") on the
// commit, with the token permission it needs.
func (c commitRead) classify(err error, action, needs string) error {
	return ghapi.Classify(err, ghapi.Call{
		Action:        fmt.Sprintf("%s %s/%s@%s", action, c.owner, c.repo, c.sha),
		Repo:          c.owner + "/" + c.repo,
		RepoField:     c.field,
		Needs:         needs,
		Unprocessable: fmt.Sprintf("check that commit %s is in repository %s/%s", c.sha, c.owner, c.repo),
	}, c.token)
}

func dropField(errs []sdk.FieldError, field string) []sdk.FieldError {
	out := errs[:0:0]
	for _, e := range errs {
		if e.Field != field {
			out = append(out, e)
		}
	}
	return out
}

func pullRequest(pr *github.PullRequest, repo string) sdk.PullRequest {
	out := sdk.PullRequest{
		Number:        int64(pr.GetNumber()),
		Title:         pr.GetTitle(),
		MergeCommitID: pr.GetMergeCommitSHA(),
		ClosedAt:      pr.GetClosedAt().Time,
		Repository:    repo,
	}
	switch {
	case pr.GetState() == "open":
		out.State = sdk.PullRequestActive
	case pr.MergedAt != nil:
		out.State = sdk.PullRequestCompleted
	default:
		out.State = sdk.PullRequestAbandoned
	}
	return out
}

// State maps a normalized state to GitHub's commit status state (behavior.md
// §5): GitHub has no "not applicable", so it shows as success.
func State(s sdk.State) (string, error) {
	switch s {
	case sdk.StateSucceeded, sdk.StateNotApplicable:
		return "success", nil
	case sdk.StateFailed:
		return "failure", nil
	case sdk.StateError:
		return "error", nil
	case sdk.StatePending:
		return "pending", nil
	}
	return "", sdk.InvalidInputf("status state %q has no GitHub state", s)
}

// Truncate cuts s to at most n characters without splitting one.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s // n bytes are at most n characters
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
