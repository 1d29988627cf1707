package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
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

// proc is how hostproc runs the host of o, in its own process group.
func (o groupOptions) proc() hostproc.Options {
	p := o.hostOptions.proc()
	if o.DataDir != "" {
		p.Args = append([]string{"--data-dir", o.DataDir}, p.Args...)
	}
	p.Wrap = o.Wrap
	p.ProcessGroup = true
	return p
}

// startGroupHost starts the host and waits until it is ready. When the test
// ends the host gets SIGTERM, and its process group SIGKILL after it exits,
// so no plugin outlives the test.
func startGroupHost(t *testing.T, o groupOptions) *host {
	t.Helper()
	return launchHost(t, o.proc())
}

// kill sends SIGKILL to the host and its plugins and waits for the host.
func (h *host) kill(t *testing.T) {
	t.Helper()
	if err := h.Kill(); err != nil {
		t.Fatal(err)
	}
}

// runToExit runs a host that is expected to refuse to start, and returns
// its output and how it ended.
func runToExit(t *testing.T, o groupOptions) (string, error) {
	t.Helper()
	po := o.proc()
	po.SubscribersDir = filepath.Join(t.TempDir(), "none")
	registerEnvSecrets(po.Env)
	p, err := hostproc.Launch(po)
	if err != nil {
		t.Fatal(err)
	}
	trackLog(t.Name(), p.Log)
	defer func() { _ = p.Kill() }()
	select {
	case <-p.Exited():
		return p.Log.String(), p.Err()
	case <-time.After(60 * time.Second):
		t.Fatalf("the host did not exit:\n%s", p.Log.String())
	}
	return "", nil
}

// finalMessages begin the one log line that ends the work of each event.
var finalMessages = []string{
	"event delivered",       // and "event delivered; the orchestrator was already told ..."
	"event changes nothing", // a repeat answered 200 unchanged, not recorded
	"orchestrator notified",
	"orchestrator had nothing to notify",
	"event dropped",
	"event given up",
	"notify orchestrator failed permanently",
	"deployment finished but no orchestrator plugin",
}

// finished counts the events whose work ended, by their final log line.
func (h *host) finished() int {
	return h.Log.CountPrefixed(finalMessages...)
}

// readyz returns the status code and body of /readyz.
func (h *host) readyz(t *testing.T) (int, string) {
	t.Helper()
	code, body, err := h.Readyz()
	if err != nil {
		t.Fatal(err)
	}
	return code, body
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
	return events.Flux("Kustomization", "Progressing", progressingMessage, "main@sha1:"+streamSHA(i), "")
}

func succeededEvent(i int) []byte {
	revision := "main@sha1:" + streamSHA(i)
	return events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
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
	if a := h.Post(t, "", body); !a.Taken() {
		t.Errorf("%s event of commit %d: %d %s", what, i, a.Code, a.Raw)
	}
}
