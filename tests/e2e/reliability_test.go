package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// The delivery guarantees (docs/reliability.md), tested against the host
// and plugin processes with a fake GitHub that fails as told.

// waitFinished waits until n events ended, by their final log lines.
func (h *host) waitFinished(t *testing.T, n int) {
	t.Helper()
	eventually(t, "events to finish", func() string {
		if got := h.finished(); got < n {
			return fmt.Sprintf("%d of %d events finished", got, n)
		}
		return ""
	})
}

// checkDelivered fails unless every commit shows the deployed states and
// got exactly one dispatch, and no work was given up.
func checkDelivered(t *testing.T, fake *fakegithub.Server, hosts []*host, commits int) {
	t.Helper()
	for i := range commits {
		if got := finalStates(fake, i); !maps.Equal(got, deployed) {
			t.Errorf("commit %d shows %v, want %v", i, got, deployed)
		}
	}
	got := dispatchesBySource(t, fake, commits)
	for i := range commits {
		if n := got[streamSource(i)]; n != 1 {
			t.Errorf("commit %d: %d dispatches, want exactly 1", i, n)
		}
	}
	for _, h := range hosts {
		for _, msg := range []string{"event given up: retried until the event's maximum age", "post status failed permanently",
			"notify orchestrator failed permanently", "event dropped: its config no longer exists or is invalid"} {
			if n := len(h.Log.Messages(msg)); n > 0 {
				t.Errorf("%d times %q", n, msg)
			}
		}
	}
}

func TestUnderAPIFaultsEveryStatusAndDispatchIsDeliveredAndEachDispatchOnce(t *testing.T) {
	const commits = 20
	fake := newStreamGitHub(t, commits)
	retryable := []fakegithub.Fault{
		fakegithub.ServerError(500),
		fakegithub.ServerError(502),
		fakegithub.ServerError(503),
		fakegithub.TooManyRequests(time.Second),
		fakegithub.SecondaryRateLimit(time.Second), // 403 with Retry-After
		{Delay: 300 * time.Millisecond},            // a slow answer
	}
	// A status stored whose answer is lost is posted again: harmless. A
	// dispatch is never faulted so: GitHub cannot tell whether one arrived.
	lostAnswer := fakegithub.Fault{Status: http.StatusBadGateway, Applied: true}
	statusFaults := fakegithub.Random(20261124, 0.3, append(retryable, lostAnswer)...)
	otherFaults := fakegithub.Random(7, 0.3, retryable...)
	fake.Fail(func(c fakegithub.Call) *fakegithub.Fault {
		if c.Operation == fakegithub.OpCreateStatus {
			return statusFaults(c)
		}
		return otherFaults(c)
	})
	// And one dispatch times out: the plugin's HTTP client gives up after
	// 30 s, GitHub never carried it out, the host sends it again.
	fake.FailNext(fakegithub.OpDispatch, fakegithub.Hang())

	h := startGroupHost(t, groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX")}, DataDir: t.TempDir()})
	var wg sync.WaitGroup
	for i := range commits {
		wg.Add(1)
		go func() { // commits in parallel, the events of one in order
			defer wg.Done()
			accept(t, h, "progressing", i, progressingEvent(i))
			accept(t, h, "succeeded", i, succeededEvent(i))
			accept(t, h, "succeeded again", i, succeededEvent(i)) // Flux repeats it
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	h.waitFinished(t, 3*commits)
	checkDelivered(t, fake, []*host{h}, commits)

	// The faults did happen.
	seen := map[string]bool{}
	for _, r := range fake.Requests() {
		switch {
		case r.Abandoned:
			seen["timeout"] = true
		case r.Fault != nil && r.Fault.Applied:
			seen["lost answer"] = true
		case r.Fault != nil && r.Fault.Delay > 0:
			seen["slow answer"] = true
		case r.Answer >= 500:
			seen["5xx"] = true
		case r.Answer == http.StatusTooManyRequests:
			seen["429"] = true
		case r.Answer == http.StatusForbidden:
			seen["403 Retry-After"] = true
		}
	}
	for _, f := range []string{"timeout", "lost answer", "slow answer", "5xx", "429", "403 Retry-After"} {
		if !seen[f] {
			t.Errorf("no %s was injected", f)
		}
	}
}

func TestAHostKilledMidStreamDeliversEveryAcceptedEventAfterARestartAndDispatchesEachOnce(t *testing.T) {
	const (
		commits = 40
		killAt  = 30 // commits posted before the kill
		told    = 5  // dispatches that complete before the kill
	)
	fake := newStreamGitHub(t, commits)
	var killed atomic.Bool
	fake.Fail(func(c fakegithub.Call) *fakegithub.Fault {
		if !killed.Load() && c.Operation == fakegithub.OpDispatch && c.N > told {
			// In flight when the host dies: GitHub never carries it out.
			f := fakegithub.Hang()
			return &f
		}
		return &fakegithub.Fault{Delay: 20 * time.Millisecond} // GitHub is slow today
	})
	dataDir := t.TempDir()
	opts := groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX")}, DataDir: dataDir}
	h1 := startGroupHost(t, opts)
	postCommits := func(h *host, from, to int) {
		for i := from; i < to; i++ {
			accept(t, h, "progressing", i, progressingEvent(i))
			accept(t, h, "succeeded", i, succeededEvent(i))
		}
	}
	postCommits(h1, 0, 20)
	eventually(t, "the first dispatches", func() string {
		if n := len(h1.Log.Messages("orchestrator notified")); n < told {
			return fmt.Sprintf("%d of %d", n, told)
		}
		return ""
	})
	postCommits(h1, 20, killAt)
	if t.Failed() {
		t.FailNow()
	}
	h1.kill(t)
	before := dispatchesBySource(t, fake, commits)
	if len(before) != told {
		t.Fatalf("%d commits dispatched before the kill, want %d", len(before), told)
	}
	killed.Store(true)

	h2 := startGroupHost(t, opts)
	resumed := h2.Log.Messages("resuming events recorded before the restart")
	if len(resumed) != 1 {
		t.Fatal("the restarted host did not resume the recorded events")
	}
	pending := int(resumed[0]["events"].(float64))
	if pending == 0 {
		t.Fatal("nothing was pending at the kill: the test did not kill mid-stream")
	}
	t.Logf("killed with %d of %d accepted events pending", pending, 2*killAt)
	postCommits(h2, killAt, commits) // the rest of the stream
	for i := range commits {         // Flux repeats every finished reconciliation
		accept(t, h2, "succeeded again", i, succeededEvent(i))
	}
	if t.Failed() {
		t.FailNow()
	}
	h2.waitFinished(t, pending+2*(commits-killAt)+commits)
	checkDelivered(t, fake, []*host{h1, h2}, commits)

	// What was delivered before the kill was not posted again.
	for i := range commits {
		if before[streamSource(i)] == 0 {
			continue
		}
		if n := len(fake.Statuses(owner, manifests, streamSHA(i))); n != 6 {
			t.Errorf("commit %d, done before the kill, has %d statuses, want 6 (none posted again)", i, n)
		}
	}
}

func TestAKilledPluginIsRestartedAndItsDeliveriesCompleteWithoutLossOrRepeat(t *testing.T) {
	const commits, told = 20, 3
	fake := newStreamGitHub(t, commits)
	var held atomic.Int32
	var hold atomic.Bool
	hold.Store(true)
	fake.Fail(func(c fakegithub.Call) *fakegithub.Fault {
		if hold.Load() && c.Operation == fakegithub.OpDispatch && c.N > told {
			held.Add(1) // in flight when the plugin dies: never carried out
			f := fakegithub.Hang()
			return &f
		}
		return &fakegithub.Fault{Delay: 10 * time.Millisecond}
	})
	h := startGroupHost(t, groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX")}})
	for i := range commits {
		accept(t, h, "progressing", i, progressingEvent(i))
		accept(t, h, "succeeded", i, succeededEvent(i))
	}
	if t.Failed() {
		t.FailNow()
	}
	eventually(t, "dispatches in flight", func() string {
		if n := len(h.Log.Messages("orchestrator notified")); n < told || held.Load() == 0 {
			return fmt.Sprintf("%d dispatched, %d in flight", n, held.Load())
		}
		return ""
	})
	pid := githubPluginPID(t, h)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	hold.Store(false)

	h.waitFinished(t, 2*commits)
	checkDelivered(t, fake, []*host{h}, commits)
	if len(h.Log.Messages("plugin process exited; restarting")) == 0 {
		t.Error("the host did not log the plugin's restart")
	}
	if restarted := githubPluginPID(t, h); restarted == pid {
		t.Errorf("the github plugin still has pid %d", pid)
	}
	if code, body := h.readyz(t); code != http.StatusOK {
		t.Errorf("/readyz %d %s after the plugin restarted", code, body)
	}
}

// githubPluginPID returns the pid of the github plugin's latest process.
func githubPluginPID(t *testing.T, h *host) int {
	t.Helper()
	pid := 0
	for _, l := range h.Log.Messages("plugin started") {
		if l["plugin"] == "github" {
			pid = int(l["pid"].(float64))
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(bundle.PluginDir(), "github"))) {
		t.Fatalf("pid %d is not the github plugin (%q, %v)", pid, cmdline, err)
	}
	return pid
}

func TestADamagedStoreKeepsTheHostFromStartingWithAClearError(t *testing.T) {
	fake := newGitHub(t)
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "gitops-connector.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runToExit(t, groupOptions{hostOptions: hostOptions{Env: githubEnv(fake, "FLUX")}, DataDir: dataDir})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("host ended with %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"the store file is corrupted", path, "move the file aside"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gitops-connector listening") {
		t.Error("the host listened with a damaged store")
	}
}

func TestWhenTheStoreCannotGrowTheHostRefusesEventsIsNotReadyAndDeliversWhatItAccepted(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("this test needs prlimit (util-linux): %v", err)
	}
	const commits = 40
	fake := newStreamGitHub(t, commits)
	var down atomic.Bool
	down.Store(true)
	fake.Fail(func(c fakegithub.Call) *fakegithub.Fault {
		if down.Load() { // GitHub is down: accepted events pile up in the store
			f := fakegithub.ServerError(http.StatusServiceUnavailable)
			return &f
		}
		return nil
	})
	// The host may write files of at most 64 KiB: its store cannot grow
	// past that, as on a full disk.
	h := startGroupHost(t, groupOptions{
		hostOptions: hostOptions{Env: githubEnv(fake, "FLUX")},
		DataDir:     t.TempDir(),
		Wrap:        []string{prlimit, "--fsize=65536:unlimited", "--"},
	})
	accepted := map[int]int{} // commit → events accepted, in order
	next := 0
	var refusal hostproc.Answer
	for ; next < commits && refusal.Code == 0; next++ {
		for _, body := range [][]byte{progressingEvent(next), succeededEvent(next)} {
			a := h.Post(t, "", body)
			if a.Code != http.StatusAccepted {
				refusal = a
				break
			}
			accepted[next]++
		}
	}
	if refusal.Code != http.StatusServiceUnavailable || !strings.Contains(refusal.Reason, "cannot record the event") ||
		!strings.Contains(refusal.Reason, "file too large") {
		t.Fatalf("after %d commits: %d %q, want 503 saying the event could not be recorded", next, refusal.Code, refusal.Reason)
	}
	if len(accepted) < 2 {
		t.Fatalf("only %d commits accepted before the store was full", len(accepted))
	}
	if a := h.Post(t, "", progressingEvent(next)); a.Code != http.StatusServiceUnavailable {
		t.Fatalf("next event: %d %s, want 503 while the store cannot take it", a.Code, a.Raw)
	}
	if code, body := h.readyz(t); code != http.StatusServiceUnavailable || !strings.Contains(body, "the event store does not take writes") {
		t.Fatalf("/readyz %d %s, want 503 naming the store", code, body)
	}

	// Space is freed and GitHub is back.
	if out, err := exec.Command(prlimit, "--pid", fmt.Sprint(h.Cmd.Process.Pid), "--fsize=unlimited:unlimited").CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v %s", err, out)
	}
	down.Store(false)
	eventually(t, "the host to be ready again", func() string {
		if code, body := h.readyz(t); code != http.StatusOK {
			return body
		}
		return ""
	})
	for i := next; i < commits; i++ {
		for _, body := range [][]byte{progressingEvent(i), succeededEvent(i)} {
			if a := h.Post(t, "", body); a.Code != http.StatusAccepted {
				t.Fatalf("commit %d after recovery: %d %s", i, a.Code, a.Raw)
			}
			accepted[i]++
		}
	}
	total := 0
	for _, n := range accepted {
		total += n
	}
	h.waitFinished(t, total)
	dispatched := dispatchesBySource(t, fake, commits)
	for i, n := range accepted {
		states := finalStates(fake, i)
		switch n {
		case 2:
			if !maps.Equal(states, deployed) || dispatched[streamSource(i)] != 1 {
				t.Errorf("commit %d: %v, %d dispatches; want deployed and 1", i, states, dispatched[streamSource(i)])
			}
		case 1: // only Progressing was accepted
			if states["Deployment"] != "success" || states["Status"] != "pending" || dispatched[streamSource(i)] != 0 {
				t.Errorf("commit %d: %v, %d dispatches; want Progressing shown and none", i, states, dispatched[streamSource(i)])
			}
		}
	}
	for i := range commits {
		if accepted[i] == 0 && len(fake.Statuses(owner, manifests, streamSHA(i))) > 0 {
			t.Errorf("commit %d was refused but has statuses", i)
		}
	}
}
