package fakeazdo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	commit = "0123456789abcdef0123456789abcdef01234567"
	planID = "4ab3c0d2-7c55-4f32-9b5a-0b8e07e0d1a1"
	jobID  = "9f2e9b39-2a43-5b5c-8a9b-7b9e6f2c1d10"
	taskID = "1c5d0e6f-8a7b-4c3d-9e2f-0a1b2c3d4e5f"
)

// call sends one request the way the azure-devops-go-api library does:
// Basic auth with an empty user, api-version in the Accept header unless
// the URL has one.
func call(t *testing.T, f *Server, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	return callAs(t, f, "", f.Token(), method, url, body)
}

func callAs(t *testing.T, f *Server, user, pass, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if pass != "" {
		req.SetBasicAuth(user, pass)
	}
	if method != http.MethodOptions {
		req.Header.Set("Accept", "application/json;api-version=7.1-preview.1")
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func seeded(t *testing.T, opts Options) *Server {
	f := New(t, opts)
	f.AddCommit("manifests", Commit{ID: commit, Comment: "Merged PR 7: deploy"})
	f.AddPullRequest(PullRequest{ID: 7, Repository: "manifests", Status: PullRequestCompleted, LastMergeCommit: commit,
		ClosedDate: time.Now().Add(-time.Hour), Properties: map[string]string{"callback-task-id": f.Callback(planID, jobID, taskID, 7)}})
	f.AddPlan(Plan{ID: planID, BuildID: 42, Jobs: map[string]string{jobID: StateInProgress}})
	return f
}

func TestRequestsOfTheClientLibraryAreServed(t *testing.T) {
	f := seeded(t, Options{})
	git := f.ProjectURL() + "/_apis/git/repositories/manifests"
	plan := f.CollectionURI() + DefaultProjectID + "/_apis/distributedtask/hubs/build/plans/" + planID
	cases := []struct {
		name, method, url, body string
		route                   Route
		want                    int
	}{
		{"location discovery", http.MethodOptions, f.OrganizationURL() + "/_apis", "", RouteLocations, 200},
		{"resource areas", http.MethodGet, f.OrganizationURL() + "/_apis/ResourceAreas", "", RouteResourceAreas, 200},
		{"status", http.MethodPost, git + "/commits/" + commit + "/statuses",
			`{"state":"succeeded","description":"Status: done","targetUrl":"https://app?noop=Status","context":{"name":"Status","genre":"Kustomization"}}`, RouteCreateStatus, 201},
		{"commit", http.MethodGet, git + "/commits/" + commit, "", RouteGetCommit, 200},
		{"statuses", http.MethodGet, git + "/commits/" + commit + "/statuses?latestOnly=true&top=1000", "", RouteListStatuses, 200},
		{"pull requests, spelled as the service's location", http.MethodGet, git + "/pullRequests?searchCriteria.status=completed&$top=100", "", RouteListPullRequests, 200},
		{"properties", http.MethodGet, git + "/pullRequests/7/properties", "", RoutePullRequestProperties, 200},
		{"plan", http.MethodGet, plan + "?api-version=2.0-preview.1", "", RouteGetPlan, 200},
		{"timeline through the build link", http.MethodGet, f.CollectionURI() + DefaultProjectID + "/_apis/build/Builds/42/timeline?api-version=2.0", "", RouteGetTimeline, 200},
		{"timeline with its id", http.MethodGet, f.CollectionURI() + DefaultProjectID + "/_apis/build/builds/42/timeline/" + planID, "", RouteGetTimeline, 200},
		{"event", http.MethodPost, plan + "/events?api-version=2.0-preview.1",
			`{"name":"TaskCompleted","taskId":"` + taskID + `","jobId":"` + jobID + `","result":"succeeded"}`, RoutePostEvent, 204},
		{"unknown repository", http.MethodGet, f.ProjectURL() + "/_apis/git/repositories/other/commits/" + commit, "", RouteGetCommit, 404},
		{"unknown project", http.MethodGet, f.OrganizationURL() + "/other/_apis/git/repositories/manifests/commits/" + commit, "", RouteGetCommit, 404},
		{"unknown plan", http.MethodGet, f.CollectionURI() + DefaultProjectID + "/_apis/distributedtask/hubs/build/plans/" + jobID, "", RouteGetPlan, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _, body := call(t, f, tc.method, tc.url, tc.body); got != tc.want {
				t.Errorf("status %d, want %d: %s", got, tc.want, body)
			}
			reqs := f.Requests()
			if last := reqs[len(reqs)-1]; last.Route != tc.route {
				t.Errorf("routed to %q, want %q", last.Route, tc.route)
			}
		})
	}
	f.AssertValid(t)
	if got := f.Statuses("MANIFESTS", strings.ToUpper(commit)); len(got) != 1 || got[0].State != "succeeded" || got[0].Context != (StatusContext{"Status", "Kustomization"}) {
		t.Errorf("statuses = %+v", got)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != (Event{Hub: "build", ProjectID: DefaultProjectID, PlanID: planID, Name: "TaskCompleted", TaskID: taskID, JobID: jobID, Result: "succeeded"}) {
		t.Errorf("events = %+v", ev)
	}
	if st, ok := f.JobState(planID, jobID); !ok || st != StateCompleted {
		t.Errorf("job state after TaskCompleted = %q, %v; want completed", st, ok)
	}
}

func TestRequestsTheDescriptionRejectsAreErrorsAnswered400(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		noAccept                 bool
	}{
		{name: "no api-version", method: http.MethodGet, path: "/org/project/_apis/git/repositories/manifests/commits/" + commit, noAccept: true},
		{name: "state outside the enum", method: http.MethodPost, path: "/org/project/_apis/git/repositories/manifests/commits/" + commit + "/statuses", body: `{"state":"success","context":{"name":"Status"}}`},
		{name: "operation outside the description", method: http.MethodDelete, path: "/org/project/_apis/git/repositories/manifests"},
		{name: "pull request id not a number", method: http.MethodGet, path: "/org/project/_apis/git/repositories/manifests/pullRequests/x/properties"},
		{name: "plan id not a UUID", method: http.MethodGet, path: "/org/" + DefaultProjectID + "/_apis/distributedtask/hubs/build/plans/42"},
		{name: "plan read through the project name", method: http.MethodGet, path: "/org/project/_apis/distributedtask/hubs/build/plans/" + planID},
		{name: "event to a project name", method: http.MethodPost, path: "/org/project/_apis/distributedtask/hubs/build/plans/" + planID + "/events", body: `{"name":"TaskCompleted","jobId":"` + jobID + `"}`},
		{name: "TaskCompleted without a valid result", method: http.MethodPost, path: "/org/" + DefaultProjectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/events", body: `{"name":"TaskCompleted","taskId":"` + taskID + `","jobId":"` + jobID + `","result":"ok"}`},
		{name: "discovery with a body", method: http.MethodOptions, path: "/org/_apis", body: `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := seeded(t, Options{})
			req, _ := http.NewRequest(tc.method, f.URL()+tc.path, strings.NewReader(tc.body))
			req.SetBasicAuth("", f.Token())
			req.Header.Set("Content-Type", "application/json")
			if !tc.noAccept {
				req.Header.Set("Accept", "application/json;api-version=7.1")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if len(f.Errors()) != 1 {
				t.Errorf("errors = %v, want one", f.Errors())
			}
			if len(f.Events()) != 0 || len(f.Statuses("manifests", commit)) != 0 {
				t.Error("a rejected request had an effect")
			}
		})
	}
}

func TestAuthenticationIsBasicWithAnEmptyUserAndThePAT(t *testing.T) {
	f := seeded(t, Options{Token: "the-pat"})
	url := f.ProjectURL() + "/_apis/git/repositories/manifests/commits/" + commit
	cases := []struct {
		name, user, pass string
		want             int
	}{
		{"the PAT", "", "the-pat", 200},
		{"no credentials", "", "", 401},
		{"another PAT", "", "other", 401},
		{"a user name", "someone", "the-pat", 401},
	}
	for _, tc := range cases {
		if got, _, _ := callAs(t, f, tc.user, tc.pass, http.MethodGet, url, ""); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	f.AssertValid(t)
}

func TestBearerTokensAreAcceptedWhenTheirIssuerKnowsThem(t *testing.T) {
	f := seeded(t, Options{Bearer: func(token string) (string, bool) {
		return "client-1", token == "access-token-1"
	}})
	url := f.ProjectURL() + "/_apis/git/repositories/manifests/commits/" + commit
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"a token it issued", "Bearer access-token-1", 200},
		{"another token", "Bearer access-token-2", 401},
		{"no scheme", "access-token-1", 401},
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", "application/json;api-version=7.1-preview.1")
		req.Header.Set("Authorization", tc.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if got, _, _ := call(t, f, http.MethodGet, url, ""); got != 200 {
		t.Errorf("the PAT: status %d", got)
	}
	var who []string
	for _, r := range f.Requests() {
		who = append(who, r.Identity)
	}
	if want := []string{"client-1", "", "", IdentityPAT}; !slices.Equal(who, want) {
		t.Errorf("identities %q, want %q", who, want)
	}
	f.AssertValid(t)
}

func TestQueuedFaultsHitTheNextRequestsOfTheirRouteOnly(t *testing.T) {
	f := seeded(t, Options{})
	f.Fail(RouteCreateStatus, 2, Fault{Status: 503, RetryAfter: 2500 * time.Millisecond})
	status := f.ProjectURL() + "/_apis/git/repositories/manifests/commits/" + commit + "/statuses"
	body := `{"state":"pending","context":{"name":"Status"}}`
	if got, _, _ := call(t, f, http.MethodGet, f.ProjectURL()+"/_apis/git/repositories/manifests/commits/"+commit, ""); got != 200 {
		t.Errorf("another route: status %d, want 200", got)
	}
	for i := range 2 {
		got, h, _ := call(t, f, http.MethodPost, status, body)
		if got != 503 || h.Get("Retry-After") != "3" {
			t.Errorf("request %d: status %d, Retry-After %q; want 503, 3", i, got, h.Get("Retry-After"))
		}
	}
	if got, _, _ := call(t, f, http.MethodPost, status, body); got != 201 {
		t.Errorf("after the faults: status %d, want 201", got)
	}
	if n := len(f.Statuses("manifests", commit)); n != 1 {
		t.Errorf("%d statuses stored, want 1 (failed requests have no effect)", n)
	}
	f.AssertValid(t)
}

func TestAnAppliedFaultTakesEffectAndLosesTheAnswer(t *testing.T) {
	f := seeded(t, Options{})
	f.Fail(RoutePostEvent, 1, Fault{Status: 500, Applied: true})
	url := f.CollectionURI() + DefaultProjectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/events?api-version=2.0-preview.1"
	got, _, _ := call(t, f, http.MethodPost, url, `{"name":"TaskCompleted","taskId":"`+taskID+`","jobId":"`+jobID+`","result":"failed"}`)
	if got != 500 {
		t.Errorf("status %d, want 500", got)
	}
	if len(f.Events()) != 1 {
		t.Errorf("events = %v, want the event recorded", f.Events())
	}
	if st, _ := f.JobState(planID, jobID); st != StateCompleted {
		t.Errorf("job state %q, want completed", st)
	}
}

func TestRandomFaultsAreReproducibleForASeed(t *testing.T) {
	run := func() []int {
		f := seeded(t, Options{})
		f.FailRandomly(RandomFaults{Seed: 7, Probability: 0.5, Faults: []Fault{{Status: 502}, {Status: 429, RetryAfter: time.Second}}})
		var codes []int
		for range 20 {
			got, _, _ := call(t, f, http.MethodGet, f.ProjectURL()+"/_apis/git/repositories/manifests/commits/"+commit, "")
			codes = append(codes, got)
		}
		return codes
	}
	a, b := run(), run()
	seen := map[int]bool{}
	for i := range a {
		seen[a[i]] = true
		if a[i] != b[i] {
			t.Fatalf("runs differ at request %d: %v vs %v", i, a, b)
		}
	}
	if !seen[200] || !(seen[502] || seen[429]) {
		t.Errorf("codes %v: want both successes and faults at probability 0.5", a)
	}
}

func TestADelayIsHeldUntilTheClientGivesUp(t *testing.T) {
	f := seeded(t, Options{})
	f.Fail(RouteGetCommit, 1, Fault{Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.ProjectURL()+"/_apis/git/repositories/manifests/commits/"+commit+"?api-version=7.1", nil)
	req.SetBasicAuth("", f.Token())
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("status %d, want the client to give up", resp.StatusCode)
		} else {
			err = nil
		}
		answered <- err
	}()
	for f.Held(RouteGetCommit) != 1 {
		select {
		case err := <-answered:
			t.Fatalf("answered before it was held: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if n := f.Held(RouteGetTimeline); n != 0 {
		t.Errorf("%d timeline requests held, want 0", n)
	}
	cancel()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	f.Close() // returns only once the delayed handler has ended
	if n := f.Held(RouteGetCommit); n != 0 {
		t.Errorf("%d requests held after the client gave up, want 0", n)
	}
}

func TestPullRequestsAreFilteredByStatusAndTimeAndPagedNewestFirst(t *testing.T) {
	f := New(t, Options{})
	now := time.Now().UTC()
	for i := 1; i <= 5; i++ {
		f.AddPullRequest(PullRequest{ID: i, Repository: "manifests", Status: PullRequestAbandoned, ClosedDate: now.Add(-time.Duration(i) * time.Hour)})
	}
	f.AddPullRequest(PullRequest{ID: 6, Repository: "manifests", Status: PullRequestActive})
	f.AddPullRequest(PullRequest{ID: 7, Repository: "other", Status: PullRequestAbandoned, ClosedDate: now})
	list := func(query string) []int {
		_, _, body := call(t, f, http.MethodGet, f.ProjectURL()+"/_apis/git/repositories/manifests/pullrequests?"+query, "")
		var res struct {
			Value []struct {
				PullRequestID int `json:"pullRequestId"`
			} `json:"value"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var ids []int
		for _, v := range res.Value {
			ids = append(ids, v.PullRequestID)
		}
		return ids
	}
	cases := []struct {
		query string
		want  []int
	}{
		{"", []int{6}},
		{"searchCriteria.status=abandoned", []int{5, 4, 3, 2, 1}},
		{"searchCriteria.status=abandoned&$top=2&$skip=1", []int{4, 3}},
		{"searchCriteria.status=all&$skip=5", []int{1}},
		{"searchCriteria.status=abandoned&searchCriteria.queryTimeRangeType=closed&searchCriteria.minTime=" + now.Add(-150*time.Minute).Format(time.RFC3339), []int{2, 1}},
	}
	for _, tc := range cases {
		if got := list(tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.query, got, tc.want)
		}
	}
	f.AssertValid(t)
}

func TestOnPremisesServersLiveUnderAPrefixWithoutResourceAreas(t *testing.T) {
	f := seeded(t, Options{PathPrefix: "tfs", Organization: "DefaultCollection"})
	if want := f.URL() + "/tfs/DefaultCollection/project"; f.ProjectURL() != want {
		t.Errorf("ProjectURL = %s, want %s", f.ProjectURL(), want)
	}
	_, _, body := call(t, f, http.MethodGet, f.OrganizationURL()+"/_apis/ResourceAreas", "")
	if !strings.Contains(string(body), `"count":0`) {
		t.Errorf("resource areas = %s, want an empty list", body)
	}
	if got, _, _ := call(t, f, http.MethodGet, strings.ToLower(f.ProjectURL())+"/_apis/git/repositories/manifests/commits/"+commit, ""); got != 200 {
		t.Errorf("commit: status %d, want 200", got)
	}
	if got, _, _ := call(t, f, http.MethodGet, f.URL()+"/DefaultCollection/project/_apis/git/repositories/manifests/commits/"+commit, ""); got != 400 {
		t.Errorf("outside the prefix: status %d, want 400", got)
	}
	if len(f.Errors()) != 1 {
		t.Errorf("errors = %v, want the request outside the prefix", f.Errors())
	}
}

func TestConcurrentRequestsAreAllRecorded(t *testing.T) {
	f := seeded(t, Options{})
	f.FailRandomly(RandomFaults{Seed: 1, Probability: 0.3, Routes: []Route{RouteGetCommit}, Faults: []Fault{{Status: 503}}})
	send := func(method, url, body string) (int, error) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.SetBasicAuth("", f.Token())
		req.Header.Set("Accept", "application/json;api-version=7.1")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	git := f.ProjectURL() + "/_apis/git/repositories/manifests/commits/" + commit
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 16)
	for i := range cap(done) {
		go func() {
			code, err := send(http.MethodPost, git+"/statuses", `{"state":"pending","context":{"name":"Status"}}`)
			if err == nil {
				_, err = send(http.MethodGet, git, "")
			}
			f.SetJobState(planID, jobID, []string{StatePending, StateInProgress}[i%2])
			done <- result{code, err}
		}()
	}
	for range cap(done) {
		if r := <-done; r.err != nil || r.code != 201 {
			t.Errorf("status %d (%v), want 201", r.code, r.err)
		}
	}
	if n := len(f.Statuses("manifests", commit)); n != cap(done) {
		t.Errorf("%d statuses, want %d", n, cap(done))
	}
	if n := len(f.Requests()); n != 2*cap(done) {
		t.Errorf("%d requests recorded, want %d", n, 2*cap(done))
	}
	f.AssertValid(t)
}
