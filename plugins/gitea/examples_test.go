package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/actions"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/repository"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/syncsuccess"
	"go.yaml.in/yaml/v4"
)

var examples = filepath.Join("..", "..", "examples", "gitea")

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The example workflow declares every input a dispatch carries.
func TestTheExampleWorkflowDeclaresEveryInput(t *testing.T) {
	var wf struct {
		On struct {
			WorkflowDispatch struct {
				Inputs map[string]struct {
					Type string `yaml:"type"`
				} `yaml:"inputs"`
			} `yaml:"workflow_dispatch"`
		} `yaml:"on"`
	}
	readYAML(t, "sync-success.yaml", &wf)
	c := sdk.Completion{Config: sdk.Config{StatusContext: "prod"}, CommitID: "abc1234", DeployedWith: "def5678", Successful: true}
	p, missing := syncsuccess.Parse("Merge pull request #1 from org/deploy/1/abc")
	_, inputs := syncsuccess.Build(slog.New(slog.DiscardHandler), c, p, missing, 1<<10)
	var sent, declared []string
	for k := range inputs {
		sent = append(sent, k)
	}
	for k, in := range wf.On.WorkflowDispatch.Inputs {
		declared = append(declared, k)
		if in.Type != "string" {
			t.Errorf("input %s has type %q; the connector sends strings", k, in.Type)
		}
	}
	slices.Sort(sent)
	slices.Sort(declared)
	if !slices.Equal(sent, declared) {
		t.Errorf("the example declares %v, a dispatch carries %v", declared, sent)
	}
}

// The example config is valid for both capabilities.
func TestTheExampleConfigIsValid(t *testing.T) {
	var doc struct {
		Spec map[string]string `yaml:"spec"`
	}
	readYAML(t, "config.yaml", &doc)
	cfg := sdk.Config{Name: "gitea", Settings: doc.Spec}
	api := giteaapi.New(giteaapi.DefaultTimeout)
	for name, validate := range map[string]func(context.Context, sdk.Config) ([]sdk.FieldError, error){
		"repository":   repository.New(api).ValidateConfig,
		"orchestrator": actions.New(api, slog.New(slog.DiscardHandler)).ValidateConfig,
	} {
		if errs, err := validate(context.Background(), cfg); err != nil || len(errs) > 0 {
			t.Errorf("%s: %v %v", name, errs, err)
		}
	}
	if doc.Spec["gitRepositoryType"] != "GITEA" || doc.Spec["ciCdOrchestratorType"] != "GITEA" {
		t.Errorf("types %v", doc.Spec)
	}
}
