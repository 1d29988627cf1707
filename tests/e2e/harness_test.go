package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the built binaries: bin/gitops-connector and bin/plugins/*.
var bin string

// extraPlugins holds the third-party test plugin, built only against the SDK.
var extraPlugins string

// root is the repository root.
var root = filepath.Join("..", "..")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gitops-connector-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "bin")
	extraPlugins = filepath.Join(dir, "extra")
	if err := buildAll(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if found := suiteLeaks(); len(found) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: secrets in host logs:\n"+strings.Join(found, "\n"))
		code = 1
	}
	os.Exit(code)
}

// bundledPlugins are the plugin modules built into bin/plugins.
var bundledPlugins = []string{"flux", "argocd", "github", "azdo"}

func goBuild(dir, out string, env ...string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, b)
	}
	return nil
}

func buildAll() error {
	if err := goBuild(filepath.Join(root, "host", "cmd", "gitops-connector"), filepath.Join(bin, "gitops-connector")); err != nil {
		return err
	}
	for _, p := range bundledPlugins {
		if err := goBuild(filepath.Join(root, "plugins", p), filepath.Join(bin, "plugins", p)); err != nil {
			return err
		}
	}
	// The third-party plugin is its own module, outside the workspace, that
	// requires only the SDK.
	return goBuild(filepath.Join("testdata", "thirdparty"), filepath.Join(extraPlugins, "webhook"), "GOWORK=off")
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines decodes the JSON log lines.
func (b *syncBuffer) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// host is a running gitops-connector process.
type host struct {
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

type hostOptions struct {
	// Env is the environment beyond a minimal PATH/HOME.
	Env map[string]string
	// Args are extra command-line arguments.
	Args []string
	// PluginDirs default to bin/plugins.
	PluginDirs []string
}

// startHost runs the host, waits until /readyz answers 200 and stops it
// with SIGTERM when the test ends.
func startHost(t *testing.T, o hostOptions) *host {
	t.Helper()
	dirs := o.PluginDirs
	if len(dirs) == 0 {
		dirs = []string{filepath.Join(bin, "plugins")}
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--plugin-dir", strings.Join(dirs, ":"),
		"--subscribers-dir", filepath.Join(t.TempDir(), "none")}, o.Args...)
	cmd := exec.Command(filepath.Join(bin, "gitops-connector"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range o.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	h := &host{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = h.logs
	cmd.Stdout = h.logs
	registerEnvSecrets(o.Env)
	trackLog(t.Name(), h.logs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		h.stop(t)
		checkNoSecrets(t, "the host's log", h.logs.String())
		if t.Failed() {
			t.Logf("host log:\n%s", h.logs.String())
		}
	})
	h.waitListening(t)
	h.waitReady(t)
	return h
}

// waitListening waits for the host's "listening" log line and takes its
// address.
func (h *host) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for h.URL == "" {
		for _, l := range h.logs.logLines() {
			if l["msg"] == "gitops-connector listening" {
				h.URL = "http://" + l["addr"].(string)
			}
		}
		select {
		case err := <-h.done:
			t.Fatalf("host exited: %v\n%s", err, h.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("host did not listen:\n%s", h.logs.String())
		}
	}
}

func (h *host) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("host not ready:\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process.
func (h *host) stop(t *testing.T) {
	if h.cmd.ProcessState != nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		_ = h.cmd.Process.Kill()
		t.Error("host did not stop within 60s of SIGTERM")
	}
}

// answer is the host's JSON answer to an event.
type answer struct {
	Code     int
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Config   string `json:"config"`
	Commit   string `json:"commit"`
	Statuses int    `json:"statuses"`
	Finished bool   `json:"finished"`
	Raw      string
}

// post sends an event body to path (default /gitopsphase).
func (h *host) post(t *testing.T, path string, body []byte) answer {
	t.Helper()
	if path == "" {
		path = "/gitopsphase"
	}
	resp, err := http.Post(h.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Code: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON: %d %q", resp.StatusCode, raw)
	}
	return a
}

// eventually polls cond until it returns "" (or fails with its last word).
// The bound only ends a stuck test; nothing asserts how long delivery takes.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// settle waits until the host has no delivery in flight: its log has an
// "event delivered" (or orchestrator) line for every accepted event.
func (h *host) settle(t *testing.T, accepted int) {
	t.Helper()
	eventually(t, "deliveries to finish", func() string {
		done := 0
		for _, l := range h.logs.logLines() {
			msg, _ := l["msg"].(string)
			if strings.HasPrefix(msg, "event delivered") || strings.HasPrefix(msg, "orchestrator ") {
				done++
			}
		}
		if done < accepted {
			return fmt.Sprintf("%d of %d events delivered", done, accepted)
		}
		return ""
	})
}

// fixture reads a file of a plugin's testdata.
func fixture(t *testing.T, plugin, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "plugins", plugin, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
