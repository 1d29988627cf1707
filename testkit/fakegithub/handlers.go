package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gitops-connector/gitops-connector/testkit/commitgraph"
	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// route is a request matched to an operation of the fake.
type route struct {
	op          string
	owner, repo string
	ref         string // sha or ref path parameter
}

// match maps a path without EnterprisePrefix to an operation. Segments are
// unescaped one by one, so an escaped "/" stays inside its segment.
func match(method, escapedPath string) route {
	seg, ok := fakeapi.Segments(escapedPath)
	if !ok {
		return route{op: opUnknown}
	}
	if r, ok := matchApp(method, seg); ok {
		return r
	}
	if len(seg) < 4 || seg[0] != "repos" {
		return route{op: opUnknown}
	}
	r := route{owner: seg[1], repo: seg[2]}
	rest := seg[3:]
	switch {
	case method == http.MethodPost && len(rest) == 2 && rest[0] == "statuses":
		r.op, r.ref = OpCreateStatus, rest[1]
	case method == http.MethodGet && len(rest) == 2 && rest[0] == "commits":
		r.op, r.ref = OpGetCommit, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "commits" && rest[2] == "status":
		r.op, r.ref = OpGetCombined, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "commits" && rest[2] == "statuses":
		r.op, r.ref = OpListStatuses, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "commits" && rest[2] == "pulls":
		r.op, r.ref = OpPullsOfCommit, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "git" && rest[1] == "commits":
		r.op, r.ref = OpGitGetCommit, rest[2]
	case method == http.MethodGet && len(rest) == 2 && rest[0] == "compare":
		r.op, r.ref = OpCompare, rest[1]
	case method == http.MethodPost && len(rest) == 1 && rest[0] == "dispatches":
		r.op = OpDispatch
	default:
		r.op = opUnknown
	}
	return r
}

// answer is a response the fake writes.
type answer = fakeapi.Answer

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBodyLen))
	if err != nil {
		writeAnswer(w, answer{Status: http.StatusBadRequest, Body: errorBody("cannot read the request body", "")})
		return
	}
	path := r.URL.EscapedPath()
	prefix := ""
	if strings.HasPrefix(path, EnterprisePrefix+"/") {
		prefix, path = EnterprisePrefix, strings.TrimPrefix(path, EnterprisePrefix)
	}
	rt := match(r.Method, path)
	rec := Request{Operation: rt.op, Method: r.Method, Path: r.URL.EscapedPath(), Owner: rt.owner, Repo: rt.repo, Body: body}

	if err := specs[prefix].Validate(r, body); err != nil {
		s.record(&rec, err)
		writeAnswer(w, answer{Status: http.StatusBadRequest, Body: errorBody("Problems parsing the request: "+err.Error(), "https://docs.github.com/rest")})
		return
	}
	if rt.op == opUnknown {
		// Described by the API but not served by the fake.
		err := fmt.Errorf("%s %s: the fake does not serve this operation", r.Method, rec.Path)
		s.record(&rec, err)
		writeAnswer(w, answer{Status: http.StatusNotImplemented, Body: errorBody(err.Error(), "")})
		return
	}
	if rt.op == OpGetRepoInstallation || rt.op == OpCreateInstallationToken {
		a := answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest")}
		if s.app != nil {
			a = s.handleApp(rt, r)
		}
		rec.Answer = a.Status
		s.record(&rec, nil)
		writeAnswer(w, a)
		return
	}
	if auth := r.Header.Get("Authorization"); s.app != nil && looksLikeJWT(auth) {
		// GitHub refuses an app's JWT on repository calls: the client must
		// exchange it for an installation token first.
		s.record(&rec, fmt.Errorf("%s %s: the request carries the app's JWT, not an installation token", r.Method, rec.Path))
		writeAnswer(w, answer{Status: http.StatusUnauthorized, Body: errorBody("A JSON web token could not be used for this endpoint", "https://docs.github.com/rest")})
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		rec.Answer = http.StatusUnauthorized
		s.record(&rec, nil)
		writeAnswer(w, answer{Status: http.StatusUnauthorized, Body: errorBody("Bad credentials", "https://docs.github.com/rest")})
		return
	}

	n := s.faults.Count(rt.op)
	f := s.faults.Next(rt.op, Call{Operation: rt.op, Method: r.Method, Path: rec.Path, Owner: rt.owner, Repo: rt.repo, Ref: rt.ref, N: n})
	rec.Fault = f
	a, abandoned := fakeapi.Apply(r.Context(), s.closing, f, func() answer { return s.handle(rt, r, body) }, func(status int) any {
		return errorBody(http.StatusText(status), "https://docs.github.com/rest")
	})
	if abandoned {
		rec.Abandoned = true
		s.record(&rec, nil)
		return
	}
	rec.Answer = a.Status
	s.record(&rec, nil)
	writeAnswer(w, a)
}

func (s *Server) authorized(header string) bool {
	if s.token == "" {
		return true
	}
	if s.app != nil {
		s.mu.Lock()
		ok := s.app.installationToken(header)
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return fakeapi.Authorized(header, s.token)
}

// record logs a request; validationErr is what was wrong with a request
// GitHub would refuse, which the fake answered 400.
func (s *Server) record(rec *Request, validationErr error) {
	if validationErr != nil {
		rec.Answer = http.StatusBadRequest
	}
	s.log.Add(*rec, validationErr)
}

// handle carries out a valid, authenticated request.
func (s *Server) handle(rt route, r *http.Request, body []byte) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.repos[repoKey{rt.owner, rt.repo}]
	if !ok {
		return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest")}
	}
	switch rt.op {
	case OpCreateStatus:
		return s.createStatus(rt, repo, body)
	case OpGetCommit:
		c := repo.resolve(rt.ref)
		if c == nil {
			return answer{Status: http.StatusUnprocessableEntity, Body: errorBody("No commit found for SHA: "+rt.ref, "https://docs.github.com/rest/commits/commits#get-a-commit")}
		}
		return answer{Status: http.StatusOK, Body: repoCommitJSON(s.baseURL(r), rt, c)}
	case OpGitGetCommit:
		c := repo.resolve(rt.ref)
		if c == nil || c.ID != strings.ToLower(rt.ref) {
			return answer{Status: http.StatusNotFound, Body: errorBody("Not Found", "https://docs.github.com/rest/git/commits#get-a-commit-object")}
		}
		return answer{Status: http.StatusOK, Body: gitCommitJSON(c)}
	case OpGetCombined:
		c := repo.resolve(rt.ref)
		if c == nil {
			return answer{Status: http.StatusNotFound, Body: errorBody("No commit found for the ref "+rt.ref, "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference")}
		}
		return answer{Status: http.StatusOK, Body: combinedJSON(c.ID, repo.statuses[c.ID])}
	case OpListStatuses:
		return listStatuses(r, rt, repo)
	case OpPullsOfCommit:
		return pullsOfCommit(r, rt, repo)
	case OpCompare:
		return compare(s.baseURL(r), r, rt, repo)
	case OpDispatch:
		var in struct {
			EventType     string         `json:"event_type"`
			ClientPayload map[string]any `json:"client_payload"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return answer{Status: http.StatusBadRequest, Body: errorBody("Problems parsing JSON", "")}
		}
		repo.dispatches = append(repo.dispatches, Dispatch{
			Owner: rt.owner, Repo: rt.repo, EventType: in.EventType, ClientPayload: in.ClientPayload, Body: slices.Clone(body),
		})
		return answer{Status: http.StatusNoContent}
	}
	return answer{Status: http.StatusNotImplemented, Body: errorBody("not served by the fake", "")}
}

// createStatus stores a status. s.mu must be held.
func (s *Server) createStatus(rt route, repo *repository, body []byte) answer {
	c := repo.resolve(rt.ref)
	if c == nil {
		return answer{Status: http.StatusUnprocessableEntity, Body: errorBody("No commit found for SHA: "+rt.ref, "https://docs.github.com/rest/commits/statuses#create-a-commit-status")}
	}
	var in struct {
		State       string  `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return answer{Status: http.StatusBadRequest, Body: errorBody("Problems parsing JSON", "")}
	}
	st := Status{Owner: rt.owner, Repo: rt.repo, SHA: c.ID, State: in.State, Context: "default", CreatedAt: time.Now().UTC()}
	if in.TargetURL != nil {
		st.TargetURL = *in.TargetURL
	}
	if in.Description != nil {
		st.Description = *in.Description
	}
	if in.Context != nil {
		st.Context = *in.Context
	}
	// GitHub refuses longer descriptions.
	if utf8.RuneCountInString(st.Description) > 140 {
		return answer{Status: http.StatusUnprocessableEntity, Body: map[string]any{
			"message":           "Validation Failed",
			"errors":            []any{map[string]any{"resource": "Status", "code": "custom", "field": "description", "message": "description is too long (maximum is 140 characters)"}},
			"documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status",
		}}
	}
	s.nextID++
	st.ID = s.nextID
	repo.statuses[c.ID] = append(repo.statuses[c.ID], st)
	return answer{Status: http.StatusCreated, Body: statusJSON(st)}
}

func pullsOfCommit(r *http.Request, rt route, repo *repository) answer {
	sha := strings.ToLower(rt.ref)
	if c := repo.resolve(rt.ref); c != nil {
		sha = c.ID
	}
	prs, ok := repo.pulls[sha]
	if !ok && repo.resolve(rt.ref) == nil {
		return answer{Status: http.StatusUnprocessableEntity, Body: errorBody("No commit found for SHA: "+rt.ref, "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit")}
	}
	lo, hi, h := paginate(r, len(prs))
	out := make([]any, 0, hi-lo)
	for _, pr := range prs[lo:hi] {
		out = append(out, pullJSON(rt, pr))
	}
	return answer{Status: http.StatusOK, Header: h, Body: out}
}

// listStatuses answers the statuses of a commit newest first, as GitHub
// lists them, paginated. A commit the repository does not have has none.
func listStatuses(r *http.Request, rt route, repo *repository) answer {
	var all []Status
	if c := repo.resolve(rt.ref); c != nil {
		all = slices.Clone(repo.statuses[c.ID])
	}
	slices.Reverse(all)
	lo, hi, h := paginate(r, len(all))
	out := make([]any, 0, hi-lo)
	for _, st := range all[lo:hi] {
		out = append(out, statusJSON(st))
	}
	return answer{Status: http.StatusOK, Header: h, Body: out}
}

// paginate returns the bounds of the page of n items a request asks for
// (page, per_page: 30 by default, at most 100) and the Link header that
// names the next and last pages, as GitHub sets it.
func paginate(r *http.Request, n int) (lo, hi int, h http.Header) {
	perPage, page := 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	pages := max(1, (n+perPage-1)/perPage)
	lo = min(n, (page-1)*perPage)
	hi = min(n, lo+perPage)
	h = http.Header{}
	if page < pages {
		link := func(p int, rel string) string {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(p))
			q.Set("per_page", strconv.Itoa(perPage))
			return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.EscapedPath(), q.Encode(), rel)
		}
		h.Set("Link", link(page+1, "next")+", "+link(pages, "last"))
	}
	return lo, hi, h
}

func (s *Server) baseURL(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, EnterprisePrefix+"/") {
		return s.URL + EnterprisePrefix
	}
	return s.URL
}

func writeAnswer(w http.ResponseWriter, a answer) {
	fakeapi.Write(w, "application/json; charset=utf-8", a)
}

func errorBody(message, docURL string) map[string]any {
	m := map[string]any{"message": message}
	if docURL != "" {
		m["documentation_url"] = docURL
	}
	return m
}

var fakeUser = map[string]any{"login": "fake-bot", "id": 1, "type": "User"}

func statusJSON(st Status) map[string]any {
	return map[string]any{
		"id": st.ID, "node_id": fmt.Sprintf("SC_%d", st.ID),
		"state": st.State, "description": st.Description, "target_url": st.TargetURL, "context": st.Context,
		"created_at": st.CreatedAt.Format(time.RFC3339), "updated_at": st.CreatedAt.Format(time.RFC3339),
		"creator": fakeUser,
	}
}

func signature(date time.Time) map[string]any {
	if date.IsZero() {
		date = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return map[string]any{"name": "Fake Bot", "email": "fake-bot@example.com", "date": date.UTC().Format(time.RFC3339)}
}

func parentsJSON(c *commitgraph.Commit) []any {
	out := make([]any, 0, len(c.Parents))
	for _, p := range c.Parents {
		out = append(out, map[string]any{"sha": p})
	}
	return out
}

func repoCommitJSON(base string, rt route, c *commitgraph.Commit) map[string]any {
	return map[string]any{
		"sha": c.ID, "node_id": "C_" + c.ID,
		"url": fmt.Sprintf("%s/repos/%s/%s/commits/%s", base, rt.owner, rt.repo, c.ID),
		"commit": map[string]any{
			"message": c.Message, "author": signature(c.Date), "committer": signature(c.Date),
			"tree": map[string]any{"sha": strings.Repeat("0", 40)}, "comment_count": 0,
		},
		"author": fakeUser, "committer": fakeUser,
		"parents": parentsJSON(c),
		"files":   []any{},
	}
}

func gitCommitJSON(c *commitgraph.Commit) map[string]any {
	return map[string]any{
		"sha": c.ID, "node_id": "C_" + c.ID, "message": c.Message,
		"author": signature(c.Date), "committer": signature(c.Date),
		"tree":    map[string]any{"sha": strings.Repeat("0", 40)},
		"parents": parentsJSON(c),
	}
}

// combinedJSON is GitHub's combined status: the latest status per context
// (contexts are case-insensitive); failure when any is failure or error,
// pending when any is pending or there is none, else success.
func combinedJSON(sha string, all []Status) map[string]any {
	latest := map[string]Status{}
	var order []string
	for _, st := range all {
		k := strings.ToLower(st.Context)
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = st
	}
	state := "success"
	if len(order) == 0 {
		state = "pending"
	}
	statuses := make([]any, 0, len(order))
	for _, k := range order {
		st := latest[k]
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
		statuses = append(statuses, statusJSON(st))
	}
	return map[string]any{"state": state, "sha": sha, "total_count": len(statuses), "statuses": statuses}
}

func pullJSON(rt route, pr PullRequest) map[string]any {
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	state := pr.State
	if state == "" {
		state = "open"
	}
	return map[string]any{
		"id": pr.Number, "number": pr.Number, "state": state, "title": pr.Title,
		"merge_commit_sha": pr.MergeCommitSHA, "merged_at": ts(pr.MergedAt), "closed_at": ts(pr.ClosedAt),
		"user": fakeUser,
		"base": map[string]any{"ref": "main", "repo": map[string]any{"name": rt.repo, "full_name": rt.owner + "/" + rt.repo}},
	}
}
