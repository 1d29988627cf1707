package fakegithub

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/testkit/commitgraph"
)

// compareLimit is how many commits GitHub lists when the request has no
// paging parameter: the newest ones of the comparison.
const compareLimit = 250

// compare answers GET /repos/{owner}/{repo}/compare/{base}...{head} as
// GitHub does: the commits of git log base..head in chronological order.
// s.mu must be held.
func compare(base string, r *http.Request, rt route, repo *repository) answer {
	baseRef, headRef, ok := strings.Cut(rt.ref, "...")
	if !ok {
		return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")}
	}
	bc, hc := repo.resolve(baseRef), repo.resolve(headRef)
	if bc == nil || hc == nil {
		return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")}
	}
	lookup := repo.commits.Lookup
	ahead := commitgraph.Range(lookup, bc.ID, hc.ID)
	behind := commitgraph.Range(lookup, hc.ID, bc.ID)
	slices.Reverse(ahead) // chronological
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	q := r.URL.Query()
	page, list := ahead, ahead
	h := http.Header{}
	if q.Has("page") || q.Has("per_page") {
		var lo, hi int
		lo, hi, h = paginate(r, len(list))
		page = list[lo:hi]
	} else if len(list) > compareLimit {
		page = list[len(list)-compareLimit:]
	}
	commits := make([]any, 0, len(page))
	for _, id := range page {
		commits = append(commits, repoCommitJSON(base, rt, repo.commits.Get(id)))
	}
	mergeBase := bc
	if status == "diverged" {
		if id := commitgraph.MergeBase(lookup, bc.ID, hc.ID); id != "" {
			mergeBase = repo.commits.Get(id)
		}
	}
	url := fmt.Sprintf("%s/repos/%s/%s/compare/%s", base, rt.owner, rt.repo, rt.ref)
	return answer{Status: http.StatusOK, Header: h, Body: map[string]any{
		"url": url, "html_url": url, "permalink_url": url, "diff_url": url + ".diff", "patch_url": url + ".patch",
		"base_commit":       repoCommitJSON(base, rt, bc),
		"merge_base_commit": repoCommitJSON(base, rt, mergeBase),
		"status":            status,
		"ahead_by":          len(ahead),
		"behind_by":         len(behind),
		"total_commits":     len(ahead),
		"commits":           commits,
		"files":             []any{},
	}}
}
