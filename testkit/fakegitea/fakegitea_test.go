package fakegitea

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	owner = "platform"
	repo  = "manifests"
	c1    = "1111111111111111111111111111111111111111"
	c2    = "2222222222222222222222222222222222222222"
	c3    = "3333333333333333333333333333333333333333"
	side  = "4444444444444444444444444444444444444444"
)

func do(t *testing.T, s *Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+APIPrefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+s.Token())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRequestsOutsideTheDescriptionAreRecordedAndRefused(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetCommit(owner, repo, c1, "m")
	if resp, _ := do(t, s, http.MethodPost, "/repos/platform/manifests/statuses/"+c1, `{"state":"succeeded"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("state succeeded answered %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, http.MethodGet, "/repos/platform/manifests/commits/"+c1+"/status", ""); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("combined status answered %d", resp.StatusCode)
	}
	if n := len(s.Errors()); n != 2 {
		t.Errorf("%d errors recorded, want 2: %v", n, s.Errors())
	}
	if len(s.Statuses(owner, repo, c1)) != 0 {
		t.Error("an invalid status was stored")
	}
}

func TestStatusesAreStoredAndListedNewestFirstByPage(t *testing.T) {
	s := Start(t)
	s.SetCommit(owner, repo, c1, "m")
	for i := range 55 {
		resp, _ := do(t, s, http.MethodPost, "/repos/platform/manifests/statuses/"+c1[:10], `{"state":"pending","context":"c`+string(rune('a'+i%3))+`","description":"d"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", resp.StatusCode)
		}
	}
	resp, body := do(t, s, http.MethodGet, "/repos/platform/manifests/commits/"+c1+"/statuses?sort=highestindex&limit=50&page=2", "")
	var page []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %v", resp.StatusCode, err)
	}
	if len(page) != 5 || page[0].ID != 5 || page[4].ID != 1 || resp.Header.Get("X-Total-Count") != "55" {
		t.Errorf("page 2: %+v, total %s", page, resp.Header.Get("X-Total-Count"))
	}
	if got := s.Statuses(owner, repo, c1); len(got) != 55 || got[54].Index != 55 || got[0].SHA != c1 {
		t.Errorf("stored %d statuses", len(got))
	}
	if resp, _ := do(t, s, http.MethodPost, "/repos/platform/manifests/statuses/"+c2, `{"state":"success"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown commit answered %d", resp.StatusCode)
	}
}

func TestCompareListsTheRangeNewestFirstFromTheMergeBase(t *testing.T) {
	s := Start(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SetCommitAt(owner, repo, c1, "one", t0)
	s.SetCommitAt(owner, repo, c2, "two", t0.Add(time.Minute), c1)
	s.SetCommitAt(owner, repo, c3, "three", t0.Add(2*time.Minute), c2)
	s.SetCommitAt(owner, repo, side, "side", t0.Add(3*time.Minute), c1)
	ids := func(basehead string) []string {
		resp, body := do(t, s, http.MethodGet, "/repos/platform/manifests/compare/"+basehead, "")
		var cmp struct {
			Total   int `json:"total_commits"`
			Commits []struct {
				SHA     string `json:"sha"`
				Parents []struct {
					SHA string `json:"sha"`
				} `json:"parents"`
			} `json:"commits"`
		}
		if err := json.Unmarshal(body, &cmp); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("compare %s: %d %v", basehead, resp.StatusCode, err)
		}
		var out []string
		for _, c := range cmp.Commits {
			out = append(out, c.SHA[:1])
		}
		if cmp.Total != len(out) {
			t.Errorf("total %d for %d commits", cmp.Total, len(out))
		}
		return out
	}
	if got := strings.Join(ids(c1+"..."+c3), ""); got != "32" {
		t.Errorf("c1...c3 = %s, want 32", got)
	}
	if got := strings.Join(ids(side+"..."+c3), ""); got != "32" {
		t.Errorf("side...c3 (merge base c1) = %s, want 32", got)
	}
	if got := ids(c3 + "..." + c1); len(got) != 0 {
		t.Errorf("c3...c1 = %v, want nothing", got)
	}
}

func TestDispatchNeedsTheWorkflowAndTheToken(t *testing.T) {
	s := Start(t)
	s.AddWorkflow(owner, "app", "sync-success.yaml")
	path := "/repos/platform/app/actions/workflows/sync-success.yaml/dispatches"
	if resp, _ := do(t, s, http.MethodPost, path, `{"ref":"main","inputs":{"sha":"abc","runid":"7"}}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("dispatch: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, http.MethodPost, "/repos/platform/app/actions/workflows/other.yaml/dispatches", `{"ref":"main"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown workflow: %d", resp.StatusCode)
	}
	d := s.Dispatches(owner, "app")
	if len(d) != 1 || d[0].Ref != "main" || d[0].Inputs["runid"] != "7" || d[0].Workflow != "sync-success.yaml" {
		t.Errorf("dispatches %+v", d)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+APIPrefix+path, strings.NewReader(`{"ref":"main"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "token wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(s.Dispatches(owner, "app")) != 1 {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	if calls := s.Calls(OpDispatch); len(calls) != 3 || calls[0].AuthScheme != "token" {
		t.Errorf("calls %+v", calls)
	}
}

func TestFaultsAnswerInsteadAndAppliedOnesStillTakeEffect(t *testing.T) {
	s := Start(t)
	s.SetCommit(owner, repo, c1, "m")
	s.FailNext(OpCreateStatus, RetryAfter(http.StatusTooManyRequests, 9*time.Second), Fault{Status: http.StatusBadGateway, Applied: true})
	resp, _ := do(t, s, http.MethodPost, "/repos/platform/manifests/statuses/"+c1, `{"state":"success","context":"Status"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "9" {
		t.Errorf("first: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = do(t, s, http.MethodPost, "/repos/platform/manifests/statuses/"+c1, `{"state":"success","context":"Status"}`)
	if resp.StatusCode != http.StatusBadGateway || len(s.Statuses(owner, repo, c1)) != 1 {
		t.Errorf("applied fault: %d, %d statuses", resp.StatusCode, len(s.Statuses(owner, repo, c1)))
	}
}
