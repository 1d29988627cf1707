package fakeazdo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Route names one operation of the fake: the operationId of the API
// description where there is one.
type Route string

// The operations the fake serves.
const (
	// RouteLocations is OPTIONS {organization}/_apis: the resource
	// locations (location discovery; not in the API description).
	RouteLocations Route = "OPTIONS _apis"
	// RouteResourceAreas is GET {organization}/_apis/ResourceAreas
	// (resource-area discovery; not in the API description).
	RouteResourceAreas Route = "ResourceAreas"
	// RouteCreateStatus posts a commit status.
	RouteCreateStatus Route = "Statuses_Create"
	// RouteListStatuses lists a commit's statuses, newest first: top
	// (default 1000), skip, and latestOnly (the newest of each {name,
	// genre}).
	RouteListStatuses Route = "Statuses_List"
	// RouteGetCommit reads a commit.
	RouteGetCommit Route = "Commits_Get"
	// RoutePullRequestProperties lists a pull request's properties.
	RoutePullRequestProperties Route = "Pull Request Properties_List"
	// RouteListPullRequests lists a repository's pull requests.
	RouteListPullRequests Route = "Pull Requests_Get Pull Requests"
	// RouteCommitsBatch lists commits by search criteria (POST
	// commitsbatch): the fake serves itemVersion with compareVersion.
	RouteCommitsBatch Route = "Commits_Get Commits Batch"
	// RouteGetPlan reads a plan (not in the API description).
	RouteGetPlan Route = "get plan"
	// RoutePostEvent posts an event to a plan.
	RoutePostEvent Route = "Events_Post Event"
	// RouteGetTimeline reads a build's timeline.
	RouteGetTimeline Route = "Timeline_Get"
)

// pattern is one route: a method and path segments after the path prefix.
// "{name}" segments capture a value; other segments are literals matched
// case-insensitively, as Azure DevOps does, and are written in the API
// description's spelling when the request is validated.
type pattern struct {
	route    Route
	method   string
	segments []string
	// byHand means the operation is not in the API description and is
	// validated by checkByHand.
	byHand bool
	// alias appends segments for validation: the description knows the
	// operation only with them.
	alias []string
}

// nilTimeline stands for the optional {timelineId} the service serves
// without (the description marks it required).
const nilTimeline = "00000000-0000-0000-0000-000000000000"

var patterns = []pattern{
	{route: RouteLocations, method: http.MethodOptions, segments: split("{org}/_apis"), byHand: true},
	{route: RouteResourceAreas, method: http.MethodGet, segments: split("{org}/_apis/ResourceAreas"), byHand: true},
	{route: RouteResourceAreas, method: http.MethodGet, segments: split("{org}/_apis/ResourceAreas/{areaId}"), byHand: true},
	{route: RouteCreateStatus, method: http.MethodPost, segments: split("{org}/{project}/_apis/git/repositories/{repo}/commits/{commit}/statuses")},
	{route: RouteListStatuses, method: http.MethodGet, segments: split("{org}/{project}/_apis/git/repositories/{repo}/commits/{commit}/statuses")},
	{route: RouteGetCommit, method: http.MethodGet, segments: split("{org}/{project}/_apis/git/repositories/{repo}/commits/{commit}")},
	{route: RouteCommitsBatch, method: http.MethodPost, segments: split("{org}/{project}/_apis/git/repositories/{repo}/commitsbatch")},
	{route: RoutePullRequestProperties, method: http.MethodGet, segments: split("{org}/{project}/_apis/git/repositories/{repo}/pullRequests/{pr}/properties")},
	{route: RouteListPullRequests, method: http.MethodGet, segments: split("{org}/{project}/_apis/git/repositories/{repo}/pullrequests")},
	{route: RouteGetPlan, method: http.MethodGet, segments: split("{org}/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}"), byHand: true},
	{route: RoutePostEvent, method: http.MethodPost, segments: split("{org}/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/events")},
	{route: RouteGetTimeline, method: http.MethodGet, segments: split("{org}/{project}/_apis/build/builds/{build}/timeline/{timeline}")},
	{route: RouteGetTimeline, method: http.MethodGet, segments: split("{org}/{project}/_apis/build/builds/{build}/timeline"), alias: []string{nilTimeline}},
}

func split(p string) []string { return strings.Split(p, "/") }

// match is a routed request.
type match struct {
	pattern *pattern
	params  map[string]string
	// canonical is the escaped path in the description's spelling.
	canonical string
}

// route finds the pattern of a request path (escaped, prefix removed).
func route(method, escapedPath string) (*match, bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i := range patterns {
		p := &patterns[i]
		if p.method != method || len(p.segments) != len(segs) {
			continue
		}
		params := map[string]string{}
		canon := make([]string, len(segs), len(segs)+len(p.alias))
		ok := true
		for j, want := range p.segments {
			if strings.HasPrefix(want, "{") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(want, "{}")] = v
				canon[j] = segs[j]
				continue
			}
			if !strings.EqualFold(want, segs[j]) {
				ok = false
				break
			}
			canon[j] = want
		}
		if ok {
			canon = append(canon, p.alias...)
			return &match{pattern: p, params: params, canonical: "/" + strings.Join(canon, "/")}, true
		}
	}
	return nil, false
}

const maxBody = 1 << 20

// ServeHTTP records, validates, authenticates, applies faults and handles
// one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if session := r.Header.Get("X-TFS-Session"); session != "" {
		w.Header().Set("X-TFS-Session", session) // the service echoes the client's session
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var routed Route
	defer func() {
		s.log.Add(Request{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Route: routed, Status: rec.status, Identity: rec.identity}, nil)
	}()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(rec, http.StatusBadRequest, "the request body could not be read or is too large")
		return
	}
	escaped := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(escaped, s.opts.PathPrefix+"/")
	if !ok {
		s.reject(rec, fmt.Errorf("%s %s: outside the path prefix %q", r.Method, escaped, s.opts.PathPrefix))
		return
	}
	m, ok := route(r.Method, rest)
	if !ok {
		// Let the description name what is wrong.
		err := s.validator.Validate(s.validationRequest(r, escaped, body))
		if err == nil {
			err = fmt.Errorf("%s %s: the fake does not serve this operation", r.Method, escaped)
		}
		s.reject(rec, err)
		return
	}
	routed = m.pattern.route
	if m.pattern.byHand {
		err = checkByHand(m, r, body)
	} else {
		err = s.validator.Validate(s.validationRequest(r, s.opts.PathPrefix+m.canonical, body))
	}
	if err != nil {
		s.reject(rec, err)
		return
	}
	identity, ok := s.authenticate(r)
	if !ok {
		writeError(rec, http.StatusUnauthorized, "TF400813: The user is not authorized to access this resource.")
		return
	}
	rec.identity = identity
	var f Fault
	fault := s.faults.Next(routed, routed)
	faulted := fault != nil
	if faulted {
		f = *fault
	}
	if faulted && f.Delay > 0 && !s.hold(r.Context(), routed, f.Delay) {
		return
	}
	if faulted && f.Status != 0 && !f.Applied {
		writeFault(rec, f)
		return
	}
	if faulted && f.Status != 0 {
		s.handle(&discard{header: http.Header{}}, r, m, body)
		writeFault(rec, f)
		return
	}
	s.handle(rec, r, m, body)
}

// reject records an invalid request and answers 400.
func (s *Server) reject(w http.ResponseWriter, err error) {
	s.log.AddError(err)
	writeError(w, http.StatusBadRequest, "fakeazdo: "+err.Error())
}

// validationRequest is the request as the API description spells it: the
// canonical path, and the api-version of the Accept header (the
// azure-devops-go-api library sends it there, which the service accepts as
// well as the query parameter) in the query.
func (s *Server) validationRequest(r *http.Request, escapedPath string, body []byte) *http.Request {
	u := *r.URL
	u.Scheme, u.Host = "http", strings.TrimPrefix(s.srv.URL, "http://")
	u.RawPath = escapedPath
	if p, err := url.PathUnescape(escapedPath); err == nil {
		u.Path = p
	}
	if v := headerAPIVersion(r.Header); v != "" && !r.URL.Query().Has("api-version") {
		q := u.Query()
		q.Set("api-version", v)
		u.RawQuery = q.Encode()
	}
	c := r.Clone(r.Context())
	c.URL = &u
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}

// headerAPIVersion returns the api-version parameter of the Accept header.
func headerAPIVersion(h http.Header) string {
	for _, accept := range h.Values("Accept") {
		for _, part := range strings.Split(accept, ",") {
			if _, params, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && params["api-version"] != "" {
				return params["api-version"]
			}
		}
	}
	return ""
}

func apiVersion(r *http.Request) string {
	if v := r.URL.Query().Get("api-version"); v != "" {
		return v
	}
	return headerAPIVersion(r.Header)
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkByHand validates the operations the API description lacks: location
// and resource-area discovery, and reading a plan.
func checkByHand(m *match, r *http.Request, body []byte) error {
	op := fmt.Sprintf("%s %s (%s)", r.Method, r.URL.Path, m.pattern.route)
	var errs []error
	if len(body) > 0 {
		errs = append(errs, errors.New("has a body"))
	}
	switch m.pattern.route {
	case RouteLocations:
		if r.URL.RawQuery != "" {
			errs = append(errs, fmt.Errorf("unexpected query %q", r.URL.RawQuery))
		}
	case RouteResourceAreas:
		if apiVersion(r) == "" {
			errs = append(errs, errors.New("no api-version (query or Accept header)"))
		}
		if id, ok := m.params["areaId"]; ok && !uuidRE.MatchString(id) {
			errs = append(errs, fmt.Errorf("area id %q is not a UUID", id))
		}
	case RouteGetPlan:
		if apiVersion(r) == "" {
			errs = append(errs, errors.New("no api-version (query or Accept header)"))
		}
		if !uuidRE.MatchString(m.params["project"]) {
			errs = append(errs, fmt.Errorf("scope identifier %q is not a project id (UUID)", m.params["project"]))
		}
		if !uuidRE.MatchString(m.params["plan"]) {
			errs = append(errs, fmt.Errorf("plan id %q is not a UUID", m.params["plan"]))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", op, errors.Join(errs...))
	}
	return nil
}

// recorder keeps the status written.
type recorder struct {
	http.ResponseWriter
	status   int
	identity string
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// discard is the writer of a request whose answer is lost.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// IdentityPAT is Request.Identity of a request authenticated with the PAT.
const IdentityPAT = "PAT"

// authenticate returns who sent r: IdentityPAT for the Basic
// authentication of the PAT (empty user, the PAT as password), or what
// Options.Bearer says of an "Authorization: Bearer" access token.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		return IdentityPAT, user == "" && pass == s.opts.Token
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || s.opts.Bearer == nil {
		return "", false
	}
	return s.opts.Bearer(strings.TrimSpace(token))
}
