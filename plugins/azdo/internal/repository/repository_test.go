package repository

import (
	"context"
	"testing"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
	"github.com/gitops-connector/gitops-connector/sdk"
)

func TestTargetURLAddsTheStatusNameAsNoopParameter(t *testing.T) {
	cases := []struct{ app, name, want string }{
		{"https://argocd.example.com/applications/az-vote", "Status", "https://argocd.example.com/applications/az-vote?noop=Status"},
		{"https://dev.azure.com/org/Project/_git/manifests", "Health", "https://dev.azure.com/org/Project/_git/manifests?noop=Health"},
		{"https://argocd.example.com/applications?app=az-vote", "Sync", "https://argocd.example.com/applications?app=az-vote&noop=Sync"},
		{"https://spektate.example.com/#/deployments", "Status", "https://spektate.example.com/?noop=Status#/deployments"},
		{"https://argocd.example.com/app?", "Status", "https://argocd.example.com/app?noop=Status"},
		{"https://argocd.example.com/app", "dev/deployment apps", "https://argocd.example.com/app?noop=dev%2Fdeployment+apps"},
	}
	for _, tc := range cases {
		got, err := TargetURL(tc.app, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("TargetURL(%q, %q) = %q, %v; want %q", tc.app, tc.name, got, err, tc.want)
		}
	}
}

func TestStatusesWithoutAStateOrANameAreInvalidInput(t *testing.T) {
	r := New(&azdoapi.Clients{})
	cfg := sdk.Config{Name: "default", Token: "pat", Settings: map[string]string{
		"azdoOrgUrl": "https://dev.azure.com/org/project", "azdoGitOpsRepoName": "manifests", "gitOpsAppURL": "https://app.example.com",
	}}
	for _, st := range []sdk.Status{{Name: "Status"}, {State: sdk.StatePending}, {Name: " ", State: sdk.StateFailed}} {
		err := r.PostStatus(context.Background(), sdk.PostStatusRequest{Config: cfg, CommitID: "abcdef0", Status: st})
		if sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("PostStatus(%+v) = %v, want invalid input", st, err)
		}
	}
}
