package actions

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/repository"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
)

const (
	owner     = "platform"
	manifests = "gitops-manifests"
	app       = "app-src"
	workflow  = "sync-success.yaml"
	commit    = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	source    = "3f9a2b1c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
)

type env struct {
	fake *fakegitea.Server
	orch *Orchestrator
	repo sdk.Repository
	cfg  sdk.Config
	log  *bytes.Buffer
}

func setup(t *testing.T, message string) env {
	t.Helper()
	fake := fakegitea.Start(t)
	fake.SetCommit(owner, manifests, commit, message)
	fake.AddWorkflow(owner, app, workflow)
	api := giteaapi.New(5 * time.Second)
	var logs bytes.Buffer
	return env{
		fake: fake,
		orch: New(api, slog.New(slog.NewJSONHandler(&logs, nil))),
		repo: repository.New(api),
		log:  &logs,
		cfg: sdk.Config{Name: "dev", Token: fake.Token(), Settings: map[string]string{
			settings.URL: fake.URL + "/", settings.Owner: owner, settings.ManifestsRepo: manifests,
			settings.AppRepo: app, settings.Workflow: workflow,
		}},
	}
}

func (e env) notify(c sdk.Completion) (sdk.NotifyResult, error) {
	if c.Config.Name == "" {
		c.Config = e.cfg
	}
	if c.CommitID == "" {
		c.CommitID = commit
	}
	return e.orch.NotifyCompletion(context.Background(), c, e.repo)
}

func TestASuccessDispatchesTheWorkflowWithTheSyncSuccessInputs(t *testing.T) {
	msg := "Merge pull request 'Deploy 4711' (#12) from deploy/4711/" + source + " into main"
	e := setup(t, msg)
	res, err := e.notify(sdk.Completion{Successful: true})
	if err != nil || !res.Notified || !strings.Contains(res.Reason, "platform/app-src") {
		t.Fatalf("NotifyCompletion = %+v, %v", res, err)
	}
	d := e.fake.Dispatches(owner, app)
	if len(d) != 1 || d[0].Workflow != workflow || d[0].Ref != settings.DefaultWorkflowRef {
		t.Fatalf("dispatches %+v", d)
	}
	want := map[string]string{"sha": source, "runid": "4711", "commitmessage": msg}
	if len(d[0].Inputs) != len(want) {
		t.Errorf("inputs %v, want %v", d[0].Inputs, want)
	}
	for k, v := range want {
		if d[0].Inputs[k] != v {
			t.Errorf("inputs.%s = %q, want %q", k, d[0].Inputs[k], v)
		}
	}
	if c := e.fake.Calls(fakegitea.OpDispatch); c[0].Path != "/api/v1/repos/platform/app-src/actions/workflows/sync-success.yaml/dispatches" || c[0].AuthScheme != "token" {
		t.Errorf("call %+v", c[0])
	}
}

func TestEnvironmentRefAndDeployedWithAreSent(t *testing.T) {
	e := setup(t, "Merge pull request #5 from org/deploy/77/"+source)
	cfg := e.cfg
	cfg.StatusContext = "prod"
	cfg.Settings[settings.WorkflowRef] = "refs/tags/v2"
	newer := strings.Repeat("b", 40)
	if _, err := e.notify(sdk.Completion{Config: cfg, Successful: true, DeployedWith: newer}); err != nil {
		t.Fatal(err)
	}
	d := e.fake.Dispatches(owner, app)
	if len(d) != 1 || d[0].Ref != "refs/tags/v2" || d[0].Inputs["environment"] != "prod" || d[0].Inputs["deployed_with"] != newer || d[0].Inputs["runid"] != "77" {
		t.Errorf("dispatch %+v", d)
	}
}

func TestAMessageWithoutRunIDIsDispatchedWithWhatItHasAndLogged(t *testing.T) {
	e := setup(t, "Bump podinfo to 6.5.0")
	if res, err := e.notify(sdk.Completion{Successful: true}); err != nil || !res.Notified {
		t.Fatalf("%+v, %v", res, err)
	}
	if d := e.fake.Dispatches(owner, app); len(d) != 1 || d[0].Inputs["runid"] != "" || d[0].Inputs["commitmessage"] != "Bump podinfo to 6.5.0" {
		t.Errorf("dispatches %+v", d)
	}
	if !strings.Contains(e.log.String(), "lacks the run id") {
		t.Errorf("log: %s", e.log)
	}
}

func TestAFailedDeploymentOrABadRequestDispatchesNothing(t *testing.T) {
	e := setup(t, "deploy/1/"+source)
	if res, err := e.notify(sdk.Completion{Successful: false}); err != nil || res.Notified {
		t.Errorf("failed deployment: %+v, %v", res, err)
	}
	if _, err := e.notify(sdk.Completion{CommitID: "main@sha1:../x", Successful: true}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("bad commit: %v", err)
	}
	if _, err := e.notify(sdk.Completion{Successful: true, DeployedWith: "HEAD"}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("bad deployed_with: %v", err)
	}
	bad := e.cfg
	bad.Settings = map[string]string{settings.URL: e.fake.URL, settings.Owner: owner, settings.AppRepo: app, settings.Workflow: ".gitea/workflows/x.yaml"}
	if _, err := e.notify(sdk.Completion{Config: bad, Successful: true}); sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), settings.Workflow) {
		t.Errorf("bad workflow: %v", err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDispatchErrorsKeepTheirKind(t *testing.T) {
	for _, tc := range []struct {
		fault fakegitea.Fault
		kind  sdk.ErrorKind
		after time.Duration
	}{
		{fakegitea.RetryAfter(http.StatusTooManyRequests, 12*time.Second), sdk.KindRetryable, 12 * time.Second},
		{fakegitea.Error(http.StatusInternalServerError, "boom"), sdk.KindRetryable, 0},
		{fakegitea.Error(http.StatusForbidden, "Actions are disabled"), sdk.KindPermissionDenied, 0},
		{fakegitea.Error(http.StatusUnprocessableEntity, "workflow has no workflow_dispatch event trigger"), sdk.KindPermanent, 0},
	} {
		e := setup(t, "deploy/1/"+source)
		e.fake.FailNext(fakegitea.OpDispatch, tc.fault)
		_, err := e.notify(sdk.Completion{Successful: true})
		if sdk.KindOf(err) != tc.kind || sdk.RetryAfterOf(err) != tc.after {
			t.Errorf("%d: %v (kind %v, after %v)", tc.fault.Status, err, sdk.KindOf(err), sdk.RetryAfterOf(err))
		}
	}
	e := setup(t, "deploy/1/"+source)
	e.cfg.Settings[settings.Workflow] = "missing.yml"
	_, err := e.notify(sdk.Completion{Successful: true})
	if sdk.KindOf(err) != sdk.KindNotFound || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("missing workflow: %v", err)
	}
}

func TestParseMessageReadsGiteaMergesAndOtherMessages(t *testing.T) {
	for msg, want := range map[string][2]string{
		"Merge pull request 'Deploy 4711' (#12) from deploy/4711/" + source + " into main\n\nReviewed-on: https://gitea.example.com/platform/gitops-manifests/pulls/12": {"4711", source},
		"Merge pull request 'a/b/c' (#3) from bot/app:deploy/88/" + source + " into main":                                                                               {"88", source},
		"deploy/dev/5012/" + source + " (#7)":                   {"5012", source},
		"Merge pull request #12 from org/deploy/4711/" + source: {"4711", source},
		"Bump podinfo": {"", ""},
	} {
		p, _ := ParseMessage(msg)
		if p.RunID != want[0] || p.SHA != want[1] || p.CommitMessage != msg {
			t.Errorf("ParseMessage(%q) = %+v, want run id %q, sha %q", msg, p, want[0], want[1])
		}
	}
}
