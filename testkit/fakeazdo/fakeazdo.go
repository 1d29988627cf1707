// Package fakeazdo is an in-process fake of the Azure DevOps REST API for
// tests: commit statuses, commits, pull requests and their properties,
// pipeline plans, build timelines and plan events, plus the location and
// resource-area discovery that the azure-devops-go-api library performs
// before its first call.
//
// Every request is checked against the official API description
// (../shared/apispecs, through package apispec; discovery and reading a plan,
// which it lacks, by hand). A request the description does not accept is
// recorded as an error (Errors, AssertValid) and answered 400, so a test
// fails when a client sends something the real service would reject. The
// api-version may come as the query parameter or, as the
// azure-devops-go-api library sends it, in the Accept header; the service
// accepts both. Valid requests must then carry the Basic authentication of
// a personal access token (empty user, the PAT as password) or, when
// Options.Bearer is set, a Microsoft Entra ID access token
// ("Authorization: Bearer <token>", e.g. of testkit/fakeentra), or get 401;
// each recorded Request says who sent it.
//
// The fake behaves like the service where clients can tell: names of
// organizations, projects and repositories and the literal segments of
// paths match case-insensitively, a project is addressed by name or id, and
// errors come as Azure DevOps error documents. Faults (5xx, 429 with
// Retry-After, delays, lost responses) can be injected per route or at
// random with a seed (see Fail and FailRandomly).
//
// A Server is safe for concurrent use.
//
//	fake := fakeazdo.New(t, fakeazdo.Options{})
//	fake.AddRepository("manifests")
//	fake.AddCommit("manifests", fakeazdo.Commit{ID: sha, Comment: "Merged PR 7: deploy"})
//	// point the client at fake.ProjectURL() with fake.Token() ...
//	fake.AssertValid(t)
package fakeazdo

import (
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/apispec"
	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// Defaults of Options.
const (
	DefaultOrganization = "org"
	DefaultProject      = "project"
	// DefaultProjectID is the id of the default project (Microsoft's own
	// example project id).
	DefaultProjectID = "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c"
	DefaultToken     = "fake-azdo-pat"
)

// Options configure a fake. The zero value is a cloud organization "org"
// with project "project".
type Options struct {
	// Organization is the organization (on-premises: the collection).
	Organization string
	// Project is the project's name; ProjectID its id (a UUID).
	Project   string
	ProjectID string
	// Token is the PAT every request must carry.
	Token string
	// PathPrefix, e.g. "/tfs", makes the fake an on-premises Azure DevOps
	// Server: URLs are {server}{PathPrefix}/{collection}/... and the
	// resource-area discovery answers an empty list, as on-premises servers
	// do.
	PathPrefix string
	// Bearer, when set, accepts Microsoft Entra ID access tokens: it
	// returns who an access token was issued to, ok false for a token
	// Entra ID did not issue or that expired (fakeentra.Server.Identity).
	Bearer func(token string) (identity string, ok bool)
}

// Server is a running fake Azure DevOps.
type Server struct {
	srv       *httptest.Server
	opts      Options
	validator *apispec.Validator

	log    fakeapi.Log[Request]
	faults fakeapi.Faults[Route, Route, Fault]

	mu     sync.Mutex             // guards the rest
	repos  map[string]*repository // by lower-case name
	prs    map[int]*PullRequest
	plans  map[string]*Plan // by lower-case id
	events []Event
	held   map[Route]int // requests a fault's Delay holds back now
}

type repository struct {
	name     string
	id       string
	commits  map[string]Commit         // by lower-case id
	statuses map[string][]storedStatus // by lower-case commit id, oldest first
	// seq counts the commits added; it orders commits of equal dates.
	seq int
}

// Commit is a commit of a repository.
type Commit struct {
	// ID is the full hex commit id.
	ID string
	// Comment is the commit message.
	Comment string
	Parents []string
	// Date is the committer date; zero means the time AddCommit was called.
	Date time.Time
	seq  int
}

// Status is a commit status as a client posted it.
type Status struct {
	State       string        `json:"state"`
	Description string        `json:"description"`
	TargetURL   string        `json:"targetUrl"`
	Context     StatusContext `json:"context"`
}

// storedStatus is a status as the fake keeps it: with when it was posted.
type storedStatus struct {
	Status
	posted time.Time
}

// StatusContext identifies a commit status.
type StatusContext struct {
	Name  string `json:"name"`
	Genre string `json:"genre"`
}

// Pull request states.
const (
	PullRequestActive    = "active"
	PullRequestCompleted = "completed"
	PullRequestAbandoned = "abandoned"
)

// PullRequest is a pull request. IDs are unique in the collection, as in
// Azure DevOps.
type PullRequest struct {
	ID int
	// Repository is the name of the target repository.
	Repository string
	Title      string
	// Status is PullRequestActive, PullRequestCompleted or
	// PullRequestAbandoned; empty means active.
	Status string
	// CreationDate zero means the time AddPullRequest was called.
	CreationDate time.Time
	// ClosedDate is when the pull request was completed or abandoned.
	ClosedDate time.Time
	// LastMergeCommit is the commit that merged a completed pull request.
	LastMergeCommit string
	// Properties are the pull request's properties, each a string $value.
	Properties map[string]string
}

// Plan and timeline record states.
const (
	StateInProgress = "inProgress"
	StateCompleted  = "completed"
	StatePending    = "pending"
)

// Plan is the orchestration plan of a pipeline run, owned by a build.
type Plan struct {
	// ID is the plan id (a UUID); the build's timeline has the same id.
	ID string
	// State is StateInProgress (when empty) or StateCompleted.
	State string
	// BuildID is the build that owns the plan; its timeline holds Jobs.
	BuildID int
	// Jobs are the job records of the build's timeline: job id (a UUID) →
	// state (StatePending, StateInProgress, StateCompleted).
	Jobs map[string]string
}

// Event is an event a client posted to a plan.
type Event struct {
	Hub       string
	ProjectID string
	PlanID    string
	Name      string
	TaskID    string
	JobID     string
	Result    string
}

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is the escaped path, RawQuery the query.
	Path     string
	RawQuery string
	// Route is the operation the request was routed to; empty if none.
	Route Route
	// Status is the HTTP status of the answer.
	Status int
	// Identity is who sent an authenticated request: IdentityPAT or what
	// Options.Bearer returned; empty when the request was refused before.
	Identity string
}

// New starts a fake; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Organization == "" {
		opts.Organization = DefaultOrganization
	}
	if opts.Project == "" {
		opts.Project = DefaultProject
	}
	if opts.ProjectID == "" {
		opts.ProjectID = DefaultProjectID
	}
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.PathPrefix != "" {
		opts.PathPrefix = "/" + strings.Trim(opts.PathPrefix, "/")
	}
	s := &Server{
		opts:  opts,
		repos: map[string]*repository{},
		prs:   map[int]*PullRequest{},
		plans: map[string]*Plan{},
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	v, err := apispec.Load(apispec.AzureDevOps, s.srv.URL+opts.PathPrefix)
	if err != nil {
		t.Fatalf("fakeazdo: %v", err)
	}
	s.validator = v
	return s
}

// URL is the root of the server, without the path prefix.
func (s *Server) URL() string { return s.srv.URL }

// OrganizationURL is the organization's (on-premises: the collection's) URL,
// e.g. http://127.0.0.1:1234/org, without a trailing slash.
func (s *Server) OrganizationURL() string {
	return s.srv.URL + s.opts.PathPrefix + "/" + s.opts.Organization
}

// ProjectURL is what users configure as azdoOrgUrl (AZDO_ORG_URL):
// the organization URL followed by the project.
func (s *Server) ProjectURL() string { return s.OrganizationURL() + "/" + s.opts.Project }

// CollectionURI is $(System.CollectionUri) of a pipeline run: the
// organization URL with a trailing slash; the callback's "planurl".
func (s *Server) CollectionURI() string { return s.OrganizationURL() + "/" }

// Token is the PAT the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// Project returns the project's name and id.
func (s *Server) Project() (name, id string) { return s.opts.Project, s.opts.ProjectID }

// Close stops the server before the test ends.
func (s *Server) Close() { s.srv.Close() }

// AddRepository creates a repository (if it does not exist) and returns its
// id, derived from the name.
func (s *Server) AddRepository(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repository(name).id
}

// repository returns the named repository, creating it. Callers hold mu.
func (s *Server) repository(name string) *repository {
	key := strings.ToLower(name)
	r, ok := s.repos[key]
	if !ok {
		r = &repository{name: name, id: uuidFrom("repository/" + key), commits: map[string]Commit{}, statuses: map[string][]storedStatus{}}
		s.repos[key] = r
	}
	return r
}

// AddCommit adds a commit to a repository, creating the repository.
func (s *Server) AddCommit(repo string, c Commit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Date.IsZero() {
		c.Date = time.Now().UTC()
	}
	r := s.repository(repo)
	r.seq++
	c.seq = r.seq
	r.commits[strings.ToLower(c.ID)] = c
}

// AddPullRequest adds or replaces a pull request, creating its repository.
func (s *Server) AddPullRequest(pr PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repository(pr.Repository)
	if pr.Status == "" {
		pr.Status = PullRequestActive
	}
	if pr.CreationDate.IsZero() {
		pr.CreationDate = time.Now().UTC()
	}
	props := make(map[string]string, len(pr.Properties))
	for k, v := range pr.Properties {
		props[k] = v
	}
	pr.Properties = props
	s.prs[pr.ID] = &pr
}

// SetPullRequestProperty sets one property of a pull request that exists.
func (s *Server) SetPullRequestProperty(id int, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr, ok := s.prs[id]; ok {
		pr.Properties[key] = value
	}
}

// AddPlan adds or replaces a plan and its build's timeline.
func (s *Server) AddPlan(p Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.State == "" {
		p.State = StateInProgress
	}
	jobs := make(map[string]string, len(p.Jobs))
	for k, v := range p.Jobs {
		jobs[strings.ToLower(k)] = v
	}
	p.Jobs = jobs
	s.plans[strings.ToLower(p.ID)] = &p
}

// SetPlanState sets the state of a plan that exists.
func (s *Server) SetPlanState(planID, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.plans[strings.ToLower(planID)]; ok {
		p.State = state
	}
}

// SetJobState sets the state of a job record of a plan's timeline; an
// empty state removes the record.
func (s *Server) SetJobState(planID, jobID, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[strings.ToLower(planID)]
	if !ok {
		return
	}
	if state == "" {
		delete(p.Jobs, strings.ToLower(jobID))
		return
	}
	p.Jobs[strings.ToLower(jobID)] = state
}

// JobState returns the state of a job record and whether it exists.
func (s *Server) JobState(planID, jobID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[strings.ToLower(planID)]
	if !ok {
		return "", false
	}
	st, ok := p.Jobs[strings.ToLower(jobID)]
	return st, ok
}

// Callback returns the JSON an agentless pipeline task stores in a pull
// request's callback-task-id property for this fake: its task and job,
// the plan, the collection URI and the project id.
func (s *Server) Callback(planID, jobID, taskID string, pr int) string {
	return fmt.Sprintf(`{"taskid":%q,"jobid":%q,"planurl":%q,"planid":%q,"projectid":%q,"pr_num":"%d"}`,
		taskID, jobID, s.CollectionURI(), planID, s.opts.ProjectID, pr)
}

// Statuses returns the statuses posted on a commit of a repository, oldest
// first.
func (s *Server) Statuses(repo, commit string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[strings.ToLower(repo)]
	if !ok {
		return nil
	}
	var out []Status
	for _, st := range r.statuses[strings.ToLower(commit)] {
		out = append(out, st.Status)
	}
	return out
}

// Events returns the plan events received, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Requests returns every request received, oldest first.
func (s *Server) Requests() []Request { return s.log.Requests() }

// RequestsTo returns the requests routed to one operation, oldest first.
func (s *Server) RequestsTo(route Route) []Request {
	return s.log.Filter(func(r Request) bool { return r.Route == route })
}

// Errors returns what was wrong with the requests the fake received: not
// in the API description or not matching it (operations the description
// lacks are checked by hand). Requests without the fake's credentials are
// answered 401 and are not errors: tests of a wrong PAT send them on
// purpose.
func (s *Server) Errors() []error { return s.log.Errors() }

// AssertValid fails the test for every error in Errors.
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	s.log.AssertValid(t, "fakeazdo: ")
}

// pullRequestsOf returns copies of the pull requests of a repository,
// newest first (descending id), as the service lists them.
func (s *Server) pullRequestsOf(repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PullRequest
	for _, pr := range s.prs {
		if strings.EqualFold(pr.Repository, repo) {
			out = append(out, *pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

// uuidFrom derives a stable, well-formed UUID (version 5 layout) from a name.
func uuidFrom(name string) string {
	b := sha256.Sum256([]byte(name))
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
