// Package harness builds the connector's binaries and runs the host as a
// process the way a deployment does: the real plugin binaries in its plugin
// directory, a durable data directory, single-instance configuration from
// the environment, JSON logs.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"golang.org/x/sys/unix"
)

// Binaries are a host binary and its plugin directory.
type Binaries struct {
	Host      string
	PluginDir string
}

// Prebuilt returns the binaries of a directory laid out like `make build`'s
// bin/: DIR/gitops-connector and DIR/plugins/.
func Prebuilt(dir string) (Binaries, error) {
	b := Binaries{Host: filepath.Join(dir, "gitops-connector"), PluginDir: filepath.Join(dir, "plugins")}
	if _, err := os.Stat(b.Host); err != nil {
		return Binaries{}, fmt.Errorf("host binary: %w", err)
	}
	for _, p := range hostproc.BundledPlugins {
		if _, err := os.Stat(filepath.Join(b.PluginDir, p)); err != nil {
			return Binaries{}, fmt.Errorf("plugin binary: %w", err)
		}
	}
	return b, nil
}

// Build compiles the host and the bundled plugins (hostproc.BundledPlugins)
// of the repository at root into out, with the flags of `make build`
// (static, trimmed, stripped), so the figures are those of the shipped
// binaries.
func Build(ctx context.Context, root, out string) (Binaries, error) {
	b := Binaries{Host: filepath.Join(out, "gitops-connector"), PluginDir: filepath.Join(out, "plugins")}
	if err := goBuild(ctx, filepath.Join(root, "host"), "./cmd/gitops-connector", b.Host); err != nil {
		return Binaries{}, err
	}
	for _, p := range hostproc.BundledPlugins {
		if err := goBuild(ctx, filepath.Join(root, "plugins", p), ".", filepath.Join(b.PluginDir, p)); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// Revision describes the source at root: "commit 1a2b3c4", plus "with
// uncommitted changes" when tracked files differ from it; "" when root is
// not a git checkout. It only reads: GIT_OPTIONAL_LOCKS=0 keeps git status
// from refreshing the index.
func Revision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := "commit " + strings.TrimSpace(string(out))
	status := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no")
	status.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	if changed, err := status.Output(); err == nil && len(bytes.TrimSpace(changed)) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

func goBuild(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, b)
	}
	return nil
}

// HostOptions configure a host process.
type HostOptions struct {
	Binaries Binaries
	// DataDir is the event store's directory (--data-dir), unless Queue
	// is set; it holds the subscribers directory either way.
	DataDir string
	// Queue, when set, is the NATS JetStream the host shares with other
	// replicas (--queue URLS) instead of a data directory.
	Queue string
	// LogPath receives the host's output (JSON logs).
	LogPath string
	// Env is added to a minimal PATH and HOME.
	Env map[string]string
	// Pprof serves the host's Go profiles on a free loopback port
	// (--pprof-address); Host.PprofURL names it.
	Pprof bool
	// Args are added to the host's command line, e.g. --config DIR.
	Args []string
	// Wrapper, when set, is run instead of the host with the host's
	// command line as its last arguments, and must exec it in its own
	// process (so the pid stays the host's), e.g. the benchmark's cgexec.
	Wrapper []string
}

// Host is a running host process.
type Host struct {
	// URL is the host's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Started is just before the process was started.
	Started time.Time
	// PprofURL is the base URL of the host's profiles, e.g.
	// http://127.0.0.1:41235/debug/pprof; "" unless HostOptions.Pprof.
	PprofURL string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// StartHost starts a host on a free loopback port and returns at once; see
// WaitReady.
func StartHost(o HostOptions) (*Host, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the host log: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	store := []string{"--data-dir", o.DataDir}
	if o.Queue != "" {
		store = []string{"--queue", o.Queue}
	}
	cmd := exec.Command(o.Binaries.Host, "serve",
		"--listen", addr,
		"--plugin-dir", o.Binaries.PluginDir,
		"--subscribers-dir", filepath.Join(o.DataDir, "no-subscribers"),
	)
	cmd.Args = append(cmd.Args, store...)
	cmd.Args = append(cmd.Args, o.Args...)
	var pprofURL string
	if o.Pprof {
		port, err := freePort()
		if err != nil {
			logFile.Close()
			return nil, err
		}
		pprofAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd.Args = append(cmd.Args, "--pprof-address", pprofAddr)
		pprofURL = "http://" + pprofAddr + "/debug/pprof"
	}
	if len(o.Wrapper) > 0 {
		argv := append(append(append([]string{}, o.Wrapper...), o.Binaries.Host), cmd.Args[1:]...)
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range o.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The host writes straight to the file: no pipe for the benchmark to
	// drain while it measures.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	h := &Host{URL: "http://" + addr, PprofURL: pprofURL, cmd: cmd, log: logFile, done: make(chan struct{})}
	h.Started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start the host: %w", err)
	}
	go func() {
		h.err = cmd.Wait()
		logFile.Close()
		close(h.done)
	}()
	return h, nil
}

// PID is the host's process id.
func (h *Host) PID() int { return h.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (h *Host) Exited() <-chan struct{} { return h.done }

// WaitReady polls /readyz every poll until it answers 200 and returns the
// time since the process was started: the time at which the first 200 was
// received.
func (h *Host) WaitReady(ctx context.Context, poll time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/readyz", nil)
		if err != nil {
			return 0, err
		}
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(h.Started), nil
			}
		}
		select {
		case <-h.done:
			return 0, fmt.Errorf("the host exited before it was ready: %v", h.err)
		case <-ctx.Done():
			return 0, fmt.Errorf("the host was not ready: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// timeout. An exit status other than 0 is an error.
func (h *Host) Stop(timeout time.Duration) error {
	select {
	case <-h.done:
		return h.exitErr()
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal the host: %w", err)
	}
	select {
	case <-h.done:
		return h.exitErr()
	case <-time.After(timeout):
		_ = h.cmd.Process.Kill()
		<-h.done
		return fmt.Errorf("the host did not stop within %v of SIGTERM", timeout)
	}
}

func (h *Host) exitErr() error {
	if h.err != nil {
		return fmt.Errorf("the host exited: %w", h.err)
	}
	return nil
}

// DropPageCache writes back and evicts the cached pages of the binaries,
// so the next process to map one faults its pages in again and, in a
// memory cgroup, is charged for them — as a container is for its image's
// files. Without it the pages the build wrote stay charged to the
// benchmark.
func DropPageCache(b Binaries) error {
	paths := []string{b.Host}
	entries, err := os.ReadDir(b.PluginDir)
	if err != nil {
		return fmt.Errorf("list the plugins: %w", err)
	}
	for _, e := range entries {
		paths = append(paths, filepath.Join(b.PluginDir, e.Name()))
	}
	for _, p := range paths {
		if err := dropFile(p); err != nil {
			return err
		}
	}
	return nil
}

func dropFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
