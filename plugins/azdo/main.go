// Command azdo is the gitops-connector plugin for Azure DevOps (type AZDO):
// commit statuses on Azure Repos (repository capability) and completion of
// the Azure Pipelines agentless tasks that wait for a deployment
// (orchestrator capability).
package main

import (
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/orchestrator"
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/repository"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// version is the plugin's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

func main() {
	clients := &azdoapi.Clients{}
	sdk.Serve(sdk.Plugin{
		Name:         "azdo",
		Version:      version,
		Types:        []string{"AZDO"},
		Repository:   repository.New(clients),
		Orchestrator: orchestrator.New(clients),
	})
}
