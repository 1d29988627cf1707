package intake

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/sdk"
)

type fakeRouter struct {
	// target is the config Target finds; nil: none.
	target   *config.Config
	decision routing.Decision
	err      error
	got      routing.Request
	// routed counts the calls of Route: the bodies an operator plugin saw.
	routed int
}

func (f *fakeRouter) Target(routing.Request) (config.Config, bool) {
	if f.target == nil {
		return config.Config{}, false
	}
	return *f.target, true
}

func (f *fakeRouter) Route(_ context.Context, req routing.Request) (routing.Decision, error) {
	f.got = req
	f.routed++
	return f.decision, f.err
}

type fakeQueue struct {
	mu        sync.Mutex
	jobs      []pipeline.Job
	err       error
	unchanged bool // answer that the job changes nothing
}

func (q *fakeQueue) Submit(j pipeline.Job) (pipeline.Submitted, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.err != nil:
		return pipeline.Recorded, q.err
	case q.unchanged:
		return pipeline.Unchanged, nil
	}
	q.jobs = append(q.jobs, j)
	return pipeline.Recorded, nil
}

const sha = "0123456789abcdef0123456789abcdef01234567"

func handled() routing.Decision {
	return routing.Decision{Handled: true, Config: config.Config{Name: "default"}, Result: sdk.ParseResult{
		Handled: true, CommitID: sha, Finished: true, Successful: true,
		Statuses: []sdk.Status{{Name: "Status"}, {Name: "Health"}},
	}}
}

func serve(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	if h.Logger == nil {
		h.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := httptest.NewServer(h.Routes())
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, url, body string) (int, Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, r, string(raw)
}

func TestAnswers(t *testing.T) {
	secretBody := `{"message":"super-secret-value","commitid":"` + sha + `"}`
	tests := []struct {
		name     string
		router   *fakeRouter
		queue    *fakeQueue
		path     string
		body     string
		code     int
		status   string
		reason   string
		wantJobs int
	}{
		{"accepted", &fakeRouter{decision: handled()}, &fakeQueue{}, "/gitopsphase", secretBody, 202, "accepted", "", 1},
		{"ignored", &fakeRouter{decision: routing.Decision{Reason: "NewArtifact events are not acted on"}}, &fakeQueue{}, "/gitopsphase", secretBody, 200, "ignored", "NewArtifact", 0},
		{"unchanged", &fakeRouter{decision: handled()}, &fakeQueue{unchanged: true}, "/gitopsphase", secretBody, 200, "unchanged", "", 0},
		{"not json", &fakeRouter{}, &fakeQueue{}, "/gitopsphase", "commitid=1", 400, "rejected", "body must be a JSON object", 0},
		{"json array", &fakeRouter{}, &fakeQueue{}, "/gitopsphase", "[1,2]", 400, "rejected", "body must be a JSON object", 0},
		{"empty", &fakeRouter{}, &fakeQueue{}, "/gitopsphase", "", 400, "rejected", "body must be a JSON object", 0},
		{"operator says bad input", &fakeRouter{err: fmt.Errorf("%w: commitid must be a string", routing.ErrBadInput)}, &fakeQueue{}, "/gitopsphase", secretBody, 400, "rejected", "commitid must be a string", 0},
		{"operator plugin down", &fakeRouter{err: sdk.Retryable(errors.New("plugin flux is restarting"), 0)}, &fakeQueue{}, "/gitopsphase", secretBody, 503, "unavailable", "send again", 0},
		{"queue closed", &fakeRouter{decision: handled()}, &fakeQueue{err: pipeline.ErrClosed}, "/gitopsphase", secretBody, 503, "unavailable", "shutting down", 0},
		{"too large", &fakeRouter{decision: handled()}, &fakeQueue{}, "/gitopsphase", `{"m":"` + strings.Repeat("x", 2000) + `"}`, 413, "rejected", "larger than 1024 bytes", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, &Handler{Router: tt.router, Queue: tt.queue, MaxBodyBytes: 1024})
			code, r, raw := post(t, s.URL+tt.path, tt.body)
			if code != tt.code || r.Status != tt.status || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("got %d %+v, want %d %s %q", code, r, tt.code, tt.status, tt.reason)
			}
			if strings.Contains(raw, "super-secret-value") {
				t.Fatal("the answer echoes the body")
			}
			if len(tt.queue.jobs) != tt.wantJobs {
				t.Fatalf("%d jobs queued, want %d", len(tt.queue.jobs), tt.wantJobs)
			}
		})
	}
}

func TestAcceptedEventBecomesAJob(t *testing.T) {
	q := &fakeQueue{}
	s := serve(t, &Handler{Router: &fakeRouter{decision: handled()}, Queue: q})
	code, r, _ := post(t, s.URL+"/gitopsphase", `{}`)
	if code != 202 || r.Commit != sha || r.Statuses != 2 || !r.Finished || r.Config != "default" || r.Event == "" {
		t.Fatalf("%d %+v", code, r)
	}
	j := q.jobs[0]
	if j.ID != r.Event || j.CommitID != sha || len(j.Statuses) != 2 || !j.Finished || !j.Successful || j.Received.IsZero() {
		t.Fatalf("job %+v", j)
	}
}

// An event the pipeline finds changes nothing is answered 200
// "unchanged", with its commit, and counted as such.
func TestAnEventThatChangesNothingIsAnswered200AndCounted(t *testing.T) {
	rec := &recorder{}
	s := serve(t, &Handler{Router: &fakeRouter{decision: handled()}, Queue: &fakeQueue{unchanged: true}, Metrics: rec})
	code, r, _ := post(t, s.URL+"/gitopsphase", `{}`)
	if code != 200 || r.Status != "unchanged" || r.Commit != sha || r.Config != "default" || !r.Finished || r.Event == "" {
		t.Fatalf("%d %+v", code, r)
	}
	if len(rec.events) != 1 || !strings.HasSuffix(rec.events[0], "/unchanged") {
		t.Errorf("metrics counted %v", rec.events)
	}
}

func TestPathNamesTheConfig(t *testing.T) {
	for path, want := range map[string]routing.Request{
		"/gitopsphase/prod":        {Name: "prod"},
		"/gitopsphase/team-a/prod": {Namespace: "team-a", Name: "prod"},
		"/gitopsphase":             {},
	} {
		fr := &fakeRouter{decision: routing.Decision{Reason: "x"}}
		s := serve(t, &Handler{Router: fr, Queue: &fakeQueue{}})
		post(t, s.URL+path, `{}`)
		if fr.got.Name != want.Name || fr.got.Namespace != want.Namespace {
			t.Errorf("%s routed as %+v, want %+v", path, fr.got, want)
		}
	}
}

func TestNotReadyRefusesEventsAndFailsReadyz(t *testing.T) {
	q := &fakeQueue{}
	s := serve(t, &Handler{Router: &fakeRouter{decision: handled()}, Queue: q, Ready: func() string { return "configuration not loaded yet" }})
	code, r, _ := post(t, s.URL+"/gitopsphase", `{}`)
	if code != 503 || !strings.Contains(r.Reason, "not loaded") || len(q.jobs) != 0 {
		t.Fatalf("%d %+v", code, r)
	}
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz = %d, want 503", resp.StatusCode)
	}
	resp, _ = http.Get(s.URL + "/healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz = %d, want 200", resp.StatusCode)
	}
}

func TestWrongMethodAndPathAre4xx(t *testing.T) {
	s := serve(t, &Handler{Router: &fakeRouter{}, Queue: &fakeQueue{}})
	resp, _ := http.Get(s.URL + "/gitopsphase")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /gitopsphase = %d", resp.StatusCode)
	}
	resp, _ = http.Post(s.URL+"/elsewhere", "application/json", strings.NewReader("{}"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /elsewhere = %d", resp.StatusCode)
	}
}

func TestAPathThatIsNoEndpointIs404WithTheReasonNeverARedirect(t *testing.T) {
	router := &fakeRouter{decision: handled()}
	s := serve(t, &Handler{Router: router, Queue: &fakeQueue{}})
	for _, p := range []string{
		"/gitopsphase/../admin",
		"/gitopsphase/%2e%2e/admin",
		"/gitopsphase/../gitopsphase",
		"/gitopsphase/./prod",
		"/gitopsphase/team-a/../prod",
		"//gitopsphase",
		"/gitopsphase//prod",
		"/gitopsphase/",
		"/gitopsphase/a/b/c",
		"/admin",
		"*",
	} {
		req, err := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		// Send the path as written: the client does not clean it either.
		req.URL.Opaque = "//" + req.URL.Host + p
		if p == "*" { // the request target of OPTIONS *, sent with another method
			req.URL.Opaque = p
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var got Response
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || err != nil || got.Reason == "" || resp.Header.Get("Location") != "" {
			t.Errorf("POST %s = %d %+v (%v), Location %q; want 404 with the reason", p, resp.StatusCode, got, err, resp.Header.Get("Location"))
		}
	}
	if router.routed != 0 {
		t.Errorf("%d bodies reached the router", router.routed)
	}
}

func TestASlowClientDoesNotDelayOthers(t *testing.T) {
	q := &fakeQueue{}
	s := serve(t, &Handler{Router: &fakeRouter{decision: handled()}, Queue: q})
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and a part of the body; the rest never comes while we test.
	fmt.Fprintf(conn, "POST /gitopsphase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
	done := make(chan int, 1)
	go func() {
		code, _, _ := post(t, s.URL+"/gitopsphase", `{}`)
		done <- code
	}()
	select {
	case code := <-done:
		if code != 202 {
			t.Fatalf("code %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a slow client blocked another request")
	}
}

func TestEveryAnswerIsJSONAndNotSniffed(t *testing.T) {
	s := serve(t, &Handler{Router: &fakeRouter{decision: handled()}, Queue: &fakeQueue{}})
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/gitopsphase"}, {http.MethodGet, "/gitopsphase"}, {http.MethodPost, "/elsewhere"},
		{http.MethodGet, "/healthz"}, {http.MethodGet, "/readyz"},
	} {
		req, _ := http.NewRequest(r.method, s.URL+r.path, strings.NewReader(`{"commitid":"`+sha+`"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct, ns := resp.Header.Values("Content-Type"), resp.Header.Values("X-Content-Type-Options"); len(ct) != 1 || ct[0] != "application/json" || len(ns) != 1 || ns[0] != "nosniff" {
			t.Errorf("%s %s: Content-Type %q, X-Content-Type-Options %q", r.method, r.path, ct, ns)
		}
	}
}

func TestABodyShorterThanItsLengthIsRejectedAndNotRecorded(t *testing.T) {
	q := &fakeQueue{}
	router := &fakeRouter{decision: handled()}
	s := serve(t, &Handler{Router: router, Queue: q})
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"commitid":"` + sha + `"}`
	fmt.Fprintf(conn, "POST /gitopsphase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body)+10, body)
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Response
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusBadRequest || got.Reason != "body could not be read" {
		t.Fatalf("%d %+v (%v), want 400: the body could not be read", resp.StatusCode, got, err)
	}
	if len(q.jobs) != 0 || router.routed != 0 {
		t.Fatalf("%d jobs recorded, %d bodies routed", len(q.jobs), router.routed)
	}
}
