package hostproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BundledPlugins are the plugin modules, plugins/<name> of the repository,
// that the image bundles and Build builds.
var BundledPlugins = []string{"flux", "argocd", "github", "azdo", "gitea"}

// Bundle is a directory laid out as the image lays out the connector: the
// host as gitops-connector and the bundled plugins in plugins/.
type Bundle struct {
	// Dir is the directory; a suite may put more binaries beside the
	// bundle's (not in plugins/, which the host loads as a whole).
	Dir string
}

// Host is the path of the gitops-connector binary.
func (b Bundle) Host() string { return filepath.Join(b.Dir, "gitops-connector") }

// PluginDir is the directory of the bundled plugins.
func (b Bundle) PluginDir() string { return filepath.Join(b.Dir, "plugins") }

// Options are the Options of a host that runs this bundle's binary with its
// bundled plugins, for a suite to complete.
func (b Bundle) Options() Options {
	return Options{Binary: b.Host(), PluginDirs: []string{b.PluginDir()}}
}

// Build builds the host (root/host/cmd/gitops-connector) and every plugin of
// BundledPlugins (root/plugins/<name>) from the checkout at root into dir.
func Build(root, dir string) (Bundle, error) {
	b := Bundle{Dir: dir}
	if err := GoBuild(filepath.Join(root, "host", "cmd", "gitops-connector"), b.Host()); err != nil {
		return Bundle{}, fmt.Errorf("build the host: %w", err)
	}
	for _, p := range BundledPlugins {
		if err := GoBuild(filepath.Join(root, "plugins", p), filepath.Join(b.PluginDir(), p)); err != nil {
			return Bundle{}, fmt.Errorf("build plugin %s: %w", p, err)
		}
	}
	return b, nil
}

// GoBuild runs `go build -o out .` in dir. env is added to this process's
// environment: a module outside the workspace builds with GOWORK=off. A
// failure carries the compiler's output.
func GoBuild(dir, out string, env ...string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, b)
	}
	return nil
}

// Main is the body of a suite's TestMain: it builds a Bundle from root into
// a new temporary directory (named after pattern, as os.MkdirTemp takes
// it), calls setup with it (to keep it and build what else the suite
// needs), runs the tests and removes the directory. It returns the tests'
// exit code, or 1 after printing why to stderr when the build or setup
// failed; the suite passes it to os.Exit once it has done its own checks.
func Main(m interface{ Run() int }, root, pattern string, setup func(Bundle) error) int {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	b, err := Build(root, dir)
	if err == nil {
		err = setup(b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	return m.Run()
}
