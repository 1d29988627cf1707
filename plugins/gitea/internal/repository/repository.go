// Package repository is the repository capability for Gitea and Forgejo:
// commit statuses on the manifests repository, commits, the commits between
// two commits and the latest statuses of a commit.
//
// Pull requests are not offered (sdk.ErrUnimplemented): no orchestrator of
// this plugin needs them.
package repository

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Repository implements sdk.Repository for Gitea and Forgejo.
type Repository struct {
	sdk.UnimplementedRepository
	api *giteaapi.Client
}

// New returns the repository capability calling the API through api.
func New(api *giteaapi.Client) *Repository {
	return &Repository{api: api}
}

// ValidateConfig checks giteaUrl, giteaOwner and giteaGitOpsManifestsRepoName.
func (r *Repository) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	_, errs := settings.ForRepository(cfg)
	return errs, nil
}

// PostStatus posts one commit status on the manifests repository: POST
// /repos/{owner}/{repo}/statuses/{sha}. A repeat posts the same status
// again, which Gitea shows once (the latest status per context counts).
func (r *Repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	t, err := r.target(req.Config, "", req.CommitID)
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
	body := map[string]string{"state": state, "context": req.Status.Name, "description": req.Status.Description}
	if t.s.AppURL != "" {
		body["target_url"] = t.s.AppURL
	}
	_, err = r.api.Do(ctx, t.call(http.MethodPost, fmt.Sprintf("post status %q (%s) on", req.Status.Name, state), giteaapi.NeedsStatuses, body, nil, "statuses", t.sha), nil)
	return err
}

// commitJSON is a commit as Gitea answers it (api.Commit), the fields read.
type commitJSON struct {
	SHA    string `json:"sha"`
	Commit struct {
		Message   string `json:"message"`
		Committer struct {
			Date string `json:"date"`
		} `json:"committer"`
	} `json:"commit"`
	Parents []struct {
		SHA string `json:"sha"`
	} `json:"parents"`
}

func (c commitJSON) commit() sdk.Commit {
	out := sdk.Commit{ID: c.SHA, Message: c.Commit.Message}
	if d, err := time.Parse(time.RFC3339, c.Commit.Committer.Date); err == nil {
		out.CommittedAt = d
	}
	for _, p := range c.Parents {
		out.ParentIDs = append(out.ParentIDs, p.SHA)
	}
	return out
}

// GetCommit reads a commit: GET /repos/{owner}/{repo}/git/commits/{sha},
// without the diff statistics, verification and files Gitea would compute.
func (r *Repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	t, err := r.target(req.Config, req.Repository, req.CommitID)
	if err != nil {
		return sdk.Commit{}, err
	}
	q := url.Values{"stat": {"false"}, "verification": {"false"}, "files": {"false"}}
	var c commitJSON
	if _, err := r.api.Do(ctx, t.call(http.MethodGet, "read commit", giteaapi.NeedsRead, nil, q, "git", "commits", t.sha), &c); err != nil {
		return sdk.Commit{}, err
	}
	if !sdk.ValidCommitID(c.SHA) {
		return sdk.Commit{}, sdk.Permanent(fmt.Errorf("read commit %s: the answer names no commit (%.80q)", t.sha, c.SHA))
	}
	return c.commit(), nil
}

// ListCommits lists the commits reachable from the head and not from the
// base, newest first: GET /repos/{owner}/{repo}/compare/{base}...{head},
// which Gitea answers with git log <merge base>..head in one answer (it
// has no pages). Only the newest commits up to the request's limit are
// kept; the list is truncated when there were more. A head that is an
// ancestor of the base lists nothing; a base that is not an ancestor of the
// head lists what head has beyond their merge base, and the host tells
// that case from the parents.
func (r *Repository) ListCommits(ctx context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	t, err := r.target(req.Config, req.Repository, req.HeadCommitID)
	if err != nil {
		return sdk.CommitList{}, err
	}
	if err := sdk.CheckCommitID("base commit id", req.BaseCommitID); err != nil {
		return sdk.CommitList{}, err
	}
	var cmp struct {
		TotalCommits int          `json:"total_commits"`
		Commits      []commitJSON `json:"commits"`
	}
	if _, err := r.api.Do(ctx, t.call(http.MethodGet, "compare "+req.BaseCommitID+" with", giteaapi.NeedsRead, nil, nil, "compare", req.BaseCommitID+"..."+t.sha), &cmp); err != nil {
		return sdk.CommitList{}, err
	}
	limit := req.Limit()
	out := sdk.CommitList{Truncated: max(cmp.TotalCommits, len(cmp.Commits)) > limit}
	for _, c := range cmp.Commits[:min(len(cmp.Commits), limit)] {
		out.Commits = append(out.Commits, c.commit())
	}
	return out, nil
}

// statusPageSize is the most statuses Gitea answers per page by default
// (its [api] MAX_RESPONSE_ITEMS).
const statusPageSize = 50

// maxStatusPages bounds the statuses read of one commit: the connector
// posts a few contexts per deployment, each a few times.
const maxStatusPages = 20

// ListStatuses lists the latest status of every context of a commit: GET
// /repos/{owner}/{repo}/commits/{sha}/statuses, newest first
// (sort=highestindex), page by page, keeping the first status seen of each
// context.
func (r *Repository) ListStatuses(ctx context.Context, req sdk.ListStatusesRequest) ([]sdk.CommitStatus, error) {
	t, err := r.target(req.Config, req.Repository, req.CommitID)
	if err != nil {
		return nil, err
	}
	var out []sdk.CommitStatus
	seen := map[string]bool{}
	read := 0
	for page := 1; page <= maxStatusPages; page++ {
		q := url.Values{"sort": {"highestindex"}, "page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(statusPageSize)}}
		var statuses []struct {
			Status      string    `json:"status"`
			Context     string    `json:"context"`
			Description string    `json:"description"`
			UpdatedAt   time.Time `json:"updated_at"`
		}
		h, err := r.api.Do(ctx, t.call(http.MethodGet, "list the statuses of", giteaapi.NeedsRead, nil, q, "commits", t.sha, "statuses"), &statuses)
		if err != nil {
			return nil, err
		}
		for _, st := range statuses {
			if seen[st.Context] {
				continue
			}
			seen[st.Context] = true
			out = append(out, sdk.CommitStatus{Name: st.Context, State: StateOf(st.Status), Description: st.Description, UpdatedAt: st.UpdatedAt})
		}
		read += len(statuses)
		total, err := strconv.Atoi(h.Get("X-Total-Count"))
		if len(statuses) == 0 || (err == nil && read >= total) || (err != nil && len(statuses) < statusPageSize) {
			break
		}
	}
	return out, nil
}

// target is the repository and commit a call is about.
type target struct {
	s     settings.Settings
	token string
	// repo is the repository's name, field the config field or request
	// field it came from.
	repo, field string
	sha         string
}

// target resolves the repository a request names ("" is the manifests
// repository) and checks the commit id.
func (r *Repository) target(cfg sdk.Config, name, commitID string) (target, error) {
	s, errs := settings.ForRepository(cfg)
	if name != "" {
		// Reading another repository of the owner needs no manifests
		// repository.
		errs = dropField(errs, settings.ManifestsRepo)
	}
	if len(errs) > 0 {
		return target{}, settings.ConfigError(cfg, errs)
	}
	t := target{s: s, token: cfg.Token, repo: s.ManifestsRepo, field: settings.ManifestsRepo, sha: commitID}
	if name != "" {
		if err := settings.CheckName(name); err != nil {
			return target{}, sdk.InvalidInput(fmt.Errorf("repository: %w", err))
		}
		t.repo, t.field = name, "the requested repository"
	}
	if err := sdk.CheckCommitID("commit id", commitID); err != nil {
		return target{}, err
	}
	return t, nil
}

// call is an API call on the target's repository: path below
// /repos/{owner}/{repo}.
func (t target) call(method, action, needs string, body any, q url.Values, path ...string) giteaapi.Call {
	full := t.s.Owner + "/" + t.repo
	return giteaapi.Call{
		API: t.s.API, Token: t.token, Method: method,
		Path: append([]string{"repos", t.s.Owner, t.repo}, path...), Query: q, Body: body,
		Action: fmt.Sprintf("%s %s@%s", action, full, t.sha), Repo: full, RepoField: t.field, Needs: needs,
	}
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

// State maps a normalized state to a Gitea commit status state. Gitea has
// "skipped" only since 1.24 and Forgejo not at all, so "not applicable"
// shows as success, as on GitHub.
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
	return "", sdk.InvalidInputf("status state %q has no Gitea state", s)
}

// StateOf maps a Gitea commit status state back: "warning" (which the
// connector never posts) counts as an error, "skipped" as not applicable,
// anything unknown as pending.
func StateOf(s string) sdk.State {
	switch s {
	case "success":
		return sdk.StateSucceeded
	case "failure":
		return sdk.StateFailed
	case "error", "warning":
		return sdk.StateError
	case "skipped":
		return sdk.StateNotApplicable
	}
	return sdk.StatePending
}
