package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// A host in its own process group, so a test can kill it with its plugins
// at once, as the kernel does when a pod's container is killed.

type groupOptions struct {
	hostOptions
	// DataDir is passed as --data-dir when set.
	DataDir string
	// Wrap runs the host through a command that execs it, e.g. prlimit.
	Wrap []string
}

func hostCommand(t *testing.T, o groupOptions) *exec.Cmd {
	t.Helper()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--plugin-dir", filepath.Join(bin, "plugins"),
		"--subscribers-dir", filepath.Join(t.TempDir(), "none")}
	if o.DataDir != "" {
		args = append(args, "--data-dir", o.DataDir)
	}
	args = append(args, o.Args...)
	argv := append(append([]string{}, o.Wrap...), append([]string{filepath.Join(bin, "gitops-connector")}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range o.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// startGroupHost starts the host and waits until it is ready. When the test
// ends the host gets SIGTERM, and its process group SIGKILL after it exits,
// so no plugin outlives the test.
func startGroupHost(t *testing.T, o groupOptions) *host {
	t.Helper()
	cmd := hostCommand(t, o)
	h := &host{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	registerEnvSecrets(o.Env)
	trackLog(t.Name(), h.logs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		h.stop(t)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		checkNoSecrets(t, "the host's log", h.logs.String())
		if t.Failed() {
			t.Logf("host log:\n%s", h.logs.String())
		}
	})
	h.waitListening(t)
	h.waitReady(t)
	return h
}

// kill sends SIGKILL to the host and its plugins and waits for the host.
func (h *host) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
}

// runToExit runs a host that is expected to refuse to start, and returns
// its output and how it ended.
func runToExit(t *testing.T, o groupOptions) (string, error) {
	t.Helper()
	cmd := hostCommand(t, o)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	registerEnvSecrets(o.Env)
	trackLog(t.Name(), out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(60 * time.Second):
		t.Fatalf("the host did not exit:\n%s", out.String())
	}
	return "", nil
}

// messages returns the log lines with msg.
func (h *host) messages(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range h.logs.logLines() {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// finalMessages begin the one log line that ends the work of each event.
var finalMessages = []string{
	"event delivered", // and "event delivered; the orchestrator was already told ..."
	"orchestrator notified",
	"orchestrator had nothing to notify",
	"event dropped",
	"event given up",
	"notify orchestrator failed permanently",
	"deployment finished but no orchestrator plugin",
}

// finished counts the events whose work ended, by their final log line.
func (h *host) finished() int {
	n := 0
	for _, l := range h.logs.logLines() {
		msg, _ := l["msg"].(string)
		for _, f := range finalMessages {
			if strings.HasPrefix(msg, f) {
				n++
				break
			}
		}
	}
	return n
}

// readyz returns the status code and body of /readyz.
func (h *host) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(h.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A stream of deployments: commit i of the manifests repository merged the
// pull request of workflow run 5000+i, built from source commit i.

func streamSHA(i int) string    { return fmt.Sprintf("%08x%032x", 0xc0ffee00+i, i) }
func streamSource(i int) string { return fmt.Sprintf("%08x%032x", 0x50c0de00+i, i) }
func streamRunID(i int) string  { return fmt.Sprint(5000 + i) }

// newStreamGitHub is a fake GitHub holding n deployment commits.
func newStreamGitHub(t *testing.T, n int) *fakegithub.Server {
	fake := fakegithub.Start(t)
	fake.AddRepo(owner, manifests)
	fake.AddRepo(owner, actions)
	for i := range n {
		fake.SetCommit(owner, manifests, streamSHA(i),
			fmt.Sprintf("Merge pull request #%d from kaizentm/deploy/%s/%s\n\nDeploy hello-world", 100+i, streamRunID(i), streamSource(i)))
	}
	return fake
}

func progressingEvent(i int) []byte {
	return fluxEvent("Kustomization", "Progressing", progressingMessage, "main@sha1:"+streamSHA(i), "")
}

func succeededEvent(i int) []byte {
	revision := "main@sha1:" + streamSHA(i)
	return fluxEvent("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
}

// finalStates maps each context of commit i to the state GitHub shows: the
// last one posted.
func finalStates(fake *fakegithub.Server, i int) map[string]string {
	out := map[string]string{}
	for _, s := range fake.Statuses(owner, manifests, streamSHA(i)) {
		out[s.Context] = s.State
	}
	return out
}

// deployed is what GitHub shows for a commit after Progressing and
// ReconciliationSucceeded.
var deployed = map[string]string{"Status": "success", "Deployment": "success", "Service": "success", "HorizontalPodAutoscaler": "success"}

// dispatchesBySource counts the sync-success dispatches per source commit
// and fails the test on a dispatch that does not belong to the stream.
func dispatchesBySource(t *testing.T, fake *fakegithub.Server, n int) map[string]int {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		want[streamSource(i)] = streamRunID(i)
	}
	got := map[string]int{}
	for _, d := range fake.Dispatches(owner, actions) {
		src, _ := d.ClientPayload["sha"].(string)
		if d.EventType != "sync-success" || want[src] == "" || d.ClientPayload["runid"] != want[src] {
			t.Fatalf("unexpected dispatch %s %v", d.EventType, d.ClientPayload)
		}
		got[src]++
	}
	return got
}

// accept posts an event and fails the test unless it is answered 202. It
// may run on several goroutines.
func accept(t *testing.T, h *host, what string, i int, body []byte) {
	t.Helper()
	if a := h.post(t, "", body); a.Code != http.StatusAccepted {
		t.Errorf("%s event of commit %d: %d %s", what, i, a.Code, a.Raw)
	}
}
