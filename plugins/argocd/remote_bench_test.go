package main

import (
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/gitops-connector/gitops-connector/testkit/parsebench"
)

// BenchmarkParseEventOverGRPC measures ParseEvent as the host makes the
// call: through the plugin binary, started as the host starts it, with the
// config the host passes. Besides the wall time it reports the processor
// time per event of the host's side (host-µs/op) and of the plugin process
// (plugin-µs/op): the parse, the conversions and gRPC on both sides.
//
//	go test -run '^$' -bench OverGRPC -benchmem -count 6 . | tee new.txt
func BenchmarkParseEventOverGRPC(b *testing.B) {
	c := plugintest.Start(b, plugintest.Build(b, "."))
	cfg := &sdk.Config{Name: "default", Revision: "3f2a9c0d1e4b5a69",
		Settings: map[string]string{"gitOpsOperatorType": "ARGOCD", "gitRepositoryType": "AZDO", "ciCdOrchestratorType": "AZDO",
			"azdoGitOpsRepoName": "manifests", "azdoOrgUrl": "https://dev.azure.com/my-org/my-project", "azdoPrRepoName": "app"}}
	parsebench.Remote(b, c.Operator, c.Pid(), cfg, parsebench.Read(b, "testdata",
		parsebench.Fixture{Name: "succeeded", File: "succeeded-synced-healthy.json"},
		parsebench.Fixture{Name: "running", File: "running-progressing.json"},
		parsebench.Fixture{Name: "failed", File: "failed.json"},
	))
}
