package hostproc_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

func TestArgvPutsTheWrapperFirstAndTheTestsArgumentsLast(t *testing.T) {
	o := hostproc.Options{
		Binary:         "/b/gitops-connector",
		PluginDirs:     []string{"/b/plugins", "/extra"},
		SubscribersDir: "/subs",
		Args:           []string{"--dry-run", "--subscribers-dir", "/other"},
		Wrap:           []string{"prlimit", "--fsize=1024"},
	}
	want := []string{"prlimit", "--fsize=1024", "/b/gitops-connector", "serve", "--listen", "127.0.0.1:0",
		"--plugin-dir", "/b/plugins:/extra", "--subscribers-dir", "/subs", "--dry-run", "--subscribers-dir", "/other"}
	if got := o.Argv(); !slices.Equal(got, want) {
		t.Fatalf("Argv\n got %q\nwant %q", got, want)
	}
	if o.Argv(); !slices.Equal(o.Wrap, []string{"prlimit", "--fsize=1024"}) {
		t.Fatalf("Argv changed Wrap: %q", o.Wrap)
	}

	o = hostproc.Options{Binary: "/b/gitops-connector", PluginDirs: []string{"/b/plugins"}}
	want = []string{"/b/gitops-connector", "serve", "--listen", "127.0.0.1:0", "--plugin-dir", "/b/plugins"}
	if got := o.Argv(); !slices.Equal(got, want) {
		t.Fatalf("Argv without subscribers directory\n got %q\nwant %q", got, want)
	}
}

func TestEnvironHasOnlyPathHomeAndTheGivenVariablesInOrder(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("HOME", "/home/tester")
	t.Setenv("PAT", "from-the-test-process")
	o := hostproc.Options{Env: map[string]string{"PAT": "given", "CLUSTER_DOMAIN": "example.com", "A_EMPTY": ""}}
	want := []string{"PATH=/usr/bin:/bin", "HOME=/home/tester", "A_EMPTY=", "CLUSTER_DOMAIN=example.com", "PAT=given"}
	if got := o.Environ(); !slices.Equal(got, want) {
		t.Fatalf("Environ\n got %q\nwant %q", got, want)
	}
}

func TestLogDecodesCompleteJSONLines(t *testing.T) {
	var l hostproc.Log
	for _, chunk := range []string{
		`{"msg":"plugin started","name":"flux"}` + "\n",
		"plain text of a plugin\n",
		`{"msg":"gitops-connector listening"}` + "\n", // no address
		`{"msg":"gitops-connector listening","addr":"127.0.0.1:4`,
	} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if addr, ok := l.ListenAddr(); ok {
		t.Fatalf("address %q from a line without one or half written", addr)
	}
	fmt.Fprintf(&l, "1234\",\"plugins\":4}\n")
	fmt.Fprintf(&l, `{"msg":"gitops-connector listening","addr":"127.0.0.1:9"}`+"\n")
	if addr, ok := l.ListenAddr(); !ok || addr != "127.0.0.1:41234" {
		t.Fatalf("ListenAddr = %q, %v; want the first complete line's 127.0.0.1:41234", addr, ok)
	}
	if n := len(l.Lines()); n != 4 {
		t.Fatalf("%d JSON lines, want 4:\n%s", n, l.String())
	}
	if got := l.Messages("plugin started"); len(got) != 1 || got[0]["name"] != "flux" {
		t.Fatalf("Messages(plugin started) = %v", got)
	}
}

func TestCountPrefixedCountsEachLineOnce(t *testing.T) {
	var l hostproc.Log
	for _, msg := range []string{"event delivered", "event delivered; the orchestrator was already told of this outcome",
		"orchestrator notified", "event accepted", "an event delivered late"} {
		fmt.Fprintf(&l, `{"msg":%q}`+"\n", msg)
	}
	if n := l.CountPrefixed("event delivered", "event delivered;", "orchestrator "); n != 3 {
		t.Fatalf("CountPrefixed = %d, want 3", n)
	}
}

// fake returns Options that run this test binary as a fake host in role.
func fake(t *testing.T, role string, env map[string]string) hostproc.Options {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]string{roleEnv: role}
	for k, v := range env {
		e[k] = v
	}
	return hostproc.Options{Binary: self, PluginDirs: []string{"/plugins"}, Env: e, Args: []string{"--plugin-dir", "/override"}}
}

// started returns the arguments and environment the fake host logged.
func started(t *testing.T, p *hostproc.Process) (args, env []string) {
	t.Helper()
	lines := p.Log.Messages("fake host started")
	if len(lines) != 1 {
		t.Fatalf("%d start lines:\n%s", len(lines), p.Log.String())
	}
	for _, a := range lines[0]["args"].([]any) {
		args = append(args, a.(string))
	}
	for _, e := range lines[0]["env"].([]any) {
		env = append(env, e.(string))
	}
	return args, env
}

func TestStartWaitsForTheHostToBeReadyAndStopsItWhenTheTestEnds(t *testing.T) {
	o := fake(t, "serve", map[string]string{notReadyEnv: "3", "PAT": "the-token"})
	var stopped *hostproc.Process
	o.Stopped = func(p *hostproc.Process) { stopped = p }
	var p *hostproc.Process
	t.Run("host", func(t *testing.T) {
		p = hostproc.Start(t, o)
		if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
			t.Fatalf("URL %q", p.URL)
		}
		if code, body, err := p.Readyz(); err != nil || code != http.StatusOK {
			t.Fatalf("Start returned before the host was ready: %d %q %v", code, body, err)
		}
		if n := len(p.Log.Messages("not ready")); n != 3 {
			t.Fatalf("%d /readyz answers 503 before 200, want 3", n)
		}
		args, env := started(t, p)
		// Start adds a subscribers directory that does not exist.
		i := slices.Index(args, "--subscribers-dir")
		if i < 0 || i+1 == len(args) {
			t.Fatalf("the host ran with %q, without a subscribers directory", args)
		}
		if _, err := os.Stat(args[i+1]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("subscribers directory %s: %v, want one that does not exist", args[i+1], err)
		}
		want := o
		want.SubscribersDir = args[i+1]
		if !slices.Equal(args, want.Argv()[1:]) {
			t.Errorf("the host ran with %q, want %q", args, want.Argv()[1:])
		}
		if want := o.Environ(); !slices.Equal(env, want) {
			t.Errorf("the host's environment is %q, want %q", env, want)
		}
		if stopped != nil {
			t.Fatal("Stopped was called while the test ran")
		}
	})
	if stopped != p {
		t.Fatal("Stopped was not called with the process when the test ended")
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("the host runs after the test ended")
	}
	if err := p.Err(); err != nil {
		t.Fatalf("the host exited with %v after SIGTERM, want status 0", err)
	}
	if len(p.Log.Messages("stopping on SIGTERM")) != 1 {
		t.Fatalf("the host was not stopped with SIGTERM:\n%s", p.Log.String())
	}
}

func TestPostSendsTheEventAndSettleCountsDeliveries(t *testing.T) {
	p := hostproc.Start(t, fake(t, "serve", nil))
	a := p.PostWith(t, "", []byte("sha-1"), map[string]string{"X-Signature": "sha256=abc"})
	if a.Code != http.StatusAccepted || a.Status != "accepted" || a.Commit != "sha-1" || a.Statuses != 2 || !a.Finished ||
		!strings.Contains(a.Raw, `"commit":"sha-1"`) {
		t.Fatalf("answer %+v", a)
	}
	p.Accept(t, "/argocd", []byte("sha-2"))
	p.Settle(t, 2)
	delivered := p.Log.Messages("event delivered")
	if len(delivered) != 2 || delivered[0]["path"] != "/gitopsphase" || delivered[0]["signature"] != "sha256=abc" ||
		delivered[1]["path"] != "/argocd" {
		t.Fatalf("the host received %v", delivered)
	}
}

func TestWaitListeningFailsWhenTheHostExits(t *testing.T) {
	p, err := hostproc.Launch(fake(t, "exit", nil))
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitListening()
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "before it was listening") {
		t.Fatalf("WaitListening = %v, want the exit status", err)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit code %d", code)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop of an exited host: %v", err)
	}
}

func TestStopKillsAHostThatIgnoresSIGTERM(t *testing.T) {
	o := fake(t, "stubborn", nil)
	o.Patience = time.Second
	p, err := hostproc.Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitListening(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Fatalf("Stop = %v, want it to say the host did not stop", err)
	}
	if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the host ended with %v, want SIGKILL", p.Cmd.ProcessState)
	}
}

func TestKillKillsTheHostsProcessGroup(t *testing.T) {
	o := fake(t, "group", nil)
	o.ProcessGroup = true
	p, err := hostproc.Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitListening(); err != nil {
		t.Fatal(err)
	}
	children := p.Log.Messages("child started")
	if len(children) != 1 {
		t.Fatalf("no child:\n%s", p.Log.String())
	}
	child := int(children[0]["pid"].(float64))
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the host ended with %v, want SIGKILL", p.Cmd.ProcessState)
	}
	// The child, no longer the host's, is reaped by whoever adopted it;
	// until then it is a zombie.
	hostproc.Eventually(t, time.Minute, "the host's child to be killed", func() string {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if errors.Is(err, os.ErrNotExist) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return ""
		}
		return "running: " + string(stat)
	})
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of a killed host: %v", err)
	}
}

func TestWrapRunsTheHostThroughAnotherCommand(t *testing.T) {
	o := fake(t, "serve", nil)
	o.Wrap = []string{"env", "WRAPPED=yes"}
	p := hostproc.Start(t, o)
	_, env := started(t, p)
	if !slices.Contains(env, "WRAPPED=yes") {
		t.Fatalf("the host's environment %q lacks what the wrapper set", env)
	}
}

// fatalRecorder records a Fatalf and ends the goroutine, as testing.T does.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestAcceptFailsAtOnceWhenTheHostRefusesTheEvent(t *testing.T) {
	p := hostproc.Start(t, fake(t, "serve", nil))
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Accept(rec, "", []byte("refuse"))
	}()
	<-done
	if !strings.Contains(rec.fatal, "not accepted: 400") || !strings.Contains(rec.fatal, "refused") {
		t.Fatalf("Accept reported %q, want the refusal", rec.fatal)
	}
}
