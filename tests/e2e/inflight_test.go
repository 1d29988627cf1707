package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
)

// TestNotificationsBeyondTheBoundWaitAndAreAnswered503 holds the host's only
// turn with a sender that stalls in the middle of its body
// (--max-in-flight 1): another notification then gets no turn and is
// answered 503 with Retry-After once its wait is over (10 s), and is taken
// once the stalled one has finished.
func TestNotificationsBeyondTheBoundWaitAndAreAnswered503(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX"), Args: []string{"--max-in-flight", "1"}})
	revision := "main@sha1:" + sha
	body := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")

	// The stalled sender: headers and the first byte of its body.
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /gitopsphase HTTP/1.1\r\nHost: connector\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:1]); err != nil {
		t.Fatal(err)
	}

	// Until the stalled request holds the turn, a notification may still
	// get it first and be answered at once; then the next one must wait.
	var refused *http.Response
	for range 5 {
		resp, err := http.Post(h.URL+"/gitopsphase", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			refused = resp
			break
		}
		resp.Body.Close()
	}
	if refused == nil {
		t.Fatal("five notifications were answered while another held the only turn")
	}
	answer, _ := io.ReadAll(refused.Body)
	refused.Body.Close()
	if refused.Header.Get("Retry-After") != "1" || !strings.Contains(string(answer), "too many notifications in flight") {
		t.Errorf("503 with Retry-After %q and %s", refused.Header.Get("Retry-After"), answer)
	}

	// The stalled sender finishes: it is answered, and the turn is free.
	if _, err := conn.Write(body[1:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("the stalled notification was answered %d", resp.StatusCode)
	}
	if a := h.Post(t, "", body); !a.Taken() {
		t.Errorf("after the turn was freed: %d %s", a.Code, a.Raw)
	}
	if n := len(h.Log.Messages("notifications refused: too many in flight; senders should send them again")); n != 1 {
		t.Errorf("%d warnings of refused notifications, want 1", n)
	}
}
