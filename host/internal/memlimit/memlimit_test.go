package memlimit

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDivide(t *testing.T) {
	tests := []struct {
		limit   int64
		plugins int
		want    Split
	}{
		{limit: 100 << 20, plugins: 4, want: Split{Host: 40 << 20, Plugin: 10 << 20}},
		{limit: 1000, plugins: 0, want: Split{Host: 400, Plugin: 400}},
		{limit: 128 << 20, plugins: 5, want: Split{Host: 53687090, Plugin: 10737418}},
	}
	for _, tt := range tests {
		got := Divide(tt.limit, tt.plugins)
		if got != tt.want {
			t.Errorf("Divide(%d, %d) = %+v, want %+v", tt.limit, tt.plugins, got, tt.want)
		}
		if total := got.Host + got.Plugin*int64(max(tt.plugins, 1)); total > tt.limit {
			t.Errorf("Divide(%d, %d): %d bytes in all, more than the limit", tt.limit, tt.plugins, total)
		}
	}
}

// restore puts the runtime's limit and GOMEMLIMIT back after the test.
func restore(t *testing.T) {
	t.Setenv("GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The host takes its share at once; a process it starts afterwards, as
// go-plugin starts a plugin with the host's environment, gets the plugin's
// share as GOMEMLIMIT.
func TestApplySetsTheHostsLimitAndThePluginsEnvironment(t *testing.T) {
	restore(t)
	if err := Apply(getenv(map[string]string{Env: "209715200"}), 2, quiet); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 80<<20 {
		t.Errorf("host limit = %d, want %d", got, 80<<20)
	}
	out, err := exec.Command("sh", "-c", `printf %s "$GOMEMLIMIT"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "41943040" {
		t.Errorf("a started process sees GOMEMLIMIT=%q, want 41943040", out)
	}
}

func TestApplyLeavesAnExplicitGOMEMLIMIT(t *testing.T) {
	restore(t)
	before := debug.SetMemoryLimit(-1)
	os.Setenv("GOMEMLIMIT", "64MiB")
	if err := Apply(getenv(map[string]string{Env: "209715200", "GOMEMLIMIT": "64MiB"}), 2, quiet); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("host limit changed to %d", got)
	}
	if got := os.Getenv("GOMEMLIMIT"); got != "64MiB" {
		t.Errorf("GOMEMLIMIT = %q", got)
	}
}

func TestApplyWithoutALimitDoesNothing(t *testing.T) {
	restore(t)
	os.Unsetenv("GOMEMLIMIT")
	before := debug.SetMemoryLimit(-1)
	if err := Apply(getenv(nil), 3, quiet); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("host limit changed from %d to %d", before, got)
	}
	if got := os.Getenv("GOMEMLIMIT"); got != "" {
		t.Errorf("GOMEMLIMIT = %q", got)
	}
}

func TestApplyRefusesWhatIsNotANumberOfBytes(t *testing.T) {
	restore(t)
	for _, raw := range []string{"128Mi", "-1", "0", "lots"} {
		err := Apply(getenv(map[string]string{Env: raw}), 1, quiet)
		if err == nil || !strings.Contains(err.Error(), Env) {
			t.Errorf("%q: %v, want an error naming %s", raw, err, Env)
		}
	}
}
