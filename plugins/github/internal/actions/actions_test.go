package actions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/repository"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

const (
	owner     = "kaizentm"
	manifests = "gitops-manifests"
	app       = "app-src"
	commit    = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	source    = "3f9a2b1c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
)

type env struct {
	fake *fakegithub.Server
	orch *Orchestrator
	repo *repository.Repository
	cfg  sdk.Config
	log  *hostproc.Log
}

func setup(t *testing.T) env {
	t.Helper()
	fake := fakegithub.Start(t)
	fake.AddRepo(owner, app)
	clients := ghapi.NewClients(time.Minute)
	log := &hostproc.Log{}
	return env{
		fake: fake,
		orch: New(clients, slog.New(slog.NewJSONHandler(log, nil))),
		repo: repository.New(clients),
		cfg: sdk.Config{
			Name: "default",
			Settings: map[string]string{
				settings.OrgURL:        fake.OrgURL(owner),
				settings.ManifestsRepo: manifests,
				settings.GitOpsRepo:    app,
			},
			Token:    fake.Token(),
			Revision: "rev-1",
		},
		log: log,
	}
}

func (e env) notify(t *testing.T, successful bool) (sdk.NotifyResult, error) {
	t.Helper()
	return e.orch.NotifyCompletion(context.Background(), sdk.Completion{
		Config: e.cfg, CommitID: commit, Successful: successful,
		Statuses: []sdk.Status{{Name: "Status", State: sdk.StateSucceeded, RawState: "ReconciliationSucceeded", Genre: "Kustomization", Operator: "Flux"}},
	}, e.repo)
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDispatchPayloadFollowsTheCommitMessageSegments(t *testing.T) {
	merge := fixture(t, "merge-commit.txt")
	squash := fixture(t, "squash-commit.txt")
	cases := []struct {
		name, message, runID, sha string
		warns                     bool
	}{
		{"GitHub merge commit", merge, "4711", source, false},
		{"merge commit of a three-segment branch", "Merge pull request #3 from kaizentm/deploy/4711\n\nDeploy", "4711", "", true},
		{"squashed deploy branch", squash, "5012", source, false},
		{"five segments", "a/b/77/" + source + "/extra", "77", source, false},
		{"white space around the values", "a/b/ 77 / " + source + " (#12)", "77", source, false},
		{"empty values", "a/b//", "", "", true},
		{"three segments", "Merge pull request #3 from kaizentm/deploy/4711", "4711", "", true},
		{"two segments", "Update kustomization/podinfo", "", "", true},
		{"one segment", "Bump podinfo to 6.5.0", "", "", true},
		{"empty", "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			e.fake.SetCommit(owner, manifests, commit, tc.message)
			res, err := e.notify(t, true)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Notified || !strings.Contains(res.Reason, "kaizentm/app-src") {
				t.Errorf("result %+v", res)
			}
			d := e.fake.Dispatches(owner, app)
			if len(d) != 1 {
				t.Fatalf("%d dispatches, want 1", len(d))
			}
			want := map[string]any{"sha": tc.sha, "runid": tc.runID, "commitmessage": tc.message}
			if d[0].EventType != "sync-success" || len(d[0].ClientPayload) != len(want) {
				t.Errorf("dispatch %+v", d[0])
			}
			for k, v := range want {
				if d[0].ClientPayload[k] != v {
					t.Errorf("client_payload.%s = %q, want %q", k, d[0].ClientPayload[k], v)
				}
			}
			if warned := strings.Contains(e.log.String(), "lacks"); warned != tc.warns {
				t.Errorf("warned %v, want %v; log: %s", warned, tc.warns, e.log)
			}
			if len(e.fake.AllDispatches()) != 1 {
				t.Error("a dispatch went to another repository")
			}
		})
	}
}

func TestEnvironmentIsSentWhenTheConfigHasAStatusContext(t *testing.T) {
	e := setup(t)
	e.fake.SetCommit(owner, manifests, commit, fixture(t, "squash-commit.txt"))
	e.cfg.StatusContext = "prod-westeurope"
	if _, err := e.notify(t, true); err != nil {
		t.Fatal(err)
	}
	d := e.fake.Dispatches(owner, app)
	if len(d) != 1 || d[0].ClientPayload["environment"] != "prod-westeurope" || d[0].ClientPayload["runid"] != "5012" {
		t.Errorf("dispatches %+v", d)
	}
}

func TestASkippedCommitIsDispatchedFromItsOwnMessageWithDeployedWith(t *testing.T) {
	e := setup(t)
	e.fake.SetCommit(owner, manifests, commit, fixture(t, "squash-commit.txt"))
	head := "0123456789abcdef0123456789abcdef01234567"
	res, err := e.orch.NotifyCompletion(context.Background(), sdk.Completion{
		Config: e.cfg, CommitID: commit, Successful: true, DeployedWith: head,
	}, e.repo)
	if err != nil || !res.Notified {
		t.Fatalf("result %+v, %v", res, err)
	}
	d := e.fake.Dispatches(owner, app)
	if len(d) != 1 || d[0].ClientPayload["deployed_with"] != head || d[0].ClientPayload["runid"] != "5012" {
		t.Errorf("dispatches %+v", d)
	}
	_, err = e.orch.NotifyCompletion(context.Background(), sdk.Completion{
		Config: e.cfg, CommitID: commit, Successful: true, DeployedWith: "HEAD~1",
	}, e.repo)
	if sdk.KindOf(err) != sdk.KindInvalidInput || len(e.fake.Dispatches(owner, app)) != 1 {
		t.Errorf("a bad deployed-with id: %v", err)
	}
}

func TestFailedDeploymentIsNotDispatched(t *testing.T) {
	e := setup(t)
	e.fake.SetCommit(owner, manifests, commit, fixture(t, "merge-commit.txt"))
	res, err := e.notify(t, false)
	if err != nil || res.Notified || res.Reason == "" {
		t.Errorf("result %+v, %v: want not notified with a reason", res, err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("%d requests sent for a failed deployment", n)
	}
}

// stubRepository answers GetCommit with an error.
type stubRepository struct {
	sdk.UnimplementedRepository
	err error
}

func (s stubRepository) GetCommit(context.Context, sdk.GetCommitRequest) (sdk.Commit, error) {
	return sdk.Commit{}, s.err
}

func TestErrorsReadingTheCommitKeepTheirKind(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		kind  sdk.ErrorKind
		after time.Duration
	}{
		{"retryable", sdk.Retryable(errors.New("GitHub failed (502)"), 5*time.Second), sdk.KindRetryable, 5 * time.Second},
		{"not found", sdk.NotFound(errors.New("no such commit")), sdk.KindNotFound, 0},
		{"unimplemented", sdk.ErrUnimplemented, sdk.KindUnimplemented, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			_, err := e.orch.NotifyCompletion(context.Background(), sdk.Completion{Config: e.cfg, CommitID: commit, Successful: true}, stubRepository{err: tc.err})
			if sdk.KindOf(err) != tc.kind || sdk.RetryAfterOf(err) != tc.after {
				t.Errorf("err %v (kind %v, after %v), want %v after %v", err, sdk.KindOf(err), sdk.RetryAfterOf(err), tc.kind, tc.after)
			}
			if !strings.Contains(err.Error(), commit) {
				t.Errorf("message %q does not name the commit", err)
			}
			if len(e.fake.Requests()) != 0 {
				t.Error("dispatched without the commit message")
			}
		})
	}
}

func TestDispatchFaults(t *testing.T) {
	cases := []struct {
		name   string
		fault  fakegithub.Fault
		kind   sdk.ErrorKind
		after  time.Duration
		want   string
		resend bool
	}{
		{"502 then success", fakegithub.ServerError(http.StatusBadGateway), sdk.KindRetryable, 0, "502", true},
		{"429 then success", fakegithub.TooManyRequests(2 * time.Second), sdk.KindRetryable, 2 * time.Second, "429", true},
		{"missing repository", fakegithub.Error(http.StatusNotFound, "Not Found"), sdk.KindNotFound, 0, settings.GitOpsRepo, false},
		{"missing scope", fakegithub.Error(http.StatusForbidden, "Resource not accessible by personal access token"), sdk.KindPermissionDenied, 0, "repo scope", false},
		{"refused payload", fakegithub.Error(http.StatusUnprocessableEntity, "Invalid request."), sdk.KindPermanent, 0, "422", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			e.fake.SetCommit(owner, manifests, commit, fixture(t, "merge-commit.txt"))
			e.fake.FailNext(fakegithub.OpDispatch, tc.fault)
			_, err := e.notify(t, true)
			if sdk.KindOf(err) != tc.kind || sdk.RetryAfterOf(err) != tc.after || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v (kind %v, after %v), want %v after %v mentioning %q", err, sdk.KindOf(err), sdk.RetryAfterOf(err), tc.kind, tc.after, tc.want)
			}
			if strings.Contains(err.Error(), e.cfg.Token) || strings.Contains(e.log.String(), e.cfg.Token) {
				t.Error("the token appears in the error or the log")
			}
			if len(e.fake.AllDispatches()) != 0 {
				t.Fatal("a failed dispatch was recorded")
			}
			if !tc.resend {
				return
			}
			res, err := e.notify(t, true)
			if err != nil || !res.Notified {
				t.Fatalf("again: %+v, %v", res, err)
			}
			if n := len(e.fake.Dispatches(owner, app)); n != 1 {
				t.Errorf("%d dispatches, want exactly 1", n)
			}
		})
	}
}

func TestBadCommitIDOrConfigSendsNothing(t *testing.T) {
	e := setup(t)
	for _, id := range []string{"", "../x", "main@sha1:../../other-repo/commits/" + commit} {
		_, err := e.orch.NotifyCompletion(context.Background(), sdk.Completion{Config: e.cfg, CommitID: id, Successful: true}, e.repo)
		if sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("commit %q: %v, want invalid input", id, err)
		}
	}
	cfg := e.cfg
	cfg.Settings = map[string]string{settings.OrgURL: e.fake.OrgURL(owner)}
	_, err := e.orch.NotifyCompletion(context.Background(), sdk.Completion{Config: cfg, CommitID: commit, Successful: true}, e.repo)
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), settings.GitOpsRepo) {
		t.Errorf("config without %s: %v", settings.GitOpsRepo, err)
	}
	if errs, _ := e.orch.ValidateConfig(context.Background(), cfg); len(errs) != 1 || errs[0].Field != settings.GitOpsRepo {
		t.Errorf("ValidateConfig = %v", errs)
	}
	if len(e.fake.Requests()) != 0 {
		t.Error("requests were sent")
	}
}

func TestHugeCommitMessageIsCutToFitThePayload(t *testing.T) {
	e := setup(t)
	msg := "Merge pull request #12 from kaizentm/deploy/4711/" + source + "\n\n" + strings.Repeat("ü", 40<<10)
	e.fake.SetCommit(owner, manifests, commit, msg)
	if _, err := e.notify(t, true); err != nil {
		t.Fatal(err)
	}
	d := e.fake.Dispatches(owner, app)
	if len(d) != 1 {
		t.Fatalf("%d dispatches", len(d))
	}
	got, _ := d[0].ClientPayload["commitmessage"].(string)
	if len(got) > maxMessageBytes || !utf8.ValidString(got) || !strings.HasPrefix(msg, got) || len(d[0].Body) >= 64<<10 {
		t.Errorf("commitmessage of %d bytes (body %d), want a valid prefix under %d bytes", len(got), len(d[0].Body), maxMessageBytes)
	}
	if d[0].ClientPayload["runid"] != "4711" {
		t.Errorf("runid %q", d[0].ClientPayload["runid"])
	}
}
