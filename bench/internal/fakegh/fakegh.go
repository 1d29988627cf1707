// Package fakegh is a minimal fake of the GitHub REST API calls the GitHub
// plugin makes while delivering events — commit statuses, reading a commit,
// repository_dispatch — built to be cheap under load and to time what it
// receives.
//
// The benchmark does not use testkit/fakegithub: that fake validates every
// request against the GitHub API description (kin-openapi) and keeps every
// request, which costs about 0.7 ms of CPU per request against 0.07 ms for a
// bare handler. At 1000 statuses/s it would take most of a 2-core machine
// from the host it is meant to measure. The e2e tests already prove the
// requests valid; this fake checks only what the benchmark relies on: the
// token, the route, and a JSON body with a state and a context.
//
// Every commit exists: a status is accepted for any hex commit id, and a
// commit reads with a merge message naming a deploy branch, so the
// connector's dispatch has a run id and a source commit. A comparison of
// two commits lists the head alone, its parent the base: every deployment
// follows the one before, so the connector finds no skipped commit but
// makes the call it makes for each new deployment. Delay holds every
// answer back, as a slow API does.
package fakegh

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Token is the token the fake accepts.
const Token = "ghp_benchFakeToken0123456789abcdefABCDEF"

// Status is one commit status received.
type Status struct {
	Owner, Repo string
	SHA         string
	State       string
	Context     string
	Description string
	// At is when the request arrived (before any Delay), with the monotonic
	// clock reading.
	At time.Time
}

// Dispatch is one repository_dispatch received.
type Dispatch struct {
	Owner, Repo string
	EventType   string
	SHA         string // client_payload.sha
	At          time.Time
}

// Server is a running fake.
type Server struct {
	// URL is the base URL: the connector's gitHubOrgUrl is URL +
	// "/repos/" + owner.
	URL string

	srv   *http.Server
	delay atomic.Int64
	conns atomic.Int64
	reqs  atomic.Int64
	// wait holds an answer back for d or until ctx ends.
	wait func(ctx context.Context, d time.Duration) error

	mu         sync.Mutex
	statuses   []Status
	dispatches []Dispatch
	rejected   []string
}

// Start serves the fake on a loopback port. Close it when done.
func Start() (*Server, error) { return start(sleep) }

func start(wait func(context.Context, time.Duration) error) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), wait: wait}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the fake; answers held back by Delay end at once.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("close the fake GitHub: %w", err)
	}
	return nil
}

// OrgURL is the connector's gitHubOrgUrl for owner.
func (s *Server) OrgURL(owner string) string { return s.URL + "/repos/" + owner }

// SetDelay makes every later answer wait d (0: answer at once).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int64 { return s.conns.Load() }

// Requests is the number of requests received so far.
func (s *Server) Requests() int64 { return s.reqs.Load() }

// Statuses returns the statuses received, in arrival order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}

// StatusCount is len(Statuses()) without the copy.
func (s *Server) StatusCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.statuses)
}

// Dispatches returns the repository_dispatch events received, in arrival
// order.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dispatches)
}

// DispatchCount is len(Dispatches()) without the copy.
func (s *Server) DispatchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dispatches)
}

// Rejected lists the requests answered with an error, as "METHOD path:
// reason", in order.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// Reset forgets the statuses, dispatches and rejected requests received.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses, s.dispatches, s.rejected = nil, nil, nil
}

var (
	statusPath   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/statuses/([0-9a-fA-F]{7,64})$`)
	commitPath   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/commits/([0-9a-fA-F]{7,64})$`)
	dispatchPath = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/dispatches$`)
	comparePath  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/compare/([0-9a-fA-F]{7,64})\.\.\.([0-9a-fA-F]{7,64})$`)
)

// maxBody bounds a request body; GitHub's own limits are far above what the
// connector sends.
const maxBody = 1 << 20

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	s.reqs.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, "cannot read the body")
		return
	}
	if !authorized(r.Header.Get("Authorization")) {
		s.reject(w, r, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		if s.wait(r.Context(), d) != nil {
			return // the client gave up
		}
	}
	path := r.URL.EscapedPath()
	switch m := match(r.Method, path); {
	case m.route == routeStatus:
		s.createStatus(w, r, m, body, at)
	case m.route == routeCommit:
		writeJSON(w, http.StatusOK, commitJSON(m.sha))
	case m.route == routeCompare:
		head := commitJSON(m.sha)
		head["parents"] = []any{map[string]any{"sha": strings.ToLower(m.base)}}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ahead", "ahead_by": 1, "total_commits": 1, "commits": []any{head}})
	case m.route == routeDispatch:
		s.dispatch(w, r, m, body, at)
	default:
		s.reject(w, r, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request, m matched, body []byte, at time.Time) {
	var in struct {
		State       string `json:"state"`
		Context     string `json:"context"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.State == "" || in.Context == "" {
		s.reject(w, r, http.StatusUnprocessableEntity, "Validation Failed: a status needs a state and a context")
		return
	}
	s.mu.Lock()
	s.statuses = append(s.statuses, Status{Owner: m.owner, Repo: m.repo, SHA: strings.ToLower(m.sha),
		State: in.State, Context: in.Context, Description: in.Description, At: at})
	id := len(s.statuses)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "state": in.State, "context": in.Context, "description": in.Description})
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, m matched, body []byte, at time.Time) {
	var in struct {
		EventType     string `json:"event_type"`
		ClientPayload struct {
			SHA string `json:"sha"`
		} `json:"client_payload"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.EventType == "" {
		s.reject(w, r, http.StatusUnprocessableEntity, "Validation Failed: a dispatch needs an event_type")
		return
	}
	s.mu.Lock()
	s.dispatches = append(s.dispatches, Dispatch{Owner: m.owner, Repo: m.repo, EventType: in.EventType, SHA: in.ClientPayload.SHA, At: at})
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request, code int, message string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, fmt.Sprintf("%s %s: %d %s", r.Method, r.URL.EscapedPath(), code, message))
	s.mu.Unlock()
	writeJSON(w, code, map[string]string{"message": message})
}

type route int

const (
	routeNone route = iota
	routeStatus
	routeCommit
	routeDispatch
	routeCompare
)

type matched struct {
	route       route
	owner, repo string
	sha         string
	// base is the base commit of a comparison (sha its head).
	base string
}

func match(method, path string) matched {
	switch method {
	case http.MethodPost:
		if m := statusPath.FindStringSubmatch(path); m != nil {
			return matched{route: routeStatus, owner: m[1], repo: m[2], sha: m[3]}
		}
		if m := dispatchPath.FindStringSubmatch(path); m != nil {
			return matched{route: routeDispatch, owner: m[1], repo: m[2]}
		}
	case http.MethodGet:
		if m := commitPath.FindStringSubmatch(path); m != nil {
			return matched{route: routeCommit, owner: m[1], repo: m[2], sha: m[3]}
		}
		if m := comparePath.FindStringSubmatch(path); m != nil {
			return matched{route: routeCompare, owner: m[1], repo: m[2], base: m[3], sha: m[4]}
		}
	}
	return matched{}
}

func authorized(header string) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	return ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) && cred == Token
}

// mergeMessage is the message every commit reads with: GitHub's merge
// message of the CD workflow's pull request from deploy/<run id>/<source
// commit>, the source commit being the commit itself.
func mergeMessage(sha string) string {
	return "Merge pull request #12 from kaizentm/deploy/4242424242/" + strings.ToLower(sha) + "\n\nDeploy hello-world"
}

func commitJSON(sha string) map[string]any {
	sha = strings.ToLower(sha)
	return map[string]any{
		"sha":     sha,
		"commit":  map[string]any{"message": mergeMessage(sha)},
		"parents": []any{},
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
