package azdoapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

const (
	commit    = "0123456789abcdef0123456789abcdef01234567"
	planID    = "4ab3c0d2-7c55-4f32-9b5a-0b8e07e0d1a1"
	projectID = fakeazdo.DefaultProjectID
)

func settingsFor(t *testing.T, projectURL, token string) config.Settings {
	t.Helper()
	org, project, err := config.SplitOrgURL(projectURL)
	if err != nil {
		t.Fatal(err)
	}
	return config.Settings{OrganizationURL: org, Project: project, Token: token}
}

func clientFor(t *testing.T, f *fakeazdo.Server, timeout time.Duration) *Client {
	t.Helper()
	cs := &Clients{Timeout: timeout}
	return mustFor(t, cs, sdk.Config{}, settingsFor(t, f.ProjectURL(), f.Token()))
}

func mustFor(t *testing.T, cs *Clients, cfg sdk.Config, s config.Settings) *Client {
	t.Helper()
	c, err := cs.For(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitErrorsAreClassifiedForRetries(t *testing.T) {
	cases := []struct {
		name       string
		fault      *fakeazdo.Fault
		repo       string
		token      string
		kind       sdk.ErrorKind
		retryAfter time.Duration
		message    string
	}{
		{name: "503 with Retry-After", fault: &fakeazdo.Fault{Status: 503, RetryAfter: 7 * time.Second}, kind: sdk.KindRetryable, retryAfter: 7 * time.Second},
		{name: "429 with Retry-After", fault: &fakeazdo.Fault{Status: 429, RetryAfter: 30 * time.Second}, kind: sdk.KindRetryable, retryAfter: 30 * time.Second},
		{name: "500 without Retry-After", fault: &fakeazdo.Fault{Status: 500}, kind: sdk.KindRetryable},
		{name: "unknown repository", repo: "other", kind: sdk.KindNotFound, message: "check azdoOrgUrl"},
		{name: "wrong token", token: "expired-pat", kind: sdk.KindPermissionDenied, message: "Code (Read & status) and Build (Read & execute)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeazdo.New(t, fakeazdo.Options{})
			f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 1: x"})
			if tc.fault != nil {
				f.Fail(fakeazdo.RouteGetCommit, 1, *tc.fault)
			}
			token := f.Token()
			if tc.token != "" {
				token = tc.token
			}
			c := mustFor(t, &Clients{}, sdk.Config{}, settingsFor(t, f.ProjectURL(), token))
			repo := "manifests"
			if tc.repo != "" {
				repo = tc.repo
			}
			_, err := c.Commit(context.Background(), repo, commit)
			if err == nil {
				t.Fatal("no error")
			}
			if got := sdk.KindOf(err); got != tc.kind {
				t.Errorf("kind %v, want %v: %v", got, tc.kind, err)
			}
			if got := sdk.RetryAfterOf(err); got != tc.retryAfter {
				t.Errorf("retry after %v, want %v", got, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error reveals the token: %v", err)
			}
			f.AssertValid(t)
		})
	}
}

// statusServer answers every request with one status and body.
func statusServer(t *testing.T, status int, contentType, body string, header map[string]string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestPipelineErrorsAreClassifiedForRetries(t *testing.T) {
	azdoError := `{"$id":"1","message":"TF400813: not authorized","typeKey":"UnauthorizedRequestException","errorCode":0}`
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		kind        sdk.ErrorKind
		retryAfter  time.Duration
		message     string
	}{
		{"unauthorized", 401, "application/json", azdoError, nil, sdk.KindPermissionDenied, 0, "missing, expired or revoked"},
		{"sign-in page instead of JSON", 203, "text/html", "<html>Sign in</html>", nil, sdk.KindPermissionDenied, 0, "did not accept the personal access token"},
		{"forbidden", 403, "application/json", azdoError, nil, sdk.KindPermissionDenied, 0, "Build (Read & execute)"},
		{"not found", 404, "application/json", `{"message":"plan not found"}`, nil, sdk.KindNotFound, 0, "plan not found"},
		{"bad request", 400, "application/json", `{"message":"bad"}`, nil, sdk.KindPermanent, 0, "HTTP 400"},
		{"redirect", 302, "", "", map[string]string{"Location": "https://login.example.com/"}, sdk.KindPermanent, 0, "not followed"},
		{"gateway error page", 502, "text/html", "<html>Bad Gateway</html>", map[string]string{"Retry-After": "12"}, sdk.KindRetryable, 12 * time.Second, "HTTP 502"},
		{"empty 503", 503, "", "", nil, sdk.KindRetryable, 0, "HTTP 503"},
		{"rate limited, Retry-After as a date", 429, "text/plain", "slow down", map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, sdk.KindRetryable, time.Hour, "HTTP 429"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := statusServer(t, tc.status, tc.contentType, tc.body, tc.header)
			c := mustFor(t, &Clients{}, sdk.Config{}, settingsFor(t, s.URL+"/org/project", "pat"))
			_, err := c.Plan(context.Background(), PlanRef{CollectionURL: s.URL + "/org/", ProjectID: projectID, PlanID: planID})
			if err == nil {
				t.Fatal("no error")
			}
			if got := sdk.KindOf(err); got != tc.kind {
				t.Errorf("kind %v, want %v: %v", got, tc.kind, err)
			}
			// A Retry-After date is read against the clock: allow it to
			// have moved on.
			if got := sdk.RetryAfterOf(err); got > tc.retryAfter || got < tc.retryAfter-time.Minute {
				t.Errorf("retry after %v, want %v", got, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
		})
	}
}

func TestEveryRequestHasATimeoutAndTimeoutsAreRetried(t *testing.T) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
	f.Fail(fakeazdo.RouteGetCommit, 1, fakeazdo.Fault{Delay: time.Hour})
	c := clientFor(t, f, 200*time.Millisecond)
	_, err := c.Commit(context.Background(), "manifests", commit)
	if sdk.KindOf(err) != sdk.KindRetryable || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a retryable time-out", err)
	}
	if _, err := c.Commit(context.Background(), "manifests", commit); err != nil {
		t.Errorf("after the time-out: %v", err)
	}
}

func TestAnUnreachableServerIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := mustFor(t, &Clients{}, sdk.Config{}, settingsFor(t, "http://"+addr+"/org/project", "pat"))
	err = c.PostStatus(context.Background(), "manifests", commit, git.GitStatus{})
	if sdk.KindOf(err) != sdk.KindRetryable {
		t.Errorf("err = %v, want retryable", err)
	}
}

func TestACancelledCallReturnsTheContextError(t *testing.T) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
	f.Fail(fakeazdo.RouteGetCommit, 1, fakeazdo.Fault{Delay: time.Hour})
	c := clientFor(t, f, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Commit(ctx, "manifests", commit); !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
}

func TestPlanReferencesOutsideTheOrganizationAreRefused(t *testing.T) {
	cases := []struct {
		org, collection string
		ok              bool
	}{
		{"https://dev.azure.com/myorg", "https://dev.azure.com/myorg/", true},
		{"https://dev.azure.com/myorg", "https://dev.azure.com/MyOrg", true},
		{"https://dev.azure.com/myorg", "https://myorg.visualstudio.com/", true},
		{"https://myorg.visualstudio.com", "https://dev.azure.com/myorg/", true},
		{"https://myorg.visualstudio.com/DefaultCollection", "https://myorg.visualstudio.com/DefaultCollection/", true},
		{"https://tfs.example.com/tfs/DefaultCollection", "https://TFS.example.com/tfs/defaultcollection/", true},
		{"https://dev.azure.com/myorg", "https://dev.azure.com/otherorg/", false},
		{"https://dev.azure.com/myorg", "http://dev.azure.com/myorg/", false},
		{"https://dev.azure.com/myorg", "https://evil.example.com/myorg/", false},
		{"https://dev.azure.com/myorg", "https://myorg.visualstudio.com.evil.example.com/", false},
		{"https://dev.azure.com/myorg", "https://dev.azure.com/myorg/project/", false},
		{"https://dev.azure.com/myorg", "https://user:pw@dev.azure.com/myorg/", false},
		{"https://tfs.example.com/tfs/DefaultCollection", "https://tfs.example.com/tfs/Other/", false},
		{"https://tfs.example.com/tfs/DefaultCollection", "http://tfs.example.com/tfs/DefaultCollection/", false},
		{"https://tfs.example.com/tfs/DefaultCollection", "https://tfs.example.com:8443/tfs/DefaultCollection/", false},
		{"https://dev.azure.com/myorg", "$(System.CollectionUri)", false},
	}
	for _, tc := range cases {
		c := mustNewClient(t, tc.org)
		err := c.CheckPlanRef(PlanRef{CollectionURL: tc.collection, ProjectID: projectID, PlanID: planID})
		if (err == nil) != tc.ok {
			t.Errorf("org %s, planurl %s: %v, want ok=%v", tc.org, tc.collection, err, tc.ok)
		}
	}
	c := mustNewClient(t, "https://dev.azure.com/myorg")
	if err := c.CheckPlanRef(PlanRef{CollectionURL: "https://dev.azure.com/myorg/", ProjectID: "project", PlanID: planID}); err == nil {
		t.Error("a project name as projectid was accepted")
	}
	for raw, ok := range map[string]bool{
		"https://dev.azure.com/myorg/" + projectID + "/_apis/build/Builds/42": true,
		"https://dev.azure.com/myorg/" + projectID + "/_apis/build/Builds/x":  false,
		"https://dev.azure.com/myorg/" + projectID + "/_apis/release/42":      false,
		"https://dev.azure.com/other/" + projectID + "/_apis/build/Builds/42": false,
	} {
		if err := c.checkBuildURL(raw); (err == nil) != ok {
			t.Errorf("checkBuildURL(%s) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestPullRequestsArePagedUntilAShortPageOrTheVisitorStops(t *testing.T) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	closed := time.Now().Add(-time.Hour)
	for i := 1; i <= 2*pageSize+10; i++ {
		f.AddPullRequest(fakeazdo.PullRequest{ID: i, Repository: "manifests", Status: fakeazdo.PullRequestAbandoned, ClosedDate: closed})
	}
	c := clientFor(t, f, 0)
	var seen, pages int
	err := c.PullRequests(context.Background(), "manifests", PullRequestQuery{Status: git.PullRequestStatusValues.Abandoned, ClosedAfter: closed.Add(-time.Minute)},
		func(page []git.GitPullRequest) bool { pages++; seen += len(page); return true })
	if err != nil || seen != 2*pageSize+10 || pages != 3 {
		t.Errorf("saw %d pull requests in %d pages (%v), want %d in 3", seen, pages, err, 2*pageSize+10)
	}
	pages = 0
	err = c.PullRequests(context.Background(), "manifests", PullRequestQuery{Status: git.PullRequestStatusValues.Abandoned},
		func([]git.GitPullRequest) bool { pages++; return false })
	if err != nil || pages != 1 {
		t.Errorf("read %d pages after the visitor stopped (%v), want 1", pages, err)
	}
	reqs := f.RequestsTo(fakeazdo.RouteListPullRequests)
	if first := reqs[0].RawQuery; !strings.Contains(first, "searchCriteria.queryTimeRangeType=closed") || !strings.Contains(first, "searchCriteria.minTime=") {
		t.Errorf("query %q does not ask the service to filter by closing time", first)
	}
	f.AssertValid(t)
}

func mustNewClient(t *testing.T, org string) *Client {
	t.Helper()
	c, err := newClient(config.Settings{OrganizationURL: org, Project: "project", Token: "pat"}, time.Second, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientsAreCachedByRevisionAndCredential(t *testing.T) {
	cs := &Clients{}
	s := config.Settings{OrganizationURL: "https://dev.azure.com/o", Project: "p", Token: "t"}
	a := mustFor(t, cs, sdk.Config{Revision: "r1"}, s)
	if mustFor(t, cs, sdk.Config{Revision: "r1"}, s) != a {
		t.Error("same revision, new client")
	}
	if mustFor(t, cs, sdk.Config{Revision: "r2"}, s) == a {
		t.Error("new revision, same client")
	}
	// The repository and the orchestrator of one config (one revision)
	// may have different credentials.
	other := s
	other.Token = ""
	other.Credential = sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: map[string]string{}}
	if mustFor(t, cs, sdk.Config{Revision: "r1"}, other) == a {
		t.Error("another credential, same client")
	}
	for i := range maxCachedClients + 1 {
		mustFor(t, cs, sdk.Config{Revision: strings.Repeat("x", i+3)}, s)
	}
	if len(cs.byKey) > maxCachedClients {
		t.Errorf("%d cached clients, want at most %d", len(cs.byKey), maxCachedClients)
	}
	if mustFor(t, cs, sdk.Config{Revision: "r1"}, s) == a {
		t.Error("the oldest client was not evicted")
	}
}

func TestConcurrentCallsShareOneClient(t *testing.T) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
	c := clientFor(t, f, 0)
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			errs <- c.PostStatus(context.Background(), "manifests", commit, git.GitStatus{
				State: &git.GitStatusStateValues.Pending, Context: &git.GitStatusContext{Name: &[]string{"Status"}[0]},
			})
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(f.Statuses("manifests", commit)); n != cap(errs) {
		t.Errorf("%d statuses, want %d", n, cap(errs))
	}
	f.AssertValid(t)
}
