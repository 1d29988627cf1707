// Command argocd is the gitops-connector plugin for Argo CD: it reads the
// notifications Argo CD's notification controller posts with the
// gitops-connector webhook template (gitOpsOperatorType ARGOCD).
package main

import (
	"github.com/gitops-connector/gitops-connector/plugins/argocd/internal/notification"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// version is the plugin's version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sdk.Serve(sdk.Plugin{
		Name:     "argocd",
		Version:  version,
		Types:    []string{notification.OperatorType},
		Operator: notification.New(sdk.Logger()),
	})
}
