package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runningPlugins reads plugin_running from /metrics: every discovered
// plugin, "name=1" or "name=0", sorted by name.
func (h *host) runningPlugins(t *testing.T) string {
	t.Helper()
	all, _ := h.scrape(t)
	var out []string
	for _, name := range []string{"argocd", "azdo", "flux", "gitea", "github"} {
		found := false
		for _, s := range all {
			if s.name == "gitops_connector_plugin_running" && s.labels["plugin"] == name {
				out = append(out, fmt.Sprintf("%s=%g", name, s.value))
				found = true
			}
		}
		if !found {
			out = append(out, name+"=missing")
		}
	}
	return strings.Join(out, " ")
}

func TestPluginsRunOnlyWhileALoadedConfigUsesThem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, spec string) {
		t.Helper()
		doc := "apiVersion: example.com/v1\nkind: GitOpsConfig\nmetadata:\n  name: " + strings.TrimSuffix(name, ".yaml") + "\nspec:\n" + spec
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flux.yaml", `  gitOpsOperatorType: FLUX
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: GITHUB
  gitOpsAppURL: https://github.com/example-org/gitops-manifests/commit
  gitHubOrgUrl: https://api.github.com/repos/example-org
  gitHubGitOpsManifestsRepoName: gitops-manifests
  gitHubGitOpsRepoName: gitops-app
`)
	h := startHost(t, hostOptions{Args: []string{"--config", dir}})
	want := func(running string) {
		t.Helper()
		eventually(t, "plugins running "+running, func() string {
			if got := h.runningPlugins(t); got != running {
				return "plugins running " + got
			}
			if code, body, err := h.Readyz(); err != nil || code != 200 {
				return fmt.Sprintf("/readyz answered %d %q (%v)", code, body, err)
			}
			return ""
		})
	}
	want("argocd=0 azdo=0 flux=1 gitea=0 github=1")

	// A config comes: its plugins start and the host stays ready.
	write("argo.yaml", `  gitOpsOperatorType: ARGOCD
  gitRepositoryType: AZDO
  ciCdOrchestratorType: AZDO
  gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests
  azdoOrgUrl: https://dev.azure.com/org/project
  azdoGitOpsRepoName: manifests
`)
	want("argocd=1 azdo=1 flux=1 gitea=0 github=1")

	// The first config goes: no config uses Flux or GitHub any more.
	if err := os.Remove(filepath.Join(dir, "flux.yaml")); err != nil {
		t.Fatal(err)
	}
	want("argocd=1 azdo=1 flux=0 gitea=0 github=0")
	if n := len(h.Log.Messages("plugin stopped: no config uses its types")); n != 2 {
		t.Errorf("the host logged %d plugins stopped for want of a config, want 2 (flux, github)", n)
	}
}
