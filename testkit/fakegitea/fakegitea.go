// Package fakegitea is an in-process fake of the Gitea (and Forgejo) REST
// API endpoints the connector's Gitea plugin uses: commit statuses (post,
// list), commits, the comparison of two commits and workflow dispatch.
// Plugin tests and the end-to-end tests talk to it over real HTTP.
//
// Every request the fake receives is validated against Gitea's own API
// description (testkit/apispec, gitea-subset.openapi3.json). A request that
// does not match is recorded in Errors and answered with 400 (and one the
// fake does not serve with 501), so a client Gitea would reject fails its
// test: call AssertValid, or use Start, which does so when the test ends.
//
// The fake keeps what a test asserts on: repositories, commits (a graph of
// parents, walked by the comparison), the statuses posted per commit in
// order, the workflows a repository has and the dispatches they received.
// It checks the Authorization header against its token ("token <token>",
// or "Bearer <token>", as Gitea accepts both) and records the scheme.
//
// Faults are injected per call (FailNext, Fail): error answers with any
// headers (Retry-After), slow or hanging answers, and lost answers (the
// change is made, the client sees an error). All methods are safe for
// concurrent use.
package fakegitea

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/apispec"
	"github.com/gitops-connector/gitops-connector/testkit/commitgraph"
	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// DefaultToken is the token a Server accepts unless WithToken says otherwise.
const DefaultToken = "gitea_fakeToken0123456789abcdef0123456789ab"

// APIPrefix is the path of the API below the server's URL.
const APIPrefix = "/api/v1"

// The operations the fake serves, named by their operationId in the API
// description. Every operation answers 404 for a repository that does not
// exist.
const (
	// OpCreateStatus is POST /repos/{owner}/{repo}/statuses/{sha}: 201 and
	// the status is stored; 404 for an unknown commit.
	OpCreateStatus = "repoCreateStatus"
	// OpListStatuses is GET /repos/{owner}/{repo}/commits/{ref}/statuses:
	// the statuses of a commit, newest first (oldest first with
	// sort=oldest or leastindex), paged by page and limit (default 30, at
	// most 50) with X-Total-Count and Link headers.
	OpListStatuses = "repoListStatusesByRef"
	// OpGetCommit is GET /repos/{owner}/{repo}/git/commits/{sha}: the
	// commit by id or unique prefix; 404 otherwise.
	OpGetCommit = "repoGetSingleCommit"
	// OpCompare is GET /repos/{owner}/{repo}/compare/{basehead}: for
	// base...head the commits of git log <merge base>..head, for base..head
	// those of git log base..head, newest first, all in one answer (Gitea
	// does not page it); 404 when either commit is unknown.
	OpCompare = "repoCompareDiff"
	// OpDispatch is POST
	// /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches:
	// 204 and the dispatch is stored; 404 for a workflow the repository
	// does not have (AddWorkflow).
	OpDispatch = "ActionsDispatchWorkflow"
)

const opUnknown = "unknown"

// Status is one commit status the fake received, as Gitea stores it.
type Status struct {
	// ID is unique in the fake; Index counts the statuses of the commit
	// from 1, as Gitea's index does.
	ID, Index   int64
	Owner, Repo string
	// SHA is the full commit id the status was posted for.
	SHA                                    string
	State, Description, TargetURL, Context string
	CreatedAt                              time.Time
}

// Dispatch is one workflow dispatch the fake received.
type Dispatch struct {
	Owner, Repo, Workflow, Ref string
	Inputs                     map[string]string
	// Body is the request body as sent.
	Body []byte
}

// Request is one request the fake received.
type Request struct {
	// Operation is the operationId (OpCreateStatus, ...), or "unknown".
	Operation string
	Method    string
	// Path is the escaped request path, APIPrefix included; Query the
	// query string.
	Path, Query string
	// AuthScheme is the scheme of the Authorization header ("token",
	// "Bearer"), "" when none was sent.
	AuthScheme string
	Body       []byte
	// Answer is the HTTP status the fake answered with (0 when abandoned).
	Answer int
}

type repoKey struct{ owner, repo string }

type repository struct {
	commits    commitgraph.Graph
	statuses   map[string][]Status
	workflows  map[string]bool
	dispatches []Dispatch
}

// Server is a running fake. Create it with Start or New.
type Server struct {
	// URL is the server's address, what the plugin's giteaUrl names, e.g.
	// http://127.0.0.1:41234; the API is at URL + APIPrefix.
	URL string

	ts        *httptest.Server
	token     string
	closing   chan struct{}
	closeOnce sync.Once

	faults fakeapi.Faults[string, Call, Fault]
	log    fakeapi.Log[Request]

	mu     sync.Mutex // guards the rest
	repos  map[repoKey]*repository
	nextID int64
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the token the fake requires; "" turns the check off.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// Start starts a fake for a test. When the test ends it closes the fake
// and reports every request that did not match the API description.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("fakegitea: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		s.AssertValid(t)
	})
	return s
}

// New starts a fake. The caller must Close it.
func New(opts ...Option) (*Server, error) {
	s := &Server{
		token:   DefaultToken,
		closing: make(chan struct{}),
		repos:   map[repoKey]*repository{},
	}
	for _, o := range opts {
		o(s)
	}
	if err := spec.Load(); err != nil {
		return nil, err
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.ts.URL
	return s, nil
}

// spec is the API description, loaded with a server URL of its own: one
// loaded description serves every fake of the process.
var spec = &fakeapi.Spec{Name: "Gitea", File: apispec.Gitea, Server: "http://gitea.fakegitea.invalid" + APIPrefix}

// Close stops the fake. Requests held back by a fault's Delay end at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.Close()
	})
}

// Token returns the token the fake requires ("" when it checks none).
func (s *Server) Token() string { return s.token }

// AddRepo creates a repository. SetCommit and AddWorkflow create it too.
func (s *Server) AddRepo(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo)
}

// SetCommit creates (or replaces) a commit with its message and parents,
// committed now.
func (s *Server) SetCommit(owner, repo, sha, message string, parents ...string) {
	s.SetCommitAt(owner, repo, sha, message, time.Now().UTC(), parents...)
}

// SetCommitAt is SetCommit with a committer date.
func (s *Server) SetCommitAt(owner, repo, sha, message string, date time.Time, parents ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo).commits.Set(sha, message, date, parents...)
}

// AddWorkflow gives a repository a workflow file (e.g. "sync-success.yaml")
// that can be dispatched.
func (s *Server) AddWorkflow(owner, repo, file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo).workflows[file] = true
}

// Statuses returns the statuses posted for a commit (by id or unique
// prefix), in the order received.
func (s *Server) Statuses(owner, repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[repoKey{owner, repo}]
	if !ok {
		return nil
	}
	if c := r.resolve(sha); c != nil {
		sha = c.ID
	}
	return slices.Clone(r.statuses[strings.ToLower(sha)])
}

// AllStatuses returns every status posted to any repository, in the order
// received.
func (s *Server) AllStatuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []Status
	for _, r := range s.repos {
		for _, sts := range r.statuses {
			all = append(all, sts...)
		}
	}
	slices.SortFunc(all, func(a, b Status) int { return int(a.ID - b.ID) })
	return all
}

// Dispatches returns the workflow dispatches a repository received, in
// order.
func (s *Server) Dispatches(owner, repo string) []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[repoKey{owner, repo}]; ok {
		return slices.Clone(r.dispatches)
	}
	return nil
}

// AllDispatches returns the dispatches of every repository.
func (s *Server) AllDispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []Dispatch
	for _, r := range s.repos {
		all = append(all, r.dispatches...)
	}
	return all
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request { return s.log.Requests() }

// Calls returns the requests received for one operation, in order.
func (s *Server) Calls(operation string) []Request {
	return s.log.Filter(func(r Request) bool { return r.Operation == operation })
}

// Errors returns what was wrong with the requests that did not match the
// API description or that the fake does not serve, in order.
func (s *Server) Errors() []error { return s.log.Errors() }

// AssertValid fails the test for every request that did not match the API
// description or that the fake does not serve.
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	s.log.AssertValid(t, "fakegitea: ")
}

// repo returns a repository, creating it. s.mu must be held.
func (s *Server) repo(owner, name string) *repository {
	k := repoKey{owner, name}
	r, ok := s.repos[k]
	if !ok {
		r = &repository{statuses: map[string][]Status{}, workflows: map[string]bool{}}
		s.repos[k] = r
	}
	return r
}

// resolve finds a commit by its id or a unique prefix of at least 7
// characters; nil when none or several match.
func (r *repository) resolve(ref string) *commitgraph.Commit { return r.commits.Resolve(ref, 7) }
