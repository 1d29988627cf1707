// Package pluginhost discovers plugin binaries, starts them with go-plugin,
// keeps them running, and hands out their capabilities by type name.
//
// Every binary in the plugin directories is run with "describe"; its types
// (FLUX, GITHUB, ...) are registered for the capabilities it lists. A
// binary's process runs only while a loaded config uses one of its types
// (Use and Keep): a connector serving Flux and GitHub does not pay for the
// Argo CD and Azure DevOps processes. While in use, a process is restarted
// with backoff whenever it has exited; callers hold proxies that always
// reach the current process, so a plugin restart is invisible to them apart
// from the retryable errors of the calls in flight.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/hashicorp/go-plugin"
)

// Manager owns the plugin processes.
type Manager struct {
	logger   *slog.Logger
	binaries []*binary
	byType   map[sdk.Capability]map[string]*binary
	observer Observer

	// stopSupervise ends the supervision Start began; supervised is closed
	// when it has ended.
	stopSupervise context.CancelFunc
	supervised    chan struct{}
}

// Observer is told about plugin processes and calls, for metrics. Its
// methods must not block.
type Observer interface {
	// PluginRestarted is told each time the process of a plugin (its
	// described name) exited and is started again.
	PluginRestarted(plugin string)
	// PluginCall is told each call through a proxy: the capability, the
	// method (PostStatus, ...), the type it was asked for, how long it took
	// and its error.
	PluginCall(capability sdk.Capability, method, typ string, took time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) PluginRestarted(string)                                          {}
func (nopObserver) PluginCall(sdk.Capability, string, string, time.Duration, error) {}

// Observe sets the observer of plugin restarts and calls. Call it before
// Start and before handing out capabilities.
func (m *Manager) Observe(o Observer) {
	if o == nil {
		o = nopObserver{}
	}
	m.observer = o
	for _, b := range m.binaries {
		b.observer = o
	}
}

// Discover describes every executable in dirs. A binary that does not
// describe itself is skipped with a warning; a type offered twice for one
// capability keeps the first binary found. A binary pins refuse is skipped
// with an error before it runs; the checksum of a pinned one is verified
// again at every start of its process.
func Discover(ctx context.Context, dirs []string, pins pluginpin.Pins, logger *slog.Logger) (*Manager, error) {
	m := &Manager{logger: logger, byType: map[sdk.Capability]map[string]*binary{}, observer: nopObserver{}}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			logger.Warn("plugin directory does not exist", "dir", dir)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read plugin directory: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), ".") || !isExecutable(path) {
				continue
			}
			checksum, err := pins.Check(path)
			if err != nil {
				logger.Error("skipping plugin binary", "path", path, "error", err)
				continue
			}
			d, err := sdk.DescribeBinary(ctx, path)
			if err != nil {
				logger.Warn("skipping plugin binary", "path", path, "error", err)
				continue
			}
			if !slices.ContainsFunc(sdk.ProtocolVersions(), d.Speaks) {
				logger.Warn("skipping plugin binary: no protocol version in common", "path", path,
					"protocol_version", d.ProtocolVersion, "protocol_versions", d.ProtocolVersions, "supported", sdk.ProtocolVersions())
				continue
			}
			m.add(&binary{path: path, checksum: checksum, desc: d, logger: logger, observer: m.observer})
		}
	}
	return m, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func (m *Manager) add(b *binary) {
	m.binaries = append(m.binaries, b)
	for _, c := range b.desc.Capabilities {
		if m.byType[c] == nil {
			m.byType[c] = map[string]*binary{}
		}
		for _, t := range b.desc.Types {
			t = strings.ToUpper(t)
			if prev, dup := m.byType[c][t]; dup {
				m.logger.Warn("plugin type offered twice; keeping the first", "type", t, "capability", c,
					"kept", prev.path, "ignored", b.path)
				continue
			}
			m.byType[c][t] = b
		}
	}
	m.logger.Info("plugin found", "name", b.desc.Name, "version", b.desc.Version, "types", b.desc.Types,
		"capabilities", b.desc.Capabilities, "path", b.path)
}

// Need is one type a config uses for one capability, e.g. the repository
// type GITHUB.
type Need struct {
	Capability sdk.Capability
	Type       string
}

// Start begins the supervision: from now on a process runs only while its
// binary is in use (Use, Keep), and until ctx ends or Close every process in
// use that exits is restarted (with backoff), whether or not anything calls
// it: the host is not ready while a plugin in use is down, and a host that
// takes no events would otherwise never call the dead plugin again. Before
// Start (replay), a call starts the process it needs. Call Start once,
// before Use.
func (m *Manager) Start(ctx context.Context) {
	for _, b := range m.binaries {
		b.mu.Lock()
		b.supervised = true
		b.mu.Unlock()
	}
	ctx, m.stopSupervise = context.WithCancel(ctx)
	m.supervised = make(chan struct{})
	go m.supervise(ctx)
}

// Use marks the binaries serving needs as in use, starts those not running
// and waits until each serves; the others keep their state. Call it with
// the needs of a new set of configs before validating them, and Keep with
// the same needs once the set serves. Needs no binary serves are ignored
// (validation reports them). The error joins the starts that failed; those
// binaries stay in use and are retried by the supervision.
func (m *Manager) Use(ctx context.Context, needs []Need) error {
	used := m.serving(needs)
	var wg sync.WaitGroup
	errs := make([]error, len(m.binaries))
	for i, b := range m.binaries {
		if !used[b] {
			continue
		}
		b.mu.Lock()
		b.inUse = true
		b.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.get(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Keep stops the process of every binary that serves none of needs and
// marks it no longer in use: no config uses its types any more. A call
// that reaches such a binary after that (a delivery that resolved the
// previous configs) fails with a retryable error, and its retry finds the
// current config.
func (m *Manager) Keep(needs []Need) {
	used := m.serving(needs)
	for _, b := range m.binaries {
		if used[b] {
			continue
		}
		b.mu.Lock()
		wasRunning := b.client != nil
		b.inUse = false
		b.mu.Unlock()
		if wasRunning {
			b.stop()
			m.logger.Info("plugin stopped: no config uses its types", "plugin", b.desc.Name, "types", b.desc.Types)
		}
	}
}

// serving returns the binaries that serve needs.
func (m *Manager) serving(needs []Need) map[*binary]bool {
	used := map[*binary]bool{}
	for _, n := range needs {
		if b, _, err := m.lookup(n.Capability, n.Type); err == nil {
			used[b] = true
		}
	}
	return used
}

// superviseEvery is how often supervise looks for exited processes: the
// shortest restart delay, so supervision adds none.
const superviseEvery = minRestartDelay

// supervise restarts exited plugin processes until ctx ends. A process
// whose restart delay has not passed yet is left for a later round.
func (m *Manager) supervise(ctx context.Context) {
	defer close(m.supervised)
	t := time.NewTicker(superviseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, b := range m.binaries {
			if !b.needsStart() {
				continue
			}
			// A RetryAfter says only that the restart delay has not passed.
			if _, err := b.get(ctx); err != nil && ctx.Err() == nil && sdk.RetryAfterOf(err) == 0 {
				m.logger.Error("cannot restart the plugin", "plugin", b.desc.Name, "error", err)
			}
		}
	}
}

// Ready reports whether every plugin process in use is running.
func (m *Manager) Ready() bool {
	for _, b := range m.binaries {
		if b.needsStart() {
			return false
		}
	}
	return true
}

// Running reports, by plugin name, whether each discovered binary's process
// is running: the plugins in use, normally.
func (m *Manager) Running() map[string]bool {
	out := make(map[string]bool, len(m.binaries))
	for _, b := range m.binaries {
		out[b.desc.Name] = b.running()
	}
	return out
}

// Close stops the supervision and every plugin process.
func (m *Manager) Close() {
	if m.stopSupervise != nil {
		m.stopSupervise()
		<-m.supervised
	}
	for _, b := range m.binaries {
		b.stop()
	}
}

// Types lists the type names available for a capability, sorted.
func (m *Manager) Types(c sdk.Capability) []string {
	types := make([]string, 0, len(m.byType[c]))
	for t := range m.byType[c] {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Descriptions lists the descriptions of the discovered binaries.
func (m *Manager) Descriptions() []sdk.Description {
	out := make([]sdk.Description, 0, len(m.binaries))
	for _, b := range m.binaries {
		out = append(out, b.desc)
	}
	return out
}

// PluginName names the plugin serving a type for a capability; "" when
// none does.
func (m *Manager) PluginName(c sdk.Capability, typ string) string {
	if b, _, err := m.lookup(c, typ); err == nil {
		return b.desc.Name
	}
	return ""
}

// lookup returns the binary serving a type for a capability and the type
// as registered (upper case).
func (m *Manager) lookup(c sdk.Capability, typ string) (*binary, string, error) {
	name := strings.ToUpper(strings.TrimSpace(typ))
	b, ok := m.byType[c][name]
	if !ok {
		avail := m.Types(c)
		list := "none"
		if len(avail) > 0 {
			list = strings.Join(avail, ", ")
		}
		return nil, "", fmt.Errorf("unknown %s type %q; available: %s", c, typ, list)
	}
	return b, name, nil
}

// Operator returns the operator of a type, or an error listing the types
// available.
func (m *Manager) Operator(typ string) (sdk.Operator, error) {
	b, name, err := m.lookup(sdk.CapabilityOperator, typ)
	if err != nil {
		return nil, err
	}
	return operatorProxy{b, name}, nil
}

// Repository returns the repository of a type.
func (m *Manager) Repository(typ string) (sdk.Repository, error) {
	b, name, err := m.lookup(sdk.CapabilityRepository, typ)
	if err != nil {
		return nil, err
	}
	return repositoryProxy{b, name}, nil
}

// Orchestrator returns the orchestrator of a type.
func (m *Manager) Orchestrator(typ string) (sdk.Orchestrator, error) {
	b, name, err := m.lookup(sdk.CapabilityOrchestrator, typ)
	if err != nil {
		return nil, err
	}
	return orchestratorProxy{b, name}, nil
}

// binary is one plugin binary and its current process.
type binary struct {
	path string
	// checksum is the SHA-256 go-plugin verifies before every start; nil
	// when the binary is not pinned.
	checksum []byte
	desc     sdk.Description
	logger   *slog.Logger
	observer Observer

	mu sync.Mutex
	// supervised is set by Manager.Start: from then on the process runs
	// only while inUse.
	supervised bool
	inUse      bool
	client     *plugin.Client
	current    *sdk.Capabilities // of the running process
	failures   int               // consecutive starts that did not last
	nextStart  time.Time
	started    time.Time
}

const (
	minRestartDelay = 250 * time.Millisecond
	maxRestartDelay = 30 * time.Second
	// stableAfter is how long a process must live for its restart to count
	// as a fresh start rather than a crash loop.
	stableAfter = time.Minute
)

// restartDelay is how long to wait before the next start after failures
// consecutive starts that did not last: doubling from minRestartDelay up to
// maxRestartDelay.
func restartDelay(failures int) time.Duration {
	return min(minRestartDelay<<min(failures, 10), maxRestartDelay)
}

func (b *binary) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.client != nil && !b.client.Exited()
}

// needsStart reports whether the binary is in use and its process is not
// running.
func (b *binary) needsStart() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.supervised && b.inUse && (b.client == nil || b.client.Exited())
}

// get returns the running process's capabilities, starting the process when
// it is not running. While a crashing plugin waits for its next restart, get
// fails with a retryable error.
func (b *binary) get(ctx context.Context) (*sdk.Capabilities, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil && !b.client.Exited() {
		return b.current, nil
	}
	if b.supervised && !b.inUse {
		return nil, sdk.Retryable(fmt.Errorf("plugin %s is stopped: no loaded config uses its types", b.desc.Name), 0)
	}
	if b.client != nil {
		if time.Since(b.started) > stableAfter {
			b.failures = 0
		}
		b.failures++
		delay := restartDelay(b.failures)
		b.nextStart = time.Now().Add(delay)
		b.logger.Warn("plugin process exited; restarting", "plugin", b.desc.Name, "restart_in", delay, "restarts", b.failures)
		b.observer.PluginRestarted(b.desc.Name)
		b.client.Kill()
		b.client, b.current = nil, nil
	}
	if wait := time.Until(b.nextStart); wait > 0 {
		return nil, sdk.Retryable(fmt.Errorf("plugin %s is restarting", b.desc.Name), wait)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := sdk.ClientConfig(b.path, b.checksum, newHCLog(b.logger, b.desc.Name))
	cfg.StartTimeout = 30 * time.Second
	client := plugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		b.failures++
		b.nextStart = time.Now().Add(restartDelay(b.failures))
		return nil, sdk.Retryable(fmt.Errorf("start plugin %s: %w", b.desc.Name, err), 0)
	}
	caps, err := sdk.Dispense(rpc, b.desc.Capabilities)
	if err != nil {
		client.Kill()
		return nil, sdk.Permanent(fmt.Errorf("plugin %s: %w", b.desc.Name, err))
	}
	b.client, b.current, b.started = client, &caps, time.Now()
	b.logger.Info("plugin started", "plugin", b.desc.Name, "pid", pid(client))
	return &caps, nil
}

func pid(c *plugin.Client) int {
	if rc := c.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

func (b *binary) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		b.client.Kill()
		b.client, b.current = nil, nil
	}
}
