// Command gitea is the gitops-connector plugin for Gitea and Forgejo (types
// GITEA and FORGEJO): as repository it posts commit statuses on the
// manifests repository and reads commits and statuses; as orchestrator it
// dispatches the Actions workflow that waits for a successful deployment.
package main

import (
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/actions"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/repository"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// version is the plugin's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

func main() {
	api := giteaapi.New(giteaapi.DefaultTimeout)
	sdk.Serve(sdk.Plugin{
		Name:         "gitea",
		Version:      version,
		Types:        []string{"GITEA", "FORGEJO"},
		Repository:   repository.New(api),
		Orchestrator: actions.New(api, sdk.Logger()),
	})
}
