// Package multiinstance tests multi-instance mode end to end: the real
// gitops-connector binary and its bundled plugins, built from this checkout,
// watch GitOpsConfig resources and Secrets on a real API server (package
// apiserver) as a ServiceAccount with only the RBAC the chart grants, and
// post commit statuses to the fake GitHub of testkit/fakegithub.
package multiinstance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// root is the repository root.
var root = filepath.Join("..", "..", "..")

// bundle holds the built host and its bundled plugins, as the image bundles
// them.
var bundle hostproc.Bundle

func TestMain(m *testing.M) {
	os.Exit(hostproc.Main(m, root, "gitops-connector-kube-", func(b hostproc.Bundle) error {
		bundle = b
		return nil
	}))
}
