// Package multiinstance tests multi-instance mode end to end: the real
// gitops-connector binary and its bundled plugins, built from this checkout,
// watch GitOpsConfig resources and Secrets on a real API server (package
// apiserver) as a ServiceAccount with only the RBAC the chart grants, and
// post commit statuses to the fake GitHub of testkit/fakegithub.
package multiinstance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// root is the repository root.
var root = filepath.Join("..", "..", "..")

// bin holds the built binaries: bin/gitops-connector and bin/plugins/*.
var bin string

// bundledPlugins are the plugin modules built into bin/plugins, as the image
// bundles them.
var bundledPlugins = []string{"flux", "argocd", "github", "azdo"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gitops-connector-kube-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "bin")
	if err := buildAll(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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
	return nil
}

func goBuild(dir, out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, b)
	}
	return nil
}
