// Package hostproc builds the gitops-connector host and its bundled plugins
// from the checkout and runs the host as a process, for the test suites that
// exercise the real binaries (tests/e2e, tests/kube/multiinstance). Nothing
// here imports the host: a suite talks to it over HTTP and reads its JSON
// log.
//
// A suite's TestMain builds once with Main; each test starts a host with
// Start, which waits until the host listens and answers /readyz with 200 and
// stops it with SIGTERM when the test ends, showing its log if the test
// failed. Launch starts a host without waiting, for a test of a host that
// is expected to refuse to start.
//
// The host gets only the environment a test gives it (beyond PATH and
// HOME), listens on a free port of 127.0.0.1 and, unless told otherwise, has
// no subscribers.
package hostproc

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultPatience bounds every wait of a host whose Options set none.
const DefaultPatience = 3 * time.Minute

// pollInterval is how often a wait looks again.
const pollInterval = 20 * time.Millisecond

// Options describe a host process.
type Options struct {
	// Binary is the gitops-connector executable (Bundle.Host).
	Binary string
	// PluginDirs are passed as --plugin-dir, ':'-separated.
	PluginDirs []string
	// SubscribersDir is passed as --subscribers-dir when set. Start sets
	// a directory that does not exist (no subscribers) when it is empty.
	SubscribersDir string
	// Args follow the flags above; a flag given again here wins.
	Args []string
	// Env is the environment beyond PATH and HOME, which the host takes
	// from this process.
	Env map[string]string
	// Wrap is a command that runs the host, given the host's command line
	// after its own (e.g. prlimit with its options).
	Wrap []string
	// ProcessGroup puts the host in a process group of its own, with the
	// plugins it starts, so that Kill kills them all at once, as the kernel
	// does when a pod's container is killed. Start's cleanup then kills the
	// group once the host has stopped, so no plugin outlives the test.
	ProcessGroup bool
	// Patience bounds each wait (for the host to listen, to be ready, to
	// stop, to settle); DefaultPatience when zero. It only ends a test that
	// would otherwise hang: nothing asserts how long the host takes.
	Patience time.Duration
	// Stopped, when set, is called by Start's cleanup once the host has
	// stopped, before its log is shown for a failed test: a suite checks
	// the log there.
	Stopped func(*Process)
}

// patience is o.Patience or its default.
func (o Options) patience() time.Duration {
	if o.Patience > 0 {
		return o.Patience
	}
	return DefaultPatience
}

// Argv is the command line of the host: Wrap, then Binary serving on a
// free port of 127.0.0.1 with the plugin and subscribers directories, then
// Args.
func (o Options) Argv() []string {
	argv := append(slices.Clone(o.Wrap), o.Binary, "serve", "--listen", "127.0.0.1:0",
		"--plugin-dir", strings.Join(o.PluginDirs, ":"))
	if o.SubscribersDir != "" {
		argv = append(argv, "--subscribers-dir", o.SubscribersDir)
	}
	return append(argv, o.Args...)
}

// Environ is the environment of the host: PATH and HOME of this process,
// then Env sorted by name.
func (o Options) Environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(o.Env)) {
		env = append(env, k+"="+o.Env[k])
	}
	return env
}

// Process is a running host.
type Process struct {
	// URL is http://<the address the host listens on>, set by
	// WaitListening (and so by Start).
	URL string
	// Cmd is the command that runs the host; its Process is set.
	Cmd *exec.Cmd
	// Log is what the host wrote to stdout and stderr.
	Log *Log

	group    bool
	patience time.Duration
	exited   chan struct{}
	err      error // how the process ended; set before exited is closed
}

// Launch starts the host described by o and returns without waiting for
// it; the caller stops it (Stop or Kill).
func Launch(o Options) (*Process, error) {
	if o.Binary == "" {
		return nil, errors.New("launch the host: no binary")
	}
	argv := o.Argv()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = o.Environ()
	p := &Process{Cmd: cmd, Log: &Log{}, group: o.ProcessGroup, patience: o.patience(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if o.ProcessGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch the host %s: %w", argv[0], err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed once the host process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err waits until the host has exited and returns how, as exec.Cmd.Wait
// says: nil for exit status 0.
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// wait polls cond (see poll) while the host runs, for the host to be
// what says; it fails if the host exits first or cond has not held within
// the host's patience.
func (p *Process) wait(what string, cond func() string) error {
	err := poll(p.patience, p.exited, cond)
	if errors.Is(err, errStopped) {
		return fmt.Errorf("the host exited (%s) before it was %s", p.Cmd.ProcessState, what)
	}
	if err != nil {
		return fmt.Errorf("wait for the host to be %s: %w", what, err)
	}
	return nil
}

// WaitListening waits for the host's ListeningMessage line and sets URL
// from its address. It fails if the host exits first or has not logged the
// line within its patience.
func (p *Process) WaitListening() error {
	return p.wait("listening", func() string {
		addr, ok := p.Log.ListenAddr()
		if !ok {
			return "no " + ListeningMessage + " line"
		}
		p.URL = "http://" + addr
		return ""
	})
}

// Readyz returns the status code and body of the host's /readyz.
func (p *Process) Readyz() (int, string, error) {
	resp, err := http.Get(p.URL + "/readyz")
	if err != nil {
		return 0, "", fmt.Errorf("GET /readyz: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("read /readyz: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// WaitReady waits until /readyz answers 200 (the host has loaded its
// configuration and its plugins). It fails if the host exits first or is
// not ready within its patience. URL must be set.
func (p *Process) WaitReady() error {
	return p.wait("ready", func() string {
		code, body, err := p.Readyz()
		switch {
		case err != nil:
			return err.Error()
		case code != http.StatusOK:
			return fmt.Sprintf("/readyz: %d %s", code, body)
		}
		return ""
	})
}

// Stop sends SIGTERM to the host and waits until it exits, as Kubernetes
// stops a pod; a host that outlives its patience is killed and Stop fails.
// It does nothing to a host that has exited.
func (p *Process) Stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop the host: %w", err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(p.patience):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("the host did not stop within %s of SIGTERM; killed it", p.patience)
	}
}

// Kill sends SIGKILL to the host — to its process group, plugins included,
// when it has one (Options.ProcessGroup) — and waits until the host exits.
func (p *Process) Kill() error {
	var err error
	if p.group {
		err = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) { // the group is gone already
			err = nil
		}
	} else if err = p.Cmd.Process.Kill(); errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("kill the host: %w", err)
	}
	<-p.exited
	return nil
}

// errStopped is poll's answer when its stop channel closed.
var errStopped = errors.New("stopped waiting")

// poll calls cond until it returns "" and returns nil. It returns
// errStopped once stop is closed (nil never closes), or an error with
// cond's last word once patience ran out.
func poll(patience time.Duration, stop <-chan struct{}, cond func() string) error {
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return nil
		}
		select {
		case <-stop:
			return errStopped
		case <-deadline.C:
			return fmt.Errorf("not within %s: %s", patience, msg)
		case <-tick.C:
		}
	}
}
