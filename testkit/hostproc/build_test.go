package hostproc_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// fakeRoot writes a checkout whose host and bundled plugins are commands
// that print their names; broken names a plugin that does not compile.
func fakeRoot(t *testing.T, broken string) string {
	t.Helper()
	// The fake checkout is a module of its own, outside any workspace.
	t.Setenv("GOWORK", "off")
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	command := func(name string) string {
		return "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"" + name + "\") }\n"
	}
	write("go.mod", "module example.com/fakeroot\n\ngo 1.26\n")
	write("host/cmd/gitops-connector/main.go", command("host"))
	for _, p := range hostproc.BundledPlugins {
		if p == broken {
			write("plugins/"+p+"/main.go", "package main\n\nfunc main() { undefined() }\n")
			continue
		}
		write("plugins/"+p+"/main.go", command(p))
	}
	return root
}

// output runs a built command and returns what it printed.
func output(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(path).Output()
	if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	return string(out)
}

// testRun is a testing.M whose tests exit with code.
type testRun struct {
	code int
	ran  bool
}

func (m *testRun) Run() int {
	m.ran = true
	return m.code
}

func TestMainBuildsTheBundleRunsTheTestsAndRemovesIt(t *testing.T) {
	root := fakeRoot(t, "")
	m := &testRun{code: 7}
	var b hostproc.Bundle
	code := hostproc.Main(m, root, "hostproc-test-", func(got hostproc.Bundle) error {
		b = got
		if out := output(t, b.Host()); out != "host" {
			t.Errorf("the host binary prints %q", out)
		}
		for _, p := range hostproc.BundledPlugins {
			if out := output(t, filepath.Join(b.PluginDir(), p)); out != p {
				t.Errorf("plugin %s prints %q", p, out)
			}
		}
		o := b.Options()
		if o.Binary != b.Host() || len(o.PluginDirs) != 1 || o.PluginDirs[0] != b.PluginDir() {
			t.Errorf("Options of the bundle: %+v", o)
		}
		return nil
	})
	if code != 7 || !m.ran {
		t.Fatalf("Main = %d (tests ran: %v), want the tests' 7", code, m.ran)
	}
	if _, err := os.Stat(b.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bundle's directory %q is left: %v", b.Dir, err)
	}
}

func TestBuildFailsWithTheCompilersOutput(t *testing.T) {
	root := fakeRoot(t, "github")
	_, err := hostproc.Build(root, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "build plugin github") || !strings.Contains(err.Error(), "undefined: undefined") {
		t.Fatalf("Build = %v, want the plugin and the compiler's error", err)
	}
}

func TestMainRunsNoTestsWhenTheBuildOrTheSetupFails(t *testing.T) {
	m := &testRun{}
	if code := hostproc.Main(m, fakeRoot(t, "azdo"), "hostproc-test-", func(hostproc.Bundle) error {
		t.Error("setup called after a failed build")
		return nil
	}); code != 1 || m.ran {
		t.Fatalf("Main = %d (tests ran: %v) after a failed build, want 1 and none", code, m.ran)
	}
	var dir string
	if code := hostproc.Main(m, fakeRoot(t, ""), "hostproc-test-", func(b hostproc.Bundle) error {
		dir = b.Dir
		return errors.New("the third-party plugin does not build")
	}); code != 1 || m.ran {
		t.Fatalf("Main = %d (tests ran: %v) after a failed setup, want 1 and none", code, m.ran)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bundle's directory %q is left: %v", dir, err)
	}
}
