package pluginhost

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

// pluginDir holds the SDK's echo plugin (types ECHO, every capability) and
// things that are not plugins.
func pluginDir(t testing.TB) string {
	t.Helper()
	bin := plugintest.Build(t, "../../../sdk/plugintest/testdata/echo")
	dir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("echo", data, 0o755)
	write("README.md", []byte("not a plugin"), 0o644)
	write("liar", []byte("#!/bin/sh\necho '{\"name\":\"liar\"}'\n"), 0o755)
	write(".hidden", data, 0o755)
	return dir
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDiscoverRegistersDescribedBinariesOnly(t *testing.T) {
	ctx := context.Background()
	m, err := Discover(ctx, []string{pluginDir(t), filepath.Join(t.TempDir(), "missing")}, pluginpin.Pins{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if d := m.Descriptions(); len(d) != 1 || d[0].Name != "echo" {
		t.Fatalf("descriptions %+v, want only echo", d)
	}
	for _, c := range []sdk.Capability{sdk.CapabilityOperator, sdk.CapabilityRepository, sdk.CapabilityOrchestrator} {
		if types := m.Types(c); len(types) != 1 || types[0] != "ECHO" {
			t.Errorf("%s types %v", c, types)
		}
	}
	if _, err := m.Operator("Echo"); err != nil {
		t.Errorf("type lookup is not case-insensitive: %v", err)
	}
	_, err = m.Repository("GITLAB")
	if err == nil || !strings.Contains(err.Error(), `unknown repository type "GITLAB"; available: ECHO`) {
		t.Errorf("unknown type error = %v", err)
	}
}

func TestDiscoverKeepsBinariesThatSpeakAProtocolVersionOfTheHost(t *testing.T) {
	dir := t.TempDir()
	for name, versions := range map[string]string{
		"old":    `"protocol_version":1`, // built before protocol_versions
		"newer":  `"protocol_version":1,"protocol_versions":[1,2,3]`,
		"latest": `"protocol_version":2,"protocol_versions":[2]`, // no longer speaks 1
		"future": `"protocol_version":3,"protocol_versions":[3,4]`,
	} {
		script := "#!/bin/sh\necho '{\"name\":\"" + name + "\",\"types\":[\"" + name + "\"],\"capabilities\":[\"operator\"]," + versions + "}'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Discover(context.Background(), []string{dir}, pluginpin.Pins{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if types := m.Types(sdk.CapabilityOperator); !slices.Equal(types, []string{"LATEST", "NEWER", "OLD"}) {
		t.Errorf("operator types %v, want LATEST, NEWER and OLD (FUTURE speaks no version of the host)", types)
	}
}

// observed records what an Observer is told.
type observed struct {
	mu       sync.Mutex
	restarts []string
	calls    []string // capability/method/type/error?
}

func (o *observed) PluginRestarted(plugin string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restarts = append(o.restarts, plugin)
}

func (o *observed) PluginCall(c sdk.Capability, method, typ string, took time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	if took <= 0 {
		outcome += " without a duration"
	}
	o.calls = append(o.calls, fmt.Sprintf("%s/%s/%s/%s", c, method, typ, outcome))
}

// startObserved discovers and starts the test plugin with an observer,
// and closes the manager when the test ends.
func startObserved(t *testing.T) (*Manager, *observed) {
	t.Helper()
	m, err := Discover(context.Background(), []string{pluginDir(t)}, pluginpin.Pins{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	obs := &observed{}
	m.Observe(obs)
	m.Start(context.Background())
	if err := m.Use(context.Background(), echoNeeds); err != nil {
		t.Fatal(err)
	}
	return m, obs
}

// echoNeeds is a config using the echo plugin as its operator.
var echoNeeds = []Need{{Capability: sdk.CapabilityOperator, Type: "echo"}}

func TestAPluginRunsOnlyWhileAConfigUsesIt(t *testing.T) {
	ctx := context.Background()
	m, err := Discover(ctx, []string{pluginDir(t)}, pluginpin.Pins{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Start(ctx)
	op, _ := m.Operator("ECHO")
	parse := func() error {
		_, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: []byte(`{"commit":"abcdef0"}`)})
		return err
	}
	running := func() bool { return m.Running()["echo"] }

	if running() || !m.Ready() {
		t.Fatalf("before any config: running %v, ready %v; want a stopped plugin and a ready host", running(), m.Ready())
	}
	if err := parse(); !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "no loaded config uses its types") {
		t.Fatalf("call before any config uses the plugin: %v, want a retryable refusal", err)
	}
	if running() {
		t.Fatal("a call started a plugin no config uses")
	}

	// Types no binary serves are left to validation to report.
	if err := m.Use(ctx, append([]Need{{Capability: sdk.CapabilityRepository, Type: "GITLAB"}}, echoNeeds...)); err != nil {
		t.Fatal(err)
	}
	if !running() || !m.Ready() {
		t.Fatalf("in use: running %v, ready %v", running(), m.Ready())
	}
	if err := parse(); err != nil {
		t.Fatalf("call while in use: %v", err)
	}
	m.Keep(echoNeeds) // the same configs: nothing stops
	if !running() {
		t.Fatal("Keep stopped a plugin still in use")
	}

	m.Keep(nil) // the last config went
	if running() || !m.Ready() {
		t.Fatalf("no longer in use: running %v, ready %v", running(), m.Ready())
	}
	if err := parse(); !sdk.IsRetryable(err) {
		t.Fatalf("call after the plugin was stopped: %v, want a retryable error", err)
	}
	time.Sleep(3 * superviseEvery)
	if running() {
		t.Fatal("the supervision restarted a plugin no config uses")
	}
}

func TestBeforeSupervisionACallStartsItsPlugin(t *testing.T) {
	ctx := context.Background()
	m, err := Discover(ctx, []string{pluginDir(t)}, pluginpin.Pins{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	op, _ := m.Operator("ECHO")
	res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: []byte(`{"commit":"abcdef0"}`)})
	if err != nil || res.CommitID != "abcdef0" {
		t.Fatalf("replay's call: %+v %v", res, err)
	}
}

func TestACrashedPluginIsRestartedAndServesAgain(t *testing.T) {
	ctx := context.Background()
	m, obs := startObserved(t)
	if !m.Ready() {
		t.Fatal("not ready after start")
	}
	op, _ := m.Operator("ECHO")
	parse := func() (sdk.ParseResult, error) {
		return op.ParseEvent(ctx, sdk.ParseRequest{Body: []byte(`{"commit":"abcdef0"}`)})
	}
	if res, err := parse(); err != nil || res.CommitID != "abcdef0" {
		t.Fatalf("before crash: %+v %v", res, err)
	}
	b := m.binaries[0]
	b.mu.Lock()
	b.client.Kill() // the process dies
	b.mu.Unlock()
	if m.Ready() {
		t.Fatal("ready while the plugin is dead")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := parse()
		if err == nil && res.CommitID == "abcdef0" {
			break
		}
		if err != nil && !sdk.IsRetryable(err) {
			t.Fatalf("call during restart: %v, want a retryable error", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !m.Ready() {
		t.Fatal("not ready after the restart")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.restarts, []string{"echo"}) {
		t.Errorf("restarts told %v, want [echo]", obs.restarts)
	}
	calls := obs.calls
	if len(calls) < 3 || calls[0] != "operator/ParseEvent/ECHO/ok" || calls[len(calls)-1] != "operator/ParseEvent/ECHO/ok" ||
		!slices.Contains(calls, "operator/ParseEvent/ECHO/error") {
		t.Errorf("calls told %v, want a success, the failures while restarting, a success", calls)
	}
}

func TestACrashedPluginIsRestartedWithoutAnyCall(t *testing.T) {
	m, obs := startObserved(t)
	b := m.binaries[0]
	b.mu.Lock()
	b.client.Kill() // the process dies; nothing calls the plugin after
	b.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for !m.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the plugin was not restarted: the host would stay not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.restarts, []string{"echo"}) {
		t.Errorf("restarts told %v, want [echo]", obs.restarts)
	}
}

func TestCloseStopsTheSupervisionBeforeThePlugins(t *testing.T) {
	m, _ := startObserved(t)
	m.Close()
	time.Sleep(3 * superviseEvery)
	if m.binaries[0].running() {
		t.Fatal("a plugin runs again after Close")
	}
}
