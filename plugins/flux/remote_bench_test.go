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
		Settings: map[string]string{"gitOpsOperatorType": "FLUX", "gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB",
			"gitHubOrgUrl": "https://api.github.com/repos/my-org/", "gitHubGitOpsManifestsRepoName": "manifests", "gitHubGitOpsAppRepoName": "app"}}
	parsebench.Remote(b, c.Operator, c.Pid(), cfg, parsebench.Read(b, "testdata",
		parsebench.Fixture{Name: "succeeded", File: "kustomization-reconciliation-succeeded.json"},
		parsebench.Fixture{Name: "progressing", File: "kustomization-progressing-change-set.json"},
		parsebench.Fixture{Name: "health-check-failed", File: "kustomization-health-check-failed.json"},
	))
}
