package hostproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// Start launches the host described by o and waits until it listens and is
// ready (WaitListening, WaitReady). When the test ends the host is stopped
// (Stop; with ProcessGroup its group is killed after it), o.Stopped is
// called and, if the test failed, the host's log is shown. Any failure
// to start fails the test.
func Start(t testing.TB, o Options) *Process {
	t.Helper()
	if o.SubscribersDir == "" {
		o.SubscribersDir = filepath.Join(t.TempDir(), "none")
	}
	p, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
		if p.group {
			if err := p.Kill(); err != nil {
				t.Error(err)
			}
		}
		if o.Stopped != nil {
			o.Stopped(p)
		}
		if t.Failed() {
			t.Logf("host log:\n%s", p.Log.String())
		}
	})
	if err := p.WaitListening(); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Eventually polls cond until it returns "" and fails the test with what
// and cond's last word if it has not within patience. The bound only ends
// a stuck test; nothing asserts how long the host takes.
func Eventually(t testing.TB, patience time.Duration, what string, cond func() string) {
	t.Helper()
	if err := poll(patience, nil, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// settledPrefixes begin the log lines that end the delivery of an event
// the host accepted: "event delivered…", or "orchestrator …" for an event
// that finished a deployment, or "event changes nothing…" for one answered
// 200 unchanged (not recorded).
var settledPrefixes = []string{"event delivered", "orchestrator ", "event changes nothing"}

// Settle waits until the host has no delivery in flight: its log has a line
// that ends the delivery (see settledPrefixes) for each of the accepted
// events.
func (p *Process) Settle(t testing.TB, accepted int) {
	t.Helper()
	Eventually(t, p.patience, "deliveries to finish", func() string {
		if done := p.Log.CountPrefixed(settledPrefixes...); done < accepted {
			return fmt.Sprintf("%d of %d events delivered", done, accepted)
		}
		return ""
	})
}

// Answer is the host's JSON answer to an event.
type Answer struct {
	// Code is the HTTP status code.
	Code     int
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Config   string `json:"config"`
	Commit   string `json:"commit"`
	Statuses int    `json:"statuses"`
	Finished bool   `json:"finished"`
	// Raw is the body as it came.
	Raw string
}

// Taken reports whether the host took the event: accepted it (202), or
// found it changes nothing (200 unchanged: Flux's repeat of a finished
// commit, when its first event was delivered already).
func (a Answer) Taken() bool {
	return a.Code == http.StatusAccepted || (a.Code == http.StatusOK && a.Status == "unchanged")
}

// Post sends an event body to path ("/gitopsphase" when empty) and returns
// the answer. It fails the test if the request fails or the answer is not
// JSON.
func (p *Process) Post(t testing.TB, path string, body []byte) Answer {
	t.Helper()
	return p.PostWith(t, path, body, nil)
}

// Accept posts an event body to path like Post and fails the test unless
// the host took it (Answer.Taken: 202, or 200 unchanged for a repeat), so
// a refused event fails at once rather than as a Settle that waits in vain.
func (p *Process) Accept(t testing.TB, path string, body []byte) Answer {
	t.Helper()
	a := p.PostWith(t, path, body, nil)
	if !a.Taken() {
		t.Fatalf("event not accepted: %d %s", a.Code, a.Raw)
	}
	return a
}

// PostWith is Post with headers beyond Content-Type: application/json, such
// as a sender's credentials.
func (p *Process) PostWith(t testing.TB, path string, body []byte, header map[string]string) Answer {
	t.Helper()
	if path == "" {
		path = "/gitopsphase"
	}
	req, err := http.NewRequest(http.MethodPost, p.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer of POST %s: %v", path, err)
	}
	a := Answer{Code: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON: %d %q", resp.StatusCode, raw)
	}
	return a
}
