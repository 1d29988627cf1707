package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/plugins/argocd/internal/notification"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type event struct {
	name string
	body []byte
}

func testdataEvents(t *testing.T) []event {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	var events []event
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, event{filepath.Base(f), body})
	}
	return events
}

var singleInstance = sdk.Config{
	Name: "default",
	Settings: map[string]string{
		"gitRepositoryType":             "GITHUB",
		"ciCdOrchestratorType":          "GITHUB",
		"gitOpsOperatorType":            "ARGOCD",
		"gitOpsAppURL":                  "https://github.com/kaizentm/gitops-manifests/commit",
		"gitHubOrgUrl":                  "https://api.github.com/repos/kaizentm",
		"gitHubGitOpsManifestsRepoName": "gitops-manifests",
		"gitHubGitOpsRepoName":          "gitops-app",
	},
	Token:    "ghp_not-a-real-token",
	Revision: "1",
}

// TestConformance runs the SDK's conformance kit on the plugin binary with
// every testdata event the operator answers without an error (the others
// are invalid input by design; see TestPluginAnswersLikeTheOperator).
func TestConformance(t *testing.T) {
	var events []plugintest.Event
	for _, ev := range testdataEvents(t) {
		if _, err := notification.New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: ev.body}); err == nil {
			events = append(events, plugintest.Event{Name: ev.name, Body: ev.body})
		}
	}
	plugintest.Run(t, plugintest.Suite{
		Binary:         plugintest.Build(t, "."),
		ValidConfigs:   []sdk.Config{singleInstance},
		InvalidConfigs: []sdk.Config{{Name: "flux", Settings: map[string]string{"gitOpsOperatorType": "FLUX"}, Token: "ghp_not-a-real-token"}},
		Events:         events,
	})
}

// TestPluginAnswersLikeTheOperator checks that every testdata event gives
// the same result, or an error of the same kind, over the plugin protocol
// as in process, for each way the host may call it.
func TestPluginAnswersLikeTheOperator(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "."))
	if c.Description.Name != "argocd" || len(c.Description.Types) != 1 || c.Description.Types[0] != "ARGOCD" || !c.Description.Has(sdk.CapabilityOperator) {
		t.Fatalf("describe = %+v, want the argocd operator for ARGOCD", c.Description)
	}
	ctx := context.Background()
	local := notification.New(nil)
	for _, ev := range testdataEvents(t) {
		for _, cfg := range []*sdk.Config{nil, &singleInstance} {
			req := sdk.ParseRequest{Config: cfg, Body: ev.body}
			want, wantErr := local.ParseEvent(ctx, req)
			got, err := c.Operator.ParseEvent(ctx, req)
			if sdk.KindOf(err) != sdk.KindOf(wantErr) || (err == nil) != (wantErr == nil) {
				t.Errorf("%s: error %v, want %v", ev.name, err, wantErr)
				continue
			}
			if err != nil && err.Error() != wantErr.Error() {
				t.Errorf("%s: error %q, want %q", ev.name, err, wantErr)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: result over the protocol (-in process +plugin):\n%s", ev.name, diff)
			}
		}
	}
}
