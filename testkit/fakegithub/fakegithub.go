// Package fakegithub is an in-process fake of the GitHub REST API endpoints
// the connector uses: commit statuses, commits, pull requests of a commit and
// repository_dispatch. Plugin tests, the end-to-end tests (host and plugin
// processes) and fault-injection tests all talk to it over real HTTP.
//
// Every request the fake receives is validated against the official API
// description (testkit/apispec, github-subset.json). A request that does not
// match is recorded in Errors and answered with 400, so a client that would
// be rejected by GitHub fails its test: call AssertValid, or use Start, which
// does so when the test ends.
//
// The fake keeps the state a test asserts on: repositories, commits and their
// messages, statuses posted per commit in order, dispatch events received and
// pull requests per commit. It checks the Authorization header against its
// token ("Bearer <token>" or "token <token>", as GitHub accepts both).
// WithApp makes it a GitHub App too (app.go): it serves the installation
// lookup and token exchange, verifies the app's JWTs and accepts the
// installation tokens it issued, which tests can revoke or let expire.
//
// Faults are injected per request, deterministically (FailNext, Fail with a
// function of the call) or at random with a fixed seed (Random): 5xx answers,
// primary and secondary rate limits, 429 with Retry-After, slow or hanging
// answers (for client timeouts) and lost responses (the change is made, the
// client sees an error).
//
// It serves both URL layouts: github.com's (URL + "/repos/...") and GitHub
// Enterprise Server's (URL + "/api/v3/repos/..."). All methods are safe for
// concurrent use.
package fakegithub

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
const DefaultToken = "ghp_fakeGitHubToken0123456789abcdefABCDEF"

// EnterprisePrefix is the path prefix of the GitHub Enterprise Server layout.
const EnterprisePrefix = "/api/v3"

// The operations the fake serves, named by their operationId in the API
// description. Request.Operation, Call.Operation and FailNext use them.
// Every operation answers 404 for a repository that does not exist.
const (
	// OpCreateStatus is POST /repos/{owner}/{repo}/statuses/{sha}: 201 and
	// the status is stored; 422 for an unknown commit or a description
	// longer than 140 characters.
	OpCreateStatus = "repos/create-commit-status"
	// OpGetCommit is GET /repos/{owner}/{repo}/commits/{ref}: the commit by
	// id or unique prefix; 422 for an unknown commit.
	OpGetCommit = "repos/get-commit"
	// OpGetCombined is GET /repos/{owner}/{repo}/commits/{ref}/status: the
	// latest status per context and their combined state.
	OpGetCombined = "repos/get-combined-status-for-ref"
	// OpGitGetCommit is GET /repos/{owner}/{repo}/git/commits/{commit_sha}:
	// the commit by full id; 404 otherwise.
	OpGitGetCommit = "git/get-commit"
	// OpDispatch is POST /repos/{owner}/{repo}/dispatches: 204 and the
	// event is stored.
	OpDispatch = "repos/create-dispatch-event"
	// OpCompare is GET /repos/{owner}/{repo}/compare/{basehead}: the
	// commits reachable from head and not from base (git log base..head),
	// in chronological order, with status, ahead_by, behind_by and
	// total_commits; paginated (page, per_page, Link header) when asked,
	// else the newest 250. 404 when either commit is unknown.
	OpCompare = "repos/compare-commits-with-basehead"
	// OpListStatuses is GET /repos/{owner}/{repo}/commits/{ref}/statuses:
	// the statuses posted for the commit, newest first, paginated (page,
	// per_page, Link header); none for an unknown commit.
	OpListStatuses = "repos/list-commit-statuses-for-ref"
	// OpPullsOfCommit is GET /repos/{owner}/{repo}/commits/{sha}/pulls: the
	// pull requests set with SetPullRequests, paginated (page, per_page,
	// Link header); 422 for a commit that is unknown and has none.
	OpPullsOfCommit = "repos/list-pull-requests-associated-with-commit"
)

const (
	// opUnknown marks a request the fake does not serve.
	opUnknown = "unknown"
	// maxRecordedBodyLen bounds the request body the fake reads.
	maxRecordedBodyLen = 1 << 20
)

// Status is one commit status the fake received, as GitHub stores it.
type Status struct {
	ID          int64
	Owner, Repo string
	// SHA is the full commit id the status was posted for.
	SHA         string
	State       string
	Description string
	TargetURL   string
	Context     string
	CreatedAt   time.Time
}

// Dispatch is one repository_dispatch event the fake received.
type Dispatch struct {
	Owner, Repo string
	EventType   string
	// ClientPayload is the decoded client_payload (nil when absent).
	ClientPayload map[string]any
	// Body is the request body as sent.
	Body []byte
}

// PullRequest is a pull request associated with a commit.
type PullRequest struct {
	Number int
	Title  string
	// State is "open" or "closed".
	State string
	// MergeCommitSHA is the commit that merged it (GitHub also sets it on
	// open pull requests: the test merge commit).
	MergeCommitSHA string
	// MergedAt is set when the pull request was merged.
	MergedAt time.Time
	// ClosedAt is set when the pull request was closed or merged.
	ClosedAt time.Time
}

// Request is one request the fake received, as a test inspects it.
type Request struct {
	// Operation is the operationId (OpCreateStatus, ...), or "unknown".
	Operation string
	Method    string
	// Path is the escaped request path including any EnterprisePrefix.
	Path        string
	Owner, Repo string
	Body        []byte
	// Answer is the HTTP status the fake answered with (0 when abandoned).
	Answer int
	// Fault is the injected fault, if any.
	Fault *Fault
	// Abandoned is true when the client gave up before a delayed answer
	// (the request had no effect).
	Abandoned bool
}

type repoKey struct{ owner, repo string }

type repository struct {
	commits    commitgraph.Graph
	statuses   map[string][]Status
	pulls      map[string][]PullRequest
	dispatches []Dispatch
}

// Server is a running fake. Create it with Start or New.
type Server struct {
	// URL is the base URL of the github.com layout, e.g.
	// http://127.0.0.1:41234. GitHub Enterprise clients use
	// URL + EnterprisePrefix.
	URL string

	ts        *httptest.Server
	token     string
	app       *appState // nil unless WithApp
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

// WithToken sets the token the fake requires in the Authorization header.
// An empty token turns the check off.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// Start starts a fake for a test. It fails the test when the fake cannot
// start; when the test ends it closes the fake and reports every request that
// did not match the API description (AssertValid).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("fakegithub: %v", err)
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
	for _, spec := range specs {
		if err := spec.Load(); err != nil {
			return nil, err
		}
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.ts.URL
	return s, nil
}

// specServer is the server URL the API description is loaded with: one
// loaded description serves every fake of the process.
const specServer = "http://api.fakegithub.invalid"

// specs are the API description of each layout, by path prefix: "" or
// EnterprisePrefix.
var specs = map[string]*fakeapi.Spec{
	"":               {Name: "GitHub", File: apispec.GitHub, Server: specServer},
	EnterprisePrefix: {Name: "GitHub", File: apispec.GitHub, Server: specServer + EnterprisePrefix},
}

// Close stops the fake. Requests held back by a fault's Delay end at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.Close()
	})
}

// Token returns the token the fake requires ("" when it checks none).
func (s *Server) Token() string { return s.token }

// OrgURL returns the connector's gitHubOrgUrl for owner in the github.com
// layout: URL + "/repos/" + owner.
func (s *Server) OrgURL(owner string) string { return s.URL + "/repos/" + owner }

// EnterpriseOrgURL returns the connector's gitHubOrgUrl for owner in the
// GitHub Enterprise layout: URL + "/api/v3/repos/" + owner.
func (s *Server) EnterpriseOrgURL(owner string) string {
	return s.URL + EnterprisePrefix + "/repos/" + owner
}

// AddRepo creates a repository. Requests to a repository that does not
// exist are answered 404, like GitHub does for a repository the token cannot
// see. SetCommit creates the repository too.
func (s *Server) AddRepo(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo)
}

// SetCommit creates (or replaces) a commit with its message and parent ids
// in a repository, creating the repository when needed. GitHub accepts
// statuses only for commits that exist, so tests set every commit they post
// statuses for. The commit's committer date is the time of the call.
func (s *Server) SetCommit(owner, repo, sha, message string, parents ...string) {
	s.SetCommitAt(owner, repo, sha, message, time.Now().UTC(), parents...)
}

// SetCommitAt is SetCommit with a committer date. Commits form a graph by
// their parent ids; the compare operation walks it.
func (s *Server) SetCommitAt(owner, repo, sha, message string, date time.Time, parents ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo).commits.Set(sha, message, date, parents...)
}

// SetPullRequests sets the pull requests associated with a commit (GET
// /repos/{owner}/{repo}/commits/{sha}/pulls), creating the repository when
// needed.
func (s *Server) SetPullRequests(owner, repo, sha string, prs ...PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo).pulls[strings.ToLower(sha)] = slices.Clone(prs)
}

// Statuses returns the statuses posted for a commit of a repository, in the
// order received. sha may be any unique prefix of a commit set with
// SetCommit.
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

// Dispatches returns the repository_dispatch events a repository received,
// in order.
func (s *Server) Dispatches(owner, repo string) []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[repoKey{owner, repo}]; ok {
		return slices.Clone(r.dispatches)
	}
	return nil
}

// AllDispatches returns the repository_dispatch events of every repository.
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
// API description, in order.
func (s *Server) Errors() []error { return s.log.Errors() }

// AssertValid fails the test for every request that did not match the API
// description.
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	s.log.AssertValid(t, "fakegithub: request does not match the GitHub API description: ")
}

// repo returns a repository, creating it. s.mu must be held.
func (s *Server) repo(owner, name string) *repository {
	k := repoKey{owner, name}
	r, ok := s.repos[k]
	if !ok {
		r = &repository{
			statuses: map[string][]Status{},
			pulls:    map[string][]PullRequest{},
		}
		s.repos[k] = r
	}
	return r
}

// resolve finds a commit by its id or a unique prefix of at least 4
// characters, as GitHub resolves refs; nil when none or several match.
func (r *repository) resolve(ref string) *commitgraph.Commit { return r.commits.Resolve(ref, 4) }
