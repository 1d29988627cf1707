// Command flux is the gitops-connector plugin for Flux: it reads the events
// Flux's notification-controller posts to a "generic" Provider
// (gitOpsOperatorType FLUX).
package main

import (
	"github.com/gitops-connector/gitops-connector/plugins/flux/internal/event"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// version is the plugin's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.Serve(sdk.Plugin{
		Name:     "flux",
		Version:  version,
		Types:    []string{event.OperatorType},
		Operator: event.New(sdk.Logger()),
	})
}
