package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

const (
	owner     = "kaizentm"
	manifests = "gitops-manifests"
	app       = "app-src"
	commit    = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	source    = "3f9a2b1c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
	message   = "Merge pull request #12 from kaizentm/deploy/4711/" + source + "\n\nDeploy 3f9a2b1c to dev"
)

func config(fake *fakegithub.Server, orgURL string) sdk.Config {
	return sdk.Config{
		Name: "default",
		Settings: map[string]string{
			"gitRepositoryType":      "GITHUB",
			"ciCdOrchestratorType":   "GITHUB",
			settings.OrgURL:          orgURL,
			settings.ManifestsRepo:   manifests,
			settings.GitOpsRepo:      app,
			settings.AppURL:          "https://argocd.example.com/applications/podinfo",
			"gitOpsOperatorType":     "FLUX",
			"unrelatedFutureSetting": "ignored",
		},
		Token:    fake.Token(),
		Revision: "rev-1",
	}
}

// kitBase is the parent of commit in the answers githubFixtures gives the
// conformance kit.
var kitBase = strings.Repeat("b", 40)

// githubFixtures are GitHub's answers to the plugin's reads of commit, for
// the conformance kit's shape checks.
func githubFixtures() map[string]string {
	rc := `{"sha":"` + commit + `","commit":{"message":"Merge pull request #12 from org/deploy/4711/` + commit + `","committer":{"date":"2026-01-02T03:04:05Z"}},"parents":[{"sha":"` + kitBase + `"}]}`
	repo := "GET /repos/" + owner + "/" + manifests
	return map[string]string{
		repo + "/commits/" + commit:                   rc,
		repo + "/compare/" + kitBase + "..." + commit: `{"total_commits":1,"commits":[` + rc + `]}`,
		repo + "/commits/" + commit + "/statuses":     `[{"context":"dev/Status","state":"success","description":"done","updated_at":"2026-01-02T03:04:05Z"}]`,
	}
}

func TestPluginBinary(t *testing.T) {
	bin := plugintest.Build(t, ".")
	fake := fakegithub.Start(t)
	fake.SetCommit(owner, manifests, commit, message)
	fake.AddRepo(owner, app)
	cfg := config(fake, fake.OrgURL(owner))

	t.Run("conforms to the plugin contract", func(t *testing.T) {
		enterprise := config(fake, "https://ghe.example.com/api/v3/repos/"+owner)
		enterprise.Name = "enterprise"
		invalid := func(name string, settings map[string]string) sdk.Config {
			return sdk.Config{Name: name, Settings: settings, Token: fake.Token()}
		}
		plugintest.Run(t, plugintest.Suite{
			Binary:       bin,
			ValidConfigs: []sdk.Config{cfg, enterprise},
			InvalidConfigs: []sdk.Config{
				invalid("empty", nil),
				invalid("web address", map[string]string{settings.OrgURL: "https://github.com/" + owner, settings.ManifestsRepo: manifests, settings.GitOpsRepo: app}),
				invalid("repository with owner", map[string]string{settings.OrgURL: fake.OrgURL(owner), settings.ManifestsRepo: owner + "/" + manifests, settings.GitOpsRepo: app}),
				invalid("other API version", map[string]string{settings.OrgURL: "https://ghe.example.com/api/v4/repos/" + owner, settings.ManifestsRepo: manifests, settings.GitOpsRepo: app}),
			},
			Config: func(endpoint string) sdk.Config {
				c := config(fake, endpoint+"/repos/"+owner)
				c.Token, c.Credential = "", sdk.Credential{}
				return c
			},
			Fixtures:   githubFixtures(),
			Commit:     commit,
			BaseCommit: kitBase,
		})
	})

	c := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("describes itself as GITHUB repository and orchestrator", func(t *testing.T) {
		d := c.Description
		if d.Name != "github" || !slices.Equal(d.Types, []string{"GITHUB"}) || !d.Has(sdk.CapabilityRepository) || !d.Has(sdk.CapabilityOrchestrator) || d.Has(sdk.CapabilityOperator) {
			t.Errorf("description %+v", d)
		}
	})

	t.Run("reports field errors over the protocol", func(t *testing.T) {
		bad := cfg
		bad.Settings = map[string]string{settings.OrgURL: "https://api.github.com/" + owner + "/" + manifests}
		errs, err := c.Repository.ValidateConfig(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, e := range errs {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, []string{settings.OrgURL, settings.ManifestsRepo}) {
			t.Errorf("fields %v, want %s and %s", fields, settings.OrgURL, settings.ManifestsRepo)
		}
	})

	t.Run("posts statuses and keeps error kinds across the process boundary", func(t *testing.T) {
		st := sdk.Status{Name: "Health", State: sdk.StateSucceeded, RawState: "Healthy", Description: "Health check passed", Genre: "ArgoCD", Operator: "ArgoCD"}
		fake.FailNext(fakegithub.OpCreateStatus, fakegithub.TooManyRequests(7*time.Second))
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
		fake.FailNext(fakegithub.OpCreateStatus, fakegithub.Error(http.StatusNotFound, "Not Found"))
		err = c.Repository.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: st})
		if sdk.KindOf(err) != sdk.KindNotFound || !strings.Contains(err.Error(), settings.ManifestsRepo) || strings.Contains(err.Error(), cfg.Token) {
			t.Errorf("404: %v (kind %v)", err, sdk.KindOf(err))
		}
	})

	t.Run("orchestrator reads the commit through the host's repository", func(t *testing.T) {
		asked := make(chan sdk.GetCommitRequest, 1)
		host := plugintest.HostRepository{Message: "Merge pull request #40 from kaizentm/deploy/9001/" + source, Asked: asked}
		prod := cfg
		prod.StatusContext = "prod"
		res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: prod, CommitID: commit, Successful: true}, host)
		if err != nil || !res.Notified {
			t.Fatalf("NotifyCompletion = %+v, %v", res, err)
		}
		req := <-asked
		if req.CommitID != commit || req.Repository != "" || req.Config.Name != "default" || req.Config.Token != cfg.Token {
			t.Errorf("the host was asked for %+v", req)
		}
		if n := len(fake.Calls(fakegithub.OpGetCommit)); n != 0 {
			t.Errorf("the plugin read the commit from GitHub itself (%d calls)", n)
		}
		d := fake.Dispatches(owner, app)
		if len(d) != 1 || d[0].ClientPayload["runid"] != "9001" || d[0].ClientPayload["sha"] != source || d[0].ClientPayload["environment"] != "prod" {
			t.Errorf("dispatches %+v", d)
		}
	})

	t.Run("orchestrator over the plugin's own repository reaches GitHub once per call", func(t *testing.T) {
		before := len(fake.Dispatches(owner, app))
		res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: commit, Successful: true}, c.Repository)
		if err != nil || !res.Notified {
			t.Fatalf("NotifyCompletion = %+v, %v", res, err)
		}
		d := fake.Dispatches(owner, app)
		if len(d) != before+1 {
			t.Fatalf("%d new dispatches, want 1", len(d)-before)
		}
		last := d[len(d)-1]
		if last.ClientPayload["runid"] != "4711" || last.ClientPayload["sha"] != source || last.ClientPayload["commitmessage"] != message {
			t.Errorf("payload %v", last.ClientPayload)
		}
		if _, ok := last.ClientPayload["environment"]; ok {
			t.Error("environment sent without a status context")
		}
		if n := len(fake.Calls(fakegithub.OpGetCommit)); n != 1 {
			t.Errorf("%d commit reads, want 1", n)
		}
		res, err = c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: commit, Successful: false}, c.Repository)
		if err != nil || res.Notified || len(fake.Dispatches(owner, app)) != before+1 {
			t.Errorf("failed deployment: %+v, %v", res, err)
		}
	})

	t.Run("GitHub Enterprise layout", func(t *testing.T) {
		ghe := config(fake, fake.EnterpriseOrgURL(owner))
		ghe.Name, ghe.Revision = "enterprise", "rev-ghe"
		st := sdk.Status{Name: "Status", State: sdk.StatePending, RawState: "Progressing", Genre: "Kustomization", Operator: "Flux"}
		if err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{Config: ghe, CommitID: commit, Status: st}); err != nil {
			t.Fatal(err)
		}
		calls := fake.Calls(fakegithub.OpCreateStatus)
		if last := calls[len(calls)-1]; !strings.HasPrefix(last.Path, fakegithub.EnterprisePrefix+"/repos/") || last.Answer != http.StatusCreated {
			t.Errorf("last status call %s -> %d", last.Path, last.Answer)
		}
	})

	if c.Exited() {
		t.Fatal("the plugin process exited")
	}
}
