// Package plugintest checks a plugin binary against the gitops-connector
// plugin contract over a real go-plugin connection, the way the host talks to
// it. Bundled and third-party plugins run it from their own tests:
//
//	func TestConformance(t *testing.T) {
//		plugintest.Run(t, plugintest.Suite{
//			Binary:       plugintest.Build(t, "."),
//			ValidConfigs: []sdk.Config{{Name: "default", Settings: map[string]string{...}}},
//			// The settings hook: point the plugin at the kit's endpoint.
//			Config: func(endpoint string) sdk.Config {
//				return sdk.Config{Settings: map[string]string{"apiUrl": endpoint}}
//			},
//			Fixtures: map[string]string{"GET /commits/<sha>": `{...}`}, // for GetCommit
//			Commit:   "<sha>",
//		})
//	}
//
// A repository or orchestrator plugin talks only to the kit's recording
// HTTP endpoint, whose URL Suite.Config puts in the config: nothing real is
// called, and the kit sees every request that goes out.
package plugintest

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Build compiles the main package in dir into a temporary directory and
// returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = abs
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugintest: build %s: %v\n%s", dir, err, b)
	}
	return out
}

// Client is a started plugin process and the capabilities it serves
// (Operator, Repository, Orchestrator; nil when not served).
type Client struct {
	Description sdk.Description
	// Protocol is the protocol version the plugin chose.
	Protocol int
	sdk.Capabilities

	client *plugin.Client
}

// Stop stops the plugin process as the host does at shutdown: gracefully,
// killing it if it does not exit within two seconds. It is safe to call
// more than once; Start already stops the process when the test ends.
func (c *Client) Stop() { c.client.Kill() }

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.client.Exited() }

// Pid is the plugin process's id, for a benchmark that reads the
// processor time the plugin used (see testkit/parsebench.Remote).
func (c *Client) Pid() int { return c.client.ReattachConfig().Pid }

// Start describes and starts a plugin binary as the host does, dispensing
// every capability it describes. The process is stopped when the test ends.
// It fails the test unless the plugin chose the newest protocol version
// that both it (its description) and this SDK speak.
func Start(t testing.TB, binary string) *Client {
	t.Helper()
	return start(t, binary, sdk.ProtocolVersions())
}

// StartProtocol is Start as a host that speaks only protocol version v:
// the plugin must choose v.
func StartProtocol(t testing.TB, binary string, v int) *Client {
	t.Helper()
	return start(t, binary, []int{v})
}

func start(t testing.TB, binary string, versions []int) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := sdk.DescribeBinary(ctx, binary)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	var logOut io.Writer = io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	want := 0
	for _, v := range versions {
		if d.Speaks(v) {
			want = max(want, v)
		}
	}
	if want == 0 {
		t.Fatalf("plugintest: %s speaks protocol versions %v, none of %v", binary, d.ProtocolVersions, versions)
	}
	cfg := sdk.ClientConfig(binary, nil, hclog.New(&hclog.LoggerOptions{Name: d.Name, Output: logOut, Level: hclog.Info}))
	for v := range cfg.VersionedPlugins {
		if !slices.Contains(versions, v) {
			delete(cfg.VersionedPlugins, v)
		}
	}
	pc := plugin.NewClient(cfg)
	t.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		t.Fatalf("plugintest: start %s: %v", binary, err)
	}
	if v := pc.NegotiatedVersion(); v != want {
		t.Fatalf("plugintest: negotiated protocol version %d, want %d (the newest the host offers, %v, and describe lists)", v, want, versions)
	}
	caps, err := sdk.Dispense(rpc, d.Capabilities)
	if err != nil {
		t.Fatalf("plugintest: %s: %v", d.Name, err)
	}
	return &Client{Description: d, Protocol: want, Capabilities: caps, client: pc}
}
