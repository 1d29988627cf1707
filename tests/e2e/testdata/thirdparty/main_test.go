package main

import (
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

// TestConformance checks the plugin against the connector's contract, over
// a real plugin connection, against the kit's recording endpoint.
func TestConformance(t *testing.T) {
	head, parent := strings.Repeat("a", 40), strings.Repeat("b", 40)
	plugintest.Run(t, plugintest.Suite{
		Binary:         plugintest.Build(t, "."),
		ValidConfigs:   []sdk.Config{{Name: "default", Settings: map[string]string{"webhookUrl": "https://hooks.example.com/gitops"}}},
		InvalidConfigs: []sdk.Config{{Name: "no-url"}},
		// The settings hook: point the plugin at the kit's endpoint.
		Config: func(endpoint string) sdk.Config {
			return sdk.Config{Settings: map[string]string{"webhookUrl": endpoint + "/gitops"}}
		},
		Fixtures: map[string]string{
			"GET /gitops/commits/" + head: `{"ID":"` + head + `","Message":"Merge","ParentIDs":["` + parent + `"]}`,
		},
		Commit: head,
	})
}
