package fakegitea

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/commitgraph"
	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// maxBody bounds the request body the fake reads.
const maxBody = 1 << 20

// route is a request matched to an operation of the fake.
type route struct {
	op, owner, repo string
	// ref is the sha, ref, basehead or workflow path parameter.
	ref string
}

// match maps a path below APIPrefix to an operation. Segments are unescaped
// one by one, so an escaped "/" stays inside its segment.
func match(method, escapedPath string) route {
	seg, ok := fakeapi.Segments(escapedPath)
	if !ok {
		return route{op: opUnknown}
	}
	if len(seg) < 4 || seg[0] != "repos" {
		return route{op: opUnknown}
	}
	r := route{owner: seg[1], repo: seg[2]}
	rest := seg[3:]
	switch {
	case method == http.MethodPost && len(rest) == 2 && rest[0] == "statuses":
		r.op, r.ref = OpCreateStatus, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "commits" && rest[2] == "statuses":
		r.op, r.ref = OpListStatuses, rest[1]
	case method == http.MethodGet && len(rest) == 3 && rest[0] == "git" && rest[1] == "commits":
		r.op, r.ref = OpGetCommit, rest[2]
	case method == http.MethodGet && len(rest) == 2 && rest[0] == "compare":
		r.op, r.ref = OpCompare, rest[1]
	case method == http.MethodPost && len(rest) == 4 && rest[0] == "actions" && rest[1] == "workflows" && rest[3] == "dispatches":
		r.op, r.ref = OpDispatch, rest[2]
	default:
		r.op = opUnknown
	}
	return r
}

// answer is a response the fake writes.
type answer = fakeapi.Answer

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeAnswer(w, answer{Status: http.StatusBadRequest, Body: apiError("cannot read the request body")})
		return
	}
	rt := route{op: opUnknown}
	if p, ok := strings.CutPrefix(r.URL.EscapedPath(), APIPrefix+"/"); ok {
		rt = match(r.Method, "/"+p)
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	rec := Request{Operation: rt.op, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, AuthScheme: scheme, Body: body}

	if err := spec.Validate(r, body); err != nil {
		s.record(&rec, http.StatusBadRequest, fmt.Errorf("request does not match the Gitea API description: %w", err))
		writeAnswer(w, answer{Status: http.StatusBadRequest, Body: apiError(err.Error())})
		return
	}
	if rt.op == opUnknown {
		err := fmt.Errorf("%s %s: described by the API but not served by the fake", r.Method, rec.Path)
		s.record(&rec, http.StatusNotImplemented, err)
		writeAnswer(w, answer{Status: http.StatusNotImplemented, Body: apiError(err.Error())})
		return
	}
	if !fakeapi.Authorized(r.Header.Get("Authorization"), s.token) {
		s.record(&rec, http.StatusUnauthorized, nil)
		writeAnswer(w, answer{Status: http.StatusUnauthorized, Body: apiError("user does not exist [uid: 0, name: ]")})
		return
	}
	n := s.faults.Count(rt.op)
	f := s.faults.Next(rt.op, Call{Operation: rt.op, Method: r.Method, Path: rec.Path, Owner: rt.owner, Repo: rt.repo, Ref: rt.ref, N: n})
	a, abandoned := fakeapi.Apply(r.Context(), s.closing, f, func() answer { return s.handle(rt, r, body) }, func(status int) any {
		return apiError(http.StatusText(status))
	})
	if abandoned {
		s.record(&rec, 0, nil)
		return
	}
	s.record(&rec, a.Status, nil)
	writeAnswer(w, a)
}

// record logs a request answered with status; err is what was wrong with
// it, if anything.
func (s *Server) record(rec *Request, status int, err error) {
	rec.Answer = status
	s.log.Add(*rec, err)
}

var notFound = answer{Status: http.StatusNotFound, Body: map[string]any{"errors": nil, "message": "The target couldn't be found.", "url": "https://gitea.example/api/swagger"}}

// handle carries out a valid, authenticated request.
func (s *Server) handle(rt route, r *http.Request, body []byte) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.repos[repoKey{rt.owner, rt.repo}]
	if !ok {
		return notFound
	}
	switch rt.op {
	case OpCreateStatus:
		return s.createStatus(rt, repo, body)
	case OpListStatuses:
		return listStatuses(r, repo.resolve(rt.ref), repo)
	case OpGetCommit:
		c := repo.resolve(rt.ref)
		if c == nil {
			return notFound
		}
		return answer{Status: http.StatusOK, Body: commitJSON(s.URL, rt, c)}
	case OpCompare:
		return s.compare(rt, repo)
	case OpDispatch:
		if !repo.workflows[rt.ref] {
			return notFound
		}
		var in struct {
			Ref    string            `json:"ref"`
			Inputs map[string]string `json:"inputs"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return answer{Status: http.StatusUnprocessableEntity, Body: apiError(err.Error())}
		}
		repo.dispatches = append(repo.dispatches, Dispatch{Owner: rt.owner, Repo: rt.repo, Workflow: rt.ref, Ref: in.Ref, Inputs: in.Inputs, Body: slices.Clone(body)})
		return answer{Status: http.StatusNoContent}
	}
	return answer{Status: http.StatusNotImplemented, Body: apiError("not served by the fake")}
}

// createStatus stores a status. s.mu must be held.
func (s *Server) createStatus(rt route, repo *repository, body []byte) answer {
	c := repo.resolve(rt.ref)
	if c == nil {
		return notFound
	}
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return answer{Status: http.StatusUnprocessableEntity, Body: apiError(err.Error())}
	}
	s.nextID++
	st := Status{
		ID: s.nextID, Index: int64(len(repo.statuses[c.ID]) + 1), Owner: rt.owner, Repo: rt.repo, SHA: c.ID,
		State: in.State, Description: in.Description, TargetURL: in.TargetURL, Context: in.Context, CreatedAt: time.Now().UTC(),
	}
	repo.statuses[c.ID] = append(repo.statuses[c.ID], st)
	return answer{Status: http.StatusCreated, Body: statusJSON(st)}
}

// listStatuses answers one page of a commit's statuses. Gitea answers an
// empty list for a commit it does not know.
func listStatuses(r *http.Request, c *commitgraph.Commit, repo *repository) answer {
	var all []Status
	if c != nil {
		all = slices.Clone(repo.statuses[c.ID])
	}
	q := r.URL.Query()
	if sort := q.Get("sort"); sort != "oldest" && sort != "leastindex" && sort != "leastupdate" {
		slices.Reverse(all)
	}
	if state := q.Get("state"); state != "" {
		all = slices.DeleteFunc(all, func(st Status) bool { return st.State != state })
	}
	limit, page := 30, 1
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = min(v, 50)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	lo := min(len(all), (page-1)*limit)
	out := make([]any, 0, limit)
	for _, st := range all[lo:min(len(all), lo+limit)] {
		out = append(out, statusJSON(st))
	}
	h := http.Header{"X-Total-Count": {strconv.Itoa(len(all))}}
	if pages := (len(all) + limit - 1) / limit; page < pages {
		link := func(p int, rel string) string {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(p))
			q.Set("limit", strconv.Itoa(limit))
			return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.EscapedPath(), q.Encode(), rel)
		}
		h.Set("Link", link(page+1, "next")+","+link(pages, "last"))
	}
	return answer{Status: http.StatusOK, Header: h, Body: out}
}

// compare answers base...head (from their merge base) or base..head, as
// Gitea's git log does: newest first, in one answer. s.mu must be held.
func (s *Server) compare(rt route, repo *repository) answer {
	base, head, ok := strings.Cut(rt.ref, "...")
	direct := false
	if !ok {
		if base, head, ok = strings.Cut(rt.ref, ".."); !ok {
			return notFound
		}
		direct = true
	}
	bc, hc := repo.resolve(base), repo.resolve(head)
	if bc == nil || hc == nil {
		return notFound
	}
	from := bc.ID
	if !direct {
		from = commitgraph.MergeBase(repo.commits.Lookup, bc.ID, hc.ID)
	}
	ids := commitgraph.Range(repo.commits.Lookup, from, hc.ID)
	commits := make([]any, 0, len(ids))
	for _, id := range ids {
		commits = append(commits, commitJSON(s.URL, rt, repo.commits.Get(id)))
	}
	return answer{Status: http.StatusOK, Body: map[string]any{"total_commits": len(ids), "commits": commits}}
}

func writeAnswer(w http.ResponseWriter, a answer) {
	fakeapi.Write(w, "application/json;charset=utf-8", a)
}

// apiError is Gitea's error body.
func apiError(message string) map[string]any {
	return map[string]any{"message": message, "url": "https://gitea.example/api/swagger"}
}

var fakeUser = map[string]any{"id": 1, "login": "fake-bot", "login_name": "", "full_name": "Fake Bot", "email": "fake-bot@example.com"}

func statusJSON(st Status) map[string]any {
	ts := st.CreatedAt.Format(time.RFC3339)
	return map[string]any{
		"id": st.ID, "status": st.State, "target_url": st.TargetURL, "description": st.Description,
		"url": "", "context": st.Context, "creator": fakeUser, "created_at": ts, "updated_at": ts,
	}
}

func commitJSON(base string, rt route, c *commitgraph.Commit) map[string]any {
	apiURL := fmt.Sprintf("%s%s/repos/%s/%s/git/commits/%s", base, APIPrefix, rt.owner, rt.repo, c.ID)
	who := map[string]any{"name": "Fake Bot", "email": "fake-bot@example.com", "date": c.Date.Format(time.RFC3339)}
	parents := make([]any, 0, len(c.Parents))
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{"sha": p, "url": fmt.Sprintf("%s%s/repos/%s/%s/git/commits/%s", base, APIPrefix, rt.owner, rt.repo, p)})
	}
	return map[string]any{
		"sha": c.ID, "url": apiURL, "html_url": fmt.Sprintf("%s/%s/%s/commit/%s", base, rt.owner, rt.repo, c.ID),
		"created": c.Date.Format(time.RFC3339),
		"commit": map[string]any{
			"url": apiURL, "message": c.Message, "author": who, "committer": who,
			"tree": map[string]any{"sha": strings.Repeat("0", 40), "url": ""},
		},
		"author": fakeUser, "committer": fakeUser, "parents": parents,
	}
}
