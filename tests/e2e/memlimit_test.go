package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// pluginEnv returns the environment variable of a running plugin's process,
// read from /proc, by the pid the host logged when it started it.
func pluginEnv(t *testing.T, h *host, plugin, name string) string {
	t.Helper()
	pid := 0
	eventually(t, plugin+" plugin to start", func() string {
		for _, l := range h.Log.Messages("plugin started") {
			if l["plugin"] == plugin {
				pid = int(l["pid"].(float64))
			}
		}
		if pid == 0 {
			return "not started"
		}
		return ""
	})
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok && string(k) == name {
			return string(v)
		}
	}
	return ""
}

// The host divides the container's memory limit: two fifths for itself,
// two fifths shared by the plugin binaries it found, which its plugins
// receive as GOMEMLIMIT; an explicit GOMEMLIMIT is passed on unchanged.
func TestPluginsGetTheirShareOfTheMemoryLimit(t *testing.T) {
	const limit = 1_000_000_000
	plugins, err := os.ReadDir(bundle.PluginDir())
	if err != nil {
		t.Fatal(err)
	}
	fake := newGitHub(t)

	env := githubEnv(fake, "FLUX")
	env["GITOPS_CONNECTOR_MEMORY_LIMIT"] = strconv.Itoa(limit)
	h := startHost(t, hostOptions{Env: env})
	want := strconv.Itoa(limit / 5 * 2 / len(plugins))
	for _, p := range []string{"github", "flux"} {
		if got := pluginEnv(t, h, p, "GOMEMLIMIT"); got != want {
			t.Errorf("%s plugin: GOMEMLIMIT=%q, want %s (%d plugin binaries)", p, got, want, len(plugins))
		}
	}
	logged := h.Log.Messages("soft memory limits from the container's limit")
	if len(logged) != 1 || logged[0]["host_bytes"] != float64(limit/5*2) {
		t.Errorf("host's log of its limits: %v", logged)
	}

	env = githubEnv(fake, "FLUX")
	env["GITOPS_CONNECTOR_MEMORY_LIMIT"] = strconv.Itoa(limit)
	env["GOMEMLIMIT"] = "64MiB"
	h = startHost(t, hostOptions{Env: env})
	if got := pluginEnv(t, h, "github", "GOMEMLIMIT"); got != "64MiB" {
		t.Errorf("with an explicit GOMEMLIMIT the plugin has GOMEMLIMIT=%q, want 64MiB", got)
	}
}
