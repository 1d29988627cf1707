package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// bundle holds the built host and its bundled plugins.
var bundle hostproc.Bundle

// extraPlugins holds the third-party test plugin, built only against the SDK.
var extraPlugins string

// root is the repository root.
var root = filepath.Join("..", "..")

func TestMain(m *testing.M) {
	code := hostproc.Main(m, root, "gitops-connector-e2e-", func(b hostproc.Bundle) error {
		bundle = b
		extraPlugins = filepath.Join(b.Dir, "extra")
		// The third-party plugin is its own module, outside the workspace,
		// that requires only the SDK.
		return hostproc.GoBuild(filepath.Join("testdata", "thirdparty"), filepath.Join(extraPlugins, "webhook"), "GOWORK=off")
	})
	if found := suiteLeaks(); len(found) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: secrets in host logs:\n"+strings.Join(found, "\n"))
		code = 1
	}
	os.Exit(code)
}

// host is a running gitops-connector process.
type host struct{ *hostproc.Process }

type hostOptions struct {
	// Env is the environment beyond a minimal PATH/HOME.
	Env map[string]string
	// Args are extra command-line arguments.
	Args []string
	// PluginDirs default to the bundle's plugins.
	PluginDirs []string
}

// proc is how hostproc runs the host of o.
func (o hostOptions) proc() hostproc.Options {
	p := bundle.Options()
	if len(o.PluginDirs) > 0 {
		p.PluginDirs = o.PluginDirs
	}
	p.Env, p.Args = o.Env, o.Args
	return p
}

// startHost runs the host, waits until /readyz answers 200 and stops it
// with SIGTERM when the test ends.
func startHost(t *testing.T, o hostOptions) *host {
	t.Helper()
	return launchHost(t, o.proc())
}

// launchHost starts a host whose log is checked for secrets: when its test
// ends, and with every host's at the end of the suite.
func launchHost(t *testing.T, o hostproc.Options) *host {
	t.Helper()
	registerEnvSecrets(o.Env)
	o.Stopped = func(p *hostproc.Process) {
		trackLog(t.Name(), p.Log)
		checkNoSecrets(t, "the host's log", p.Log.String())
	}
	return &host{hostproc.Start(t, o)}
}

// eventually polls cond until it returns "" (or fails with its last word).
// The bound only ends a stuck test; nothing asserts how long delivery takes.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	hostproc.Eventually(t, hostproc.DefaultPatience, what, cond)
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
