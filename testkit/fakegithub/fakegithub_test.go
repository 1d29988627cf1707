package fakegithub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	sha    = "0123456789abcdef0123456789abcdef01234567"
	other  = "89abcdef0123456789abcdef0123456789abcdef"
	status = `{"state":"success","description":"Kustomization reconciled","context":"Status","target_url":"https://argocd.example.com/app"}`
)

// do sends one request with the fake's token unless token is set.
func do(t *testing.T, s *Server, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token == "" {
		token = "Bearer " + s.Token()
	}
	req.Header.Set("Authorization", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func newFake(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.SetCommit("acme", "manifests", sha, "Merge pull request #7 from acme/deploy/4711/"+other, other)
	s.AddRepo("acme", "app")
	return s
}

func TestStatusIsStoredInOrderInBothURLLayouts(t *testing.T) {
	s := newFake(t)
	for _, path := range []string{"/repos/acme/manifests/statuses/" + sha, EnterprisePrefix + "/repos/acme/manifests/statuses/" + sha} {
		res, b := do(t, s, http.MethodPost, path, "", status)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", path, res.StatusCode, b)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || got["state"] != "success" || got["context"] != "Status" {
			t.Errorf("answer %s, %v", b, err)
		}
	}
	if _, b := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "token "+s.Token(), `{"state":"pending","context":"Health"}`); !strings.Contains(string(b), "pending") {
		t.Errorf("token scheme: %s", b)
	}
	got := s.Statuses("acme", "manifests", sha[:7])
	if len(got) != 3 || got[0].State != "success" || got[2].State != "pending" || got[2].Context != "Health" {
		t.Fatalf("statuses = %+v", got)
	}
	if got[0].TargetURL != "https://argocd.example.com/app" || got[0].Description != "Kustomization reconciled" || got[0].SHA != sha {
		t.Errorf("status fields = %+v", got[0])
	}
	if all := s.AllStatuses(); len(all) != 3 || all[0].ID >= all[1].ID {
		t.Errorf("AllStatuses = %+v", all)
	}
	if errs := s.Errors(); len(errs) != 0 {
		t.Errorf("errors = %v", errs)
	}
}

func TestRequestsOutsideTheAPIDescriptionAreRecordedAndAnswered400(t *testing.T) {
	cases := []struct{ name, method, path, body string }{
		{"unknown state", http.MethodPost, "/repos/acme/manifests/statuses/" + sha, `{"state":"succeeded"}`},
		{"state missing", http.MethodPost, "/repos/acme/manifests/statuses/" + sha, `{"context":"Status"}`},
		{"undescribed operation", http.MethodDelete, "/repos/acme/manifests", ""},
		{"ref with a slash", http.MethodPost, "/repos/acme/manifests/statuses/main@sha1:../../other/commits/" + sha, `{"state":"success"}`},
		{"dispatch without event type", http.MethodPost, "/repos/acme/app/dispatches", `{"client_payload":{}}`},
		{"payload with more than 10 properties", http.MethodPost, "/repos/acme/app/dispatches",
			`{"event_type":"x","client_payload":{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFake(t)
			res, b := do(t, s, tc.method, tc.path, "", tc.body)
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("answer %d %s, want 400", res.StatusCode, b)
			}
			if len(s.Errors()) != 1 {
				t.Errorf("errors = %v, want one", s.Errors())
			}
			if len(s.AllStatuses()) != 0 || len(s.AllDispatches()) != 0 {
				t.Error("an invalid request changed the fake's state")
			}
			rec := &recorder{TB: t}
			s.AssertValid(rec)
			if len(rec.errors) != 1 {
				t.Errorf("AssertValid reported %q, want one error", rec.errors)
			}
		})
	}
}

type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestAuthorizationIsChecked(t *testing.T) {
	cases := []struct {
		name, header string
		want         int
	}{
		{"bearer", "Bearer secret-pat", http.StatusCreated},
		{"token scheme", "token secret-pat", http.StatusCreated},
		{"wrong token", "Bearer other", http.StatusUnauthorized},
		{"basic", "Basic c2VjcmV0LXBhdA==", http.StatusUnauthorized},
		{"no scheme", "secret-pat", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFake(t, WithToken("secret-pat"))
			res, b := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, tc.header, status)
			if res.StatusCode != tc.want {
				t.Errorf("answer %d %s, want %d", res.StatusCode, b, tc.want)
			}
			if len(s.Errors()) != 0 {
				t.Errorf("an authentication failure was recorded as an API description error: %v", s.Errors())
			}
		})
	}
}

func TestGitHubAnswersForMissingThings(t *testing.T) {
	s := newFake(t)
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"status on unknown repository", http.MethodPost, "/repos/acme/nope/statuses/" + sha, status, http.StatusNotFound},
		{"status on unknown commit", http.MethodPost, "/repos/acme/manifests/statuses/" + other, status, http.StatusUnprocessableEntity},
		{"description over 140 characters", http.MethodPost, "/repos/acme/manifests/statuses/" + sha,
			`{"state":"success","description":"` + strings.Repeat("é", 141) + `"}`, http.StatusUnprocessableEntity},
		{"commit of unknown repository", http.MethodGet, "/repos/other/manifests/commits/" + sha, "", http.StatusNotFound},
		{"unknown commit", http.MethodGet, "/repos/acme/manifests/commits/" + other, "", http.StatusUnprocessableEntity},
		{"git commit by short id", http.MethodGet, "/repos/acme/manifests/git/commits/" + sha[:7], "", http.StatusNotFound},
		{"dispatch to unknown repository", http.MethodPost, "/repos/acme/nope/dispatches", `{"event_type":"sync-success"}`, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if res, b := do(t, s, tc.method, tc.path, "", tc.body); res.StatusCode != tc.want {
				t.Errorf("answer %d %s, want %d", res.StatusCode, b, tc.want)
			}
		})
	}
	if len(s.AllStatuses()) != 0 {
		t.Errorf("statuses stored: %+v", s.AllStatuses())
	}
	s.AssertValid(t)
}

func TestCommitIsServedByIDAndUniquePrefix(t *testing.T) {
	s := newFake(t)
	for _, path := range []string{"/repos/acme/manifests/commits/" + sha, "/repos/acme/manifests/commits/" + sha[:7], EnterprisePrefix + "/repos/acme/manifests/commits/" + strings.ToUpper(sha)} {
		res, b := do(t, s, http.MethodGet, path, "", "")
		var c struct {
			SHA    string `json:"sha"`
			Commit struct {
				Message string `json:"message"`
			} `json:"commit"`
			Parents []struct {
				SHA string `json:"sha"`
			} `json:"parents"`
		}
		if err := json.Unmarshal(b, &c); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
		}
		if c.SHA != sha || c.Commit.Message != "Merge pull request #7 from acme/deploy/4711/"+other || len(c.Parents) != 1 || c.Parents[0].SHA != other {
			t.Errorf("GET %s = %+v", path, c)
		}
	}
	res, b := do(t, s, http.MethodGet, "/repos/acme/manifests/git/commits/"+sha, "", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"message":"Merge pull request #7`) {
		t.Errorf("git commit = %d %s", res.StatusCode, b)
	}
	s.AssertValid(t)
}

func TestDispatchIsRecorded(t *testing.T) {
	s := newFake(t)
	res, b := do(t, s, http.MethodPost, "/repos/acme/app/dispatches", "", `{"event_type":"sync-success","client_payload":{"sha":"abc","runid":"4711"}}`)
	if res.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("answer %d %s, want 204 without a body", res.StatusCode, b)
	}
	d := s.Dispatches("acme", "app")
	if len(d) != 1 || d[0].EventType != "sync-success" || d[0].ClientPayload["runid"] != "4711" || d[0].Owner != "acme" {
		t.Errorf("dispatches = %+v", d)
	}
	if all := s.AllDispatches(); len(all) != 1 || s.Dispatches("acme", "manifests") != nil {
		t.Errorf("dispatches landed elsewhere: %+v", all)
	}
	if calls := s.Calls(OpDispatch); len(calls) != 1 || calls[0].Answer != http.StatusNoContent || calls[0].Repo != "app" {
		t.Errorf("calls = %+v", calls)
	}
	s.AssertValid(t)
}

func TestPullRequestsOfACommitArePaginated(t *testing.T) {
	s := newFake(t)
	var prs []PullRequest
	for i := 1; i <= 5; i++ {
		prs = append(prs, PullRequest{Number: i, Title: fmt.Sprintf("PR %d", i), State: "closed", MergeCommitSHA: sha, MergedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), ClosedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)})
	}
	s.SetPullRequests("acme", "manifests", sha, prs...)
	res, b := do(t, s, http.MethodGet, "/repos/acme/manifests/commits/"+sha+"/pulls?per_page=2&page=2", "", "")
	var got []struct {
		Number         int     `json:"number"`
		MergeCommitSHA string  `json:"merge_commit_sha"`
		MergedAt       *string `json:"merged_at"`
	}
	if err := json.Unmarshal(b, &got); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("answer %d %s", res.StatusCode, b)
	}
	if len(got) != 2 || got[0].Number != 3 || got[1].Number != 4 || got[0].MergeCommitSHA != sha || got[0].MergedAt == nil {
		t.Errorf("page 2 = %+v", got)
	}
	link := res.Header.Get("Link")
	if !strings.Contains(link, `page=3&per_page=2>; rel="next"`) || !strings.Contains(link, `rel="last"`) {
		t.Errorf("Link = %q", link)
	}
	if res, _ := do(t, s, http.MethodGet, "/repos/acme/manifests/commits/"+sha+"/pulls?per_page=2&page=3", "", ""); res.Header.Get("Link") != "" {
		t.Errorf("last page has a Link to a next page: %q", res.Header.Get("Link"))
	}
	s.AssertValid(t)
}

func TestCombinedStatusTakesTheLatestStatusPerContext(t *testing.T) {
	s := newFake(t)
	for _, body := range []string{
		`{"state":"failure","context":"Health"}`,
		`{"state":"success","context":"Status"}`,
		`{"state":"success","context":"health"}`,
	} {
		do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", body)
	}
	_, b := do(t, s, http.MethodGet, "/repos/acme/manifests/commits/"+sha+"/status", "", "")
	var c struct {
		State      string `json:"state"`
		TotalCount int    `json:"total_count"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.State != "success" || c.TotalCount != 2 {
		t.Errorf("combined = %s (%v)", b, err)
	}
	s.AssertValid(t)
}

func TestStatusesOfACommitAreListedNewestFirstAndPaginated(t *testing.T) {
	s := newFake(t)
	for i := range 3 {
		do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", fmt.Sprintf(`{"state":"pending","context":"dev/Status","description":"%d"}`, i))
	}
	res, b := do(t, s, http.MethodGet, "/repos/acme/manifests/commits/"+sha+"/statuses?per_page=2", "", "")
	var got []struct {
		Context     string `json:"context"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(b, &got); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("answer %d %s", res.StatusCode, b)
	}
	if len(got) != 2 || got[0].Description != "2" || got[1].Description != "1" || got[0].Context != "dev/Status" {
		t.Errorf("page 1 = %+v, want the newest two", got)
	}
	if link := res.Header.Get("Link"); !strings.Contains(link, `page=2&per_page=2>; rel="next"`) {
		t.Errorf("Link = %q", link)
	}
	res, b = do(t, s, http.MethodGet, "/repos/acme/manifests/commits/"+other+"/statuses", "", "")
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("a commit without statuses: %d %s", res.StatusCode, b)
	}
	s.AssertValid(t)
}

func TestQueuedFaultsAnswerTheNextCallsInOrder(t *testing.T) {
	s := newFake(t)
	s.FailNext(OpCreateStatus, ServerError(http.StatusInternalServerError), ServerError(http.StatusBadGateway))
	var answers []int
	for range 3 {
		res, _ := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", status)
		answers = append(answers, res.StatusCode)
	}
	if fmt.Sprint(answers) != "[500 502 201]" {
		t.Errorf("answers = %v, want [500 502 201]", answers)
	}
	if n := len(s.Statuses("acme", "manifests", sha)); n != 1 {
		t.Errorf("%d statuses stored, want 1: faults must not store", n)
	}
	calls := s.Calls(OpCreateStatus)
	if len(calls) != 3 || calls[0].Fault == nil || calls[2].Fault != nil {
		t.Errorf("calls = %+v", calls)
	}
	s.AssertValid(t)
}

func TestFaultHeadersAndBodies(t *testing.T) {
	reset := time.Unix(1_900_000_000, 0)
	cases := []struct {
		name    string
		fault   Fault
		status  int
		headers map[string]string
		message string
	}{
		{"primary rate limit", RateLimit(reset), 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1900000000"}, "API rate limit exceeded"},
		{"secondary rate limit", SecondaryRateLimit(90 * time.Second), 403, map[string]string{"Retry-After": "90"}, "secondary rate limit"},
		{"secondary rate limit without Retry-After", SecondaryRateLimit(0), 403, map[string]string{"Retry-After": ""}, "secondary rate limit"},
		{"too many requests", TooManyRequests(7 * time.Second), 429, map[string]string{"Retry-After": "7"}, "Too Many Requests"},
		{"unprocessable", Error(422, "Validation Failed"), 422, nil, "Validation Failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFake(t)
			s.FailNext(OpDispatch, tc.fault)
			res, b := do(t, s, http.MethodPost, "/repos/acme/app/dispatches", "", `{"event_type":"sync-success"}`)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			for k, v := range tc.headers {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			var body struct{ Message string }
			if err := json.Unmarshal(b, &body); err != nil || !strings.Contains(body.Message, tc.message) {
				t.Errorf("body %s, want a message with %q", b, tc.message)
			}
			if len(s.AllDispatches()) != 0 {
				t.Error("a failed dispatch was recorded")
			}
		})
	}
}

func TestAppliedFaultLosesTheResponseButKeepsTheChange(t *testing.T) {
	s := newFake(t)
	s.FailNext(OpDispatch, Fault{Status: http.StatusBadGateway, Applied: true})
	res, _ := do(t, s, http.MethodPost, "/repos/acme/app/dispatches", "", `{"event_type":"sync-success"}`)
	if res.StatusCode != http.StatusBadGateway || len(s.Dispatches("acme", "app")) != 1 {
		t.Errorf("answer %d, dispatches %d: want 502 and one dispatch", res.StatusCode, len(s.Dispatches("acme", "app")))
	}
}

func TestHangingAnswerIsAbandonedWhenTheClientGivesUp(t *testing.T) {
	s := newFake(t)
	s.FailNext(OpCreateStatus, Hang())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/repos/acme/manifests/statuses/"+sha, strings.NewReader(status))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token())
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	s.Close() // waits for the handler
	calls := s.Calls(OpCreateStatus)
	if len(calls) != 1 || !calls[0].Abandoned || calls[0].Answer != 0 {
		t.Errorf("calls = %+v, want one abandoned call", calls)
	}
	if len(s.AllStatuses()) != 0 {
		t.Error("an abandoned request stored a status")
	}
}

func TestInjectorSeesEachCallNumbered(t *testing.T) {
	s := newFake(t)
	var seen []string
	s.Fail(func(c Call) *Fault {
		seen = append(seen, fmt.Sprintf("%s#%d %s/%s", c.Operation, c.N, c.Owner, c.Repo))
		if c.Operation == OpCreateStatus && c.N == 2 {
			f := ServerError(http.StatusServiceUnavailable)
			return &f
		}
		return nil
	})
	var answers []int
	for range 3 {
		res, _ := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", status)
		answers = append(answers, res.StatusCode)
	}
	do(t, s, http.MethodPost, "/repos/acme/app/dispatches", "", `{"event_type":"sync-success"}`)
	want := []string{
		OpCreateStatus + "#1 acme/manifests", OpCreateStatus + "#2 acme/manifests", OpCreateStatus + "#3 acme/manifests", OpDispatch + "#1 acme/app",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) || fmt.Sprint(answers) != "[201 503 201]" {
		t.Errorf("seen %v answers %v", seen, answers)
	}
	s.Fail(nil)
	if res, _ := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", status); res.StatusCode != http.StatusCreated || len(seen) != 4 {
		t.Errorf("after Fail(nil): %d, injector called %d times", res.StatusCode, len(seen))
	}
}

func TestRandomFaultsDependOnlyOnTheSeed(t *testing.T) {
	faults := []Fault{ServerError(500), ServerError(502), TooManyRequests(time.Second)}
	sequence := func(seed uint64) string {
		inject := Random(seed, 0.3, faults...)
		var b strings.Builder
		for range 1000 {
			if f := inject(Call{}); f != nil {
				fmt.Fprint(&b, f.Status, " ")
			} else {
				b.WriteString("- ")
			}
		}
		return b.String()
	}
	a, b := sequence(42), sequence(42)
	if a != b {
		t.Fatal("the same seed gave different faults")
	}
	if a == sequence(43) {
		t.Error("different seeds gave the same faults")
	}
	hits := 1000 - strings.Count(a, "-")
	if hits < 200 || hits > 400 {
		t.Errorf("%d of 1000 calls failed at rate 0.3", hits)
	}
	if Random(1, 0, faults...)(Call{}) != nil || Random(1, 1)(Call{}) != nil {
		t.Error("rate 0 or no faults injected a fault")
	}
}

func TestConcurrentRequestsAreAllRecorded(t *testing.T) {
	s := newFake(t)
	s.Fail(Random(7, 0.5, ServerError(500)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 20 {
		wg.Go(func() {
			res, _ := do(t, s, http.MethodPost, "/repos/acme/manifests/statuses/"+sha, "", status)
			if res.StatusCode == http.StatusCreated {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(s.Requests()) != 20 || len(s.Statuses("acme", "manifests", sha)) != created {
		t.Errorf("%d requests, %d statuses, %d created", len(s.Requests()), len(s.Statuses("acme", "manifests", sha)), created)
	}
	s.AssertValid(t)
}
