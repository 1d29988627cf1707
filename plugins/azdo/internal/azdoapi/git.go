package azdoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// gitAPIVersion is the version the library's Git client asks for; the
// library negotiates it down for older servers.
const gitAPIVersion = "7.1-preview.1"

// pullRequestsLocation is the resource location of a repository's pull
// requests (the library's git.GetPullRequests uses the same id).
var pullRequestsLocation = uuid.MustParse("9946fd70-0d40-406e-b686-b4744cbbcc37")

// Paging of pull request lists.
const (
	pageSize = 100
	// maxPages bounds one listing to the 2,000 newest pull requests: with
	// the service's closing-time filter a listing is one page; servers that
	// ignore it list newest first, and a pull request closed recently is
	// among the newest.
	maxPages = 20
)

// PostStatus posts one commit status on a repository.
func (c *Client) PostStatus(ctx context.Context, repo, commit string, st git.GitStatus) error {
	what := fmt.Sprintf("post status on commit %s of repository %s", commit, repo)
	g, err := c.gitClient(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ctx, n := withNote(ctx)
	_, err = g.CreateCommitStatus(ctx, git.CreateCommitStatusArgs{
		GitCommitStatusToCreate: &st,
		CommitId:                &commit,
		RepositoryId:            &repo,
		Project:                 &c.project,
	})
	return classify(ctx, what, err, n)
}

// maxStatuses is the most statuses one listing asks for: the service's
// default and the most it answers at once.
const maxStatuses = 1000

// Statuses lists the latest status of every context ({name, genre}) of a
// commit: GET …/commits/{commitId}/statuses with latestOnly, newest first.
func (c *Client) Statuses(ctx context.Context, repo, commit string) ([]git.GitStatus, error) {
	what := fmt.Sprintf("list the statuses of commit %s of repository %s", commit, repo)
	g, err := c.gitClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, n := withNote(ctx)
	top, latest := maxStatuses, true
	sts, err := g.GetStatuses(ctx, git.GetStatusesArgs{
		CommitId: &commit, RepositoryId: &repo, Project: &c.project, Top: &top, LatestOnly: &latest,
	})
	if err != nil {
		return nil, classify(ctx, what, err, n)
	}
	return *sts, nil
}

// Commit reads one commit of a repository.
func (c *Client) Commit(ctx context.Context, repo, commit string) (*git.GitCommit, error) {
	what := fmt.Sprintf("read commit %s of repository %s", commit, repo)
	g, err := c.gitClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ctx, n := withNote(ctx)
	gc, err := g.GetCommit(ctx, git.GetCommitArgs{CommitId: &commit, RepositoryId: &repo, Project: &c.project})
	if err != nil {
		return nil, classify(ctx, what, err, n)
	}
	return gc, nil
}

// PullRequestProperty returns the $value of one property of a pull
// request: the string itself, or the JSON text of any other value. found
// is false when the pull request has no such property.
func (c *Client) PullRequestProperty(ctx context.Context, repo string, number int, key string) (value string, found bool, err error) {
	what := fmt.Sprintf("read the properties of pull request %d of repository %s", number, repo)
	g, err := c.gitClient(ctx)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	ctx, n := withNote(ctx)
	raw, err := g.GetPullRequestProperties(ctx, git.GetPullRequestPropertiesArgs{RepositoryId: &repo, PullRequestId: &number, Project: &c.project})
	if err != nil {
		return "", false, classify(ctx, what, err, n)
	}
	// {"count": 1, "value": {"<key>": {"$type": "System.String", "$value": "..."}}}
	doc, _ := raw.(map[string]any)
	props, _ := doc["value"].(map[string]any)
	entry, ok := props[key].(map[string]any)
	if !ok {
		return "", false, nil
	}
	v, ok := entry["$value"]
	if !ok || v == nil {
		return "", false, nil
	}
	if s, ok := v.(string); ok {
		return s, true, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, fmt.Errorf("%s: property %s: %w", what, key, err)
	}
	return string(b), true, nil
}

// PullRequestQuery selects pull requests of a repository.
type PullRequestQuery struct {
	// Status is active, completed, abandoned or all.
	Status git.PullRequestStatus
	// ClosedAfter, when set, asks the service for pull requests closed at
	// or after it. Servers before API version 7.1 ignore the filter, so
	// callers filter again.
	ClosedAfter time.Time
}

// PullRequests lists pull requests page by page, newest first as the
// service orders them, and calls visit with each page until visit returns
// false, a page is not full, or maxPages pages were read.
func (c *Client) PullRequests(ctx context.Context, repo string, q PullRequestQuery, visit func([]git.GitPullRequest) bool) error {
	what := fmt.Sprintf("list the %s pull requests of repository %s", q.Status, repo)
	g, err := c.gitClient(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for page := range maxPages {
		query := url.Values{}
		query.Set("searchCriteria.status", string(q.Status))
		if !q.ClosedAfter.IsZero() {
			query.Set("searchCriteria.queryTimeRangeType", "closed")
			query.Set("searchCriteria.minTime", q.ClosedAfter.UTC().Format(time.RFC3339))
		}
		query.Set("$top", strconv.Itoa(pageSize))
		query.Set("$skip", strconv.Itoa(page*pageSize))
		pctx, n := withNote(ctx)
		resp, err := g.Client.Send(pctx, http.MethodGet, pullRequestsLocation, gitAPIVersion,
			map[string]string{"project": c.project, "repositoryId": repo}, query, nil, "", "application/json", nil)
		if err != nil {
			return classify(pctx, what, err, n)
		}
		var prs []git.GitPullRequest
		if err := g.Client.UnmarshalCollectionBody(resp, &prs); err != nil {
			return classify(pctx, fmt.Sprintf("%s: read page %d", what, page+1), err, n)
		}
		if !visit(prs) || len(prs) < pageSize {
			return nil
		}
	}
	sdk.Logger().Warn("stopped listing pull requests after the page limit", "repository", repo, "status", string(q.Status), "pages", maxPages)
	return nil
}

// CommitsBetween lists the ids of the commits of repo reachable from head
// and not from base, newest first, page by page: POST …/commitsbatch with
// itemVersion head and compareVersion base (the service lists the history
// of itemVersion that compareVersion does not reach). It reads at most limit
// ids and reports whether there were more. The service's entries are
// shallow: no parents, the comment possibly cut; read each commit for them.
func (c *Client) CommitsBetween(ctx context.Context, repo, base, head string, limit int) (ids []string, truncated bool, err error) {
	what := fmt.Sprintf("list the commits of repository %s between %s and %s", repo, base, head)
	g, err := c.gitClient(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	commitType := git.GitVersionTypeValues.Commit
	criteria := git.GitQueryCommitsCriteria{
		ItemVersion:    &git.GitVersionDescriptor{Version: &head, VersionType: &commitType},
		CompareVersion: &git.GitVersionDescriptor{Version: &base, VersionType: &commitType},
	}
	for skip := 0; ; {
		// One more than the limit tells whether there are more.
		top := min(pageSize, limit+1-skip)
		pctx, n := withNote(ctx)
		page, err := g.GetCommitsBatch(pctx, git.GetCommitsBatchArgs{
			SearchCriteria: &criteria, RepositoryId: &repo, Project: &c.project, Top: &top, Skip: &skip,
		})
		if err != nil {
			return nil, false, classify(pctx, what, err, n)
		}
		for _, ref := range *page {
			if ref.CommitId != nil {
				ids = append(ids, *ref.CommitId)
			}
		}
		skip += len(*page)
		if len(*page) < top || skip > limit {
			break
		}
	}
	if len(ids) > limit {
		return ids[:limit], true, nil
	}
	return ids, false, nil
}
