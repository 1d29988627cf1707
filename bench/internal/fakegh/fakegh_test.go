package fakegh

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const sha = "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"

func startFake(t *testing.T, wait func(context.Context, time.Duration) error) *Server {
	t.Helper()
	s, err := start(wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func call(t *testing.T, method, url, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestTheFakeAnswersTheCallsOfADeliveryAndRecordsThem(t *testing.T) {
	s := startFake(t, sleep)
	org := s.OrgURL("kaizentm")
	tests := []struct {
		name, method, url, auth, body string
		want                          int
	}{
		{"status with a bearer token", http.MethodPost, org + "/gitops-manifests/statuses/" + strings.ToUpper(sha), "Bearer " + Token,
			`{"state":"pending","context":"Status","description":"dependency 'flux-system/infra' is not ready"}`, http.StatusCreated},
		{"status with a token token", http.MethodPost, org + "/gitops-manifests/statuses/" + sha, "token " + Token,
			`{"state":"success","context":"Status"}`, http.StatusCreated},
		{"commit", http.MethodGet, org + "/gitops-manifests/commits/" + sha, "Bearer " + Token, "", http.StatusOK},
		{"comparison", http.MethodGet, org + "/gitops-manifests/compare/" + strings.Repeat("a", 40) + "..." + sha + "?page=1&per_page=100", "Bearer " + Token, "", http.StatusOK},
		{"dispatch", http.MethodPost, org + "/hello-world/dispatches", "Bearer " + Token,
			`{"event_type":"sync-success","client_payload":{"sha":"` + sha + `","runid":"4242424242"}}`, http.StatusNoContent},
		{"wrong token", http.MethodPost, org + "/gitops-manifests/statuses/" + sha, "Bearer ghp_other",
			`{"state":"success","context":"Status"}`, http.StatusUnauthorized},
		{"no token", http.MethodGet, org + "/gitops-manifests/commits/" + sha, "", "", http.StatusUnauthorized},
		{"status without a context", http.MethodPost, org + "/gitops-manifests/statuses/" + sha, "Bearer " + Token,
			`{"state":"success"}`, http.StatusUnprocessableEntity},
		{"status that is not JSON", http.MethodPost, org + "/gitops-manifests/statuses/" + sha, "Bearer " + Token,
			`state=success`, http.StatusUnprocessableEntity},
		{"commit id that is not hex", http.MethodPost, org + "/gitops-manifests/statuses/main", "Bearer " + Token,
			`{"state":"success","context":"Status"}`, http.StatusNotFound},
		{"dispatch without an event type", http.MethodPost, org + "/hello-world/dispatches", "Bearer " + Token,
			`{"client_payload":{}}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		if got, _ := call(t, tt.method, tt.url, tt.auth, tt.body); got != tt.want {
			t.Errorf("%s: answer %d, want %d", tt.name, got, tt.want)
		}
	}

	base := strings.Repeat("b", 40)
	_, cmp := call(t, http.MethodGet, org+"/gitops-manifests/compare/"+base+"..."+sha, "Bearer "+Token, "")
	commits, _ := cmp["commits"].([]any)
	if len(commits) != 1 || fmt.Sprint(commits[0].(map[string]any)["parents"]) != "[map[sha:"+base+"]]" || cmp["total_commits"] != float64(1) {
		t.Errorf("comparison %v: want the head alone, its parent the base", cmp)
	}

	var got []string
	for _, st := range s.Statuses() {
		got = append(got, st.SHA+" "+st.Context+"="+st.State)
		if st.At.IsZero() {
			t.Errorf("status %+v has no arrival time", st)
		}
	}
	if want := []string{sha + " Status=pending", sha + " Status=success"}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if ds := s.Dispatches(); len(ds) != 1 || ds[0].SHA != sha || ds[0].EventType != "sync-success" || ds[0].Repo != "hello-world" {
		t.Errorf("dispatches %+v", ds)
	}
	if n := len(s.Rejected()); n != 6 {
		t.Errorf("%d rejected requests recorded, want 6: %v", n, s.Rejected())
	}
	if s.Requests() != int64(len(tests)+1) { // and the comparison
		t.Errorf("%d requests counted, want %d", s.Requests(), len(tests)+1)
	}
	if s.Connections() < 1 {
		t.Error("no connection counted")
	}

	s.Reset()
	if s.StatusCount() != 0 || s.DispatchCount() != 0 || len(s.Rejected()) != 0 {
		t.Error("Reset kept records")
	}
}

func TestACommitReadsWithAMergeMessageNamingItselfAsTheSource(t *testing.T) {
	s := startFake(t, sleep)
	code, body := call(t, http.MethodGet, s.OrgURL("kaizentm")+"/gitops-manifests/commits/"+sha, "Bearer "+Token, "")
	if code != http.StatusOK {
		t.Fatalf("answer %d", code)
	}
	commit, _ := body["commit"].(map[string]any)
	if msg, _ := commit["message"].(string); msg != mergeMessage(sha) || !strings.Contains(msg, "deploy/4242424242/"+sha) {
		t.Errorf("message %q", msg)
	}
	if body["sha"] != sha {
		t.Errorf("sha %v", body["sha"])
	}
}

func TestEveryAnswerWaitsTheDelayAndARequestGivenUpIsNotRecorded(t *testing.T) {
	var mu sync.Mutex
	var asked []time.Duration
	giveUp := false
	s := startFake(t, func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, d)
		if giveUp {
			return context.Canceled
		}
		return nil
	})
	url := s.OrgURL("kaizentm") + "/gitops-manifests/statuses/" + sha
	body := `{"state":"success","context":"Status"}`

	call(t, http.MethodPost, url, "Bearer "+Token, body)
	s.SetDelay(200 * time.Millisecond)
	call(t, http.MethodPost, url, "Bearer "+Token, body)
	mu.Lock()
	giveUp = true
	mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+Token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}

	mu.Lock()
	defer mu.Unlock()
	if want := []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(asked, want) {
		t.Errorf("waits %v, want %v (none before SetDelay)", asked, want)
	}
	if n := s.StatusCount(); n != 2 {
		t.Errorf("%d statuses recorded, want 2 (not the one given up)", n)
	}
}
