package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

// events returns the fixtures of testdata, except the invalid-* bodies that
// are no JSON object (the conformance kit wants a result for each event).
func events(t *testing.T) []plugintest.Event {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []plugintest.Event
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "invalid-") {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, plugintest.Event{Name: filepath.Base(f), Body: body})
	}
	if len(out) < 20 {
		t.Fatalf("found %d fixtures in testdata, want the full set", len(out))
	}
	return out
}

func TestConformance(t *testing.T) {
	plugintest.Run(t, plugintest.Suite{
		Binary: plugintest.Build(t, "."),
		ValidConfigs: []sdk.Config{
			{Name: "default", Settings: map[string]string{"gitOpsOperatorType": "FLUX", "gitRepositoryType": "GITHUB"}},
			{Name: "no-settings"},
		},
		InvalidConfigs: []sdk.Config{
			{Name: "argo", Settings: map[string]string{"gitOpsOperatorType": "ARGOCD"}, Token: "ghp_secret-token"},
		},
		Events: events(t),
	})
}

// TestResultsCrossThePluginBoundaryIntact parses fixtures through the real
// binary and checks what the host receives.
func TestResultsCrossThePluginBoundaryIntact(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "."))
	if c.Operator == nil || !slices.Equal(c.Description.Types, []string{"FLUX"}) || c.Description.Name != "flux" {
		t.Fatalf("description %+v: want the flux operator for type FLUX", c.Description)
	}
	ctx := context.Background()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	res, err := c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: read("kustomization-health-check-failed.json")})
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Status{
		{Name: "Status", State: sdk.StateFailed, RawState: "HealthCheckFailed", Description: "Health Check Failed", Genre: "Kustomization", Operator: "Flux"},
		{Name: "Deployment/default/podinfo", State: sdk.StateFailed, RawState: "error", Description: "Health Check Failed (status: 'InProgress')", Genre: "Kustomization", Operator: "Flux"},
		{Name: "StatefulSet/default/redis", State: sdk.StateFailed, RawState: "error", Description: "Health Check Failed (status: 'Failed')", Genre: "Kustomization", Operator: "Flux"},
	}
	if !res.Handled || res.CommitID != "7d0a6f3e2c1b9a8d7e6f5c4b3a29180f7e6d5c4b" || res.ConfigName != "my-gitops-repo-stage-dev" ||
		!res.Finished || res.Successful || !slices.Equal(res.Statuses, want) {
		t.Errorf("health check failed: got %+v", res)
	}

	res, err = c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: read("gitrepository-new-artifact.json")})
	if err != nil || res.Handled || !strings.Contains(res.Reason, "NewArtifact") {
		t.Errorf("new artifact: got %+v, %v; want ignored", res, err)
	}

	_, err = c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: read("invalid-truncated-json.json")})
	if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("truncated body: got %v, want an invalid input error", err)
	}
}
