// Command github is the gitops-connector plugin for GitHub (type GITHUB): as
// repository it posts commit statuses on the manifests repository and reads
// commits and pull requests; as orchestrator it sends the repository_dispatch
// event "sync-success" that a GitHub Actions workflow waits for.
package main

import (
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/actions"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/repository"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// version is the plugin's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

func main() {
	clients := ghapi.NewClients(ghapi.DefaultTimeout)
	sdk.Serve(sdk.Plugin{
		Name:         "github",
		Version:      version,
		Types:        []string{"GITHUB"},
		Repository:   repository.New(clients),
		Orchestrator: actions.New(clients, sdk.Logger()),
	})
}
