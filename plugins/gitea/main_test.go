package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
)

const (
	owner     = "platform"
	manifests = "gitops-manifests"
	app       = "app-src"
	workflow  = "sync-success.yaml"
	commit    = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	parent    = "1f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a81"
	source    = "3f9a2b1c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
	message   = "Merge pull request 'Deploy 4711' (#12) from deploy/4711/" + source + " into main"
)

func config(fake *fakegitea.Server) sdk.Config {
	return sdk.Config{
		Name: "default",
		Settings: map[string]string{
			"gitRepositoryType":      "GITEA",
			"ciCdOrchestratorType":   "FORGEJO",
			settings.URL:             fake.URL,
			settings.Owner:           owner,
			settings.ManifestsRepo:   manifests,
			settings.AppRepo:         app,
			settings.Workflow:        workflow,
			settings.AppURL:          "https://argocd.example.com/applications/podinfo",
			"unrelatedFutureSetting": "ignored",
		},
		Token:    fake.Token(),
		Revision: "rev-1",
	}
}

// giteaFixtures are Gitea's answers to the plugin's reads of commit, for the
// conformance kit's shape checks.
func giteaFixtures() map[string]string {
	c := `{"sha":"` + commit + `","commit":{"message":"Merge","committer":{"date":"2026-01-02T03:04:05Z"}},"parents":[{"sha":"` + parent + `"}]}`
	repo := "GET /api/v1/repos/" + owner + "/" + manifests
	return map[string]string{
		repo + "/git/commits/" + commit:              c,
		repo + "/compare/" + parent + "..." + commit: `{"total_commits":1,"commits":[` + c + `]}`,
		repo + "/commits/" + commit + "/statuses":    `[{"status":"success","context":"dev/Status","description":"done","updated_at":"2026-01-02T03:04:05Z"}]`,
	}
}

func TestPluginBinary(t *testing.T) {
	bin := plugintest.Build(t, ".")
	fake := fakegitea.Start(t)
	fake.SetCommitAt(owner, manifests, parent, "Initial", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fake.SetCommit(owner, manifests, commit, message, parent)
	fake.AddWorkflow(owner, app, workflow)
	cfg := config(fake)

	t.Run("conforms to the plugin contract", func(t *testing.T) {
		invalid := func(name string, s map[string]string) sdk.Config {
			return sdk.Config{Name: name, Settings: s, Token: fake.Token()}
		}
		plugintest.Run(t, plugintest.Suite{
			Binary:       bin,
			ValidConfigs: []sdk.Config{cfg},
			InvalidConfigs: []sdk.Config{
				invalid("empty", nil),
				invalid("owner in the repository", map[string]string{settings.URL: fake.URL, settings.Owner: owner, settings.ManifestsRepo: owner + "/" + manifests, settings.AppRepo: app, settings.Workflow: workflow}),
				invalid("repository URL", map[string]string{settings.URL: fake.URL + "/api/v1/repos/" + owner, settings.Owner: owner, settings.ManifestsRepo: manifests, settings.AppRepo: app, settings.Workflow: workflow}),
				invalid("workflow path", map[string]string{settings.URL: fake.URL, settings.Owner: owner, settings.ManifestsRepo: manifests, settings.AppRepo: app, settings.Workflow: ".gitea/workflows/" + workflow}),
			},
			Config: func(endpoint string) sdk.Config {
				c := config(fake)
				c.Settings[settings.URL] = endpoint
				c.Token, c.Credential = "", sdk.Credential{}
				return c
			},
			Fixtures:   giteaFixtures(),
			Commit:     commit,
			BaseCommit: parent,
		})
	})

	c := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("describes itself as GITEA and FORGEJO repository and orchestrator", func(t *testing.T) {
		d := c.Description
		if d.Name != "gitea" || !slices.Equal(d.Types, []string{"GITEA", "FORGEJO"}) || !d.Has(sdk.CapabilityRepository) || !d.Has(sdk.CapabilityOrchestrator) || d.Has(sdk.CapabilityOperator) {
			t.Errorf("description %+v", d)
		}
	})

	t.Run("reports field errors over the protocol", func(t *testing.T) {
		bad := cfg
		bad.Settings = map[string]string{settings.URL: "gitea.example.com", settings.Owner: owner}
		errs, err := c.Orchestrator.ValidateConfig(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, e := range errs {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, []string{settings.URL, settings.AppRepo, settings.Workflow}) {
			t.Errorf("fields %v", fields)
		}
	})

	t.Run("posts statuses and keeps error kinds across the process boundary", func(t *testing.T) {
		st := sdk.Status{Name: "Health", State: sdk.StateSucceeded, RawState: "Healthy", Description: "Health check passed", Genre: "ArgoCD", Operator: "ArgoCD"}
		fake.FailNext(fakegitea.OpCreateStatus, fakegitea.RetryAfter(http.StatusTooManyRequests, 7*time.Second))
		err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: st})
		if sdk.KindOf(err) != sdk.KindRetryable || sdk.RetryAfterOf(err) != 7*time.Second {
			t.Fatalf("429: %v (kind %v, after %v), want retryable after 7s", err, sdk.KindOf(err), sdk.RetryAfterOf(err))
		}
		if err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: st}); err != nil {
			t.Fatalf("retry: %v", err)
		}
		got := fake.Statuses(owner, manifests, commit)
		if len(got) != 1 || got[0].Context != "Health" || got[0].State != "success" || got[0].TargetURL != cfg.Settings[settings.AppURL] {
			t.Errorf("statuses %+v", got)
		}
		fake.FailNext(fakegitea.OpCreateStatus, fakegitea.Error(http.StatusNotFound, "The target couldn't be found."))
		err = c.Repository.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: st})
		if sdk.KindOf(err) != sdk.KindNotFound || !strings.Contains(err.Error(), settings.ManifestsRepo) || strings.Contains(err.Error(), cfg.Token) {
			t.Errorf("404: %v (kind %v)", err, sdk.KindOf(err))
		}
	})

	t.Run("lists commits and statuses", func(t *testing.T) {
		list, err := c.Repository.ListCommits(ctx, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: parent, HeadCommitID: commit})
		if err != nil || len(list.Commits) != 1 || list.Commits[0].ID != commit || !slices.Equal(list.Commits[0].ParentIDs, []string{parent}) || list.Truncated {
			t.Errorf("ListCommits = %+v, %v", list, err)
		}
		statuses, err := c.Repository.ListStatuses(ctx, sdk.ListStatusesRequest{Config: cfg, CommitID: commit})
		if err != nil || len(statuses) != 1 || statuses[0].Name != "Health" || statuses[0].State != sdk.StateSucceeded {
			t.Errorf("ListStatuses = %+v, %v", statuses, err)
		}
	})

	t.Run("orchestrator reads the commit through the host's repository", func(t *testing.T) {
		asked := make(chan sdk.GetCommitRequest, 1)
		host := plugintest.HostRepository{Message: "Merge pull request 'x' (#40) from deploy/9001/" + source + " into main", Asked: asked}
		prod := cfg
		prod.StatusContext = "prod"
		res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: prod, CommitID: commit, Successful: true}, host)
		if err != nil || !res.Notified {
			t.Fatalf("NotifyCompletion = %+v, %v", res, err)
		}
		if req := <-asked; req.CommitID != commit || req.Repository != "" || req.Config.Token != cfg.Token {
			t.Errorf("the host was asked for %+v", req)
		}
		if n := len(fake.Calls(fakegitea.OpGetCommit)); n != 0 {
			t.Errorf("the plugin read the commit from Gitea itself (%d calls)", n)
		}
		d := fake.Dispatches(owner, app)
		if len(d) != 1 || d[0].Inputs["runid"] != "9001" || d[0].Inputs["sha"] != source || d[0].Inputs["environment"] != "prod" || d[0].Ref != "main" {
			t.Errorf("dispatches %+v", d)
		}
	})

	t.Run("orchestrator over the plugin's own repository", func(t *testing.T) {
		before := len(fake.Dispatches(owner, app))
		res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: commit, Successful: true}, c.Repository)
		if err != nil || !res.Notified {
			t.Fatalf("NotifyCompletion = %+v, %v", res, err)
		}
		d := fake.Dispatches(owner, app)
		if len(d) != before+1 || d[len(d)-1].Inputs["runid"] != "4711" || d[len(d)-1].Inputs["commitmessage"] != message {
			t.Fatalf("dispatches %+v", d[before:])
		}
		res, err = c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: commit, Successful: false}, c.Repository)
		if err != nil || res.Notified || len(fake.Dispatches(owner, app)) != before+1 {
			t.Errorf("failed deployment: %+v, %v", res, err)
		}
	})

	if c.Exited() {
		t.Fatal("the plugin process exited")
	}
}
