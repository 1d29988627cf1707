package repository

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/giteaapi"
	"github.com/gitops-connector/gitops-connector/plugins/gitea/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegitea"
)

const (
	owner     = "platform"
	manifests = "gitops-manifests"
	commit    = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
)

type env struct {
	fake *fakegitea.Server
	repo *Repository
	cfg  sdk.Config
}

func setup(t *testing.T) env {
	t.Helper()
	fake := fakegitea.Start(t)
	fake.SetCommit(owner, manifests, commit, "Deploy podinfo")
	return env{
		fake: fake,
		repo: New(giteaapi.New(5 * time.Second)),
		cfg: sdk.Config{Name: "dev", Token: fake.Token(), Settings: map[string]string{
			settings.URL: fake.URL, settings.Owner: owner, settings.ManifestsRepo: manifests,
			settings.AppURL: "https://argocd.example.com/applications/podinfo",
		}},
	}
}

func (e env) post(st sdk.Status) error {
	return e.repo.PostStatus(context.Background(), sdk.PostStatusRequest{Config: e.cfg, CommitID: commit, Status: st})
}

func TestPostStatusMapsStatesAndSendsTheTokenAsToken(t *testing.T) {
	e := setup(t)
	for state, want := range map[sdk.State]string{
		sdk.StatePending: "pending", sdk.StateSucceeded: "success", sdk.StateFailed: "failure",
		sdk.StateError: "error", sdk.StateNotApplicable: "success",
	} {
		if err := e.post(sdk.Status{Name: "Status", State: state, Description: "Reconciliation underway."}); err != nil {
			t.Fatalf("%v: %v", state, err)
		}
		got := e.fake.Statuses(owner, manifests, commit)
		last := got[len(got)-1]
		if last.State != want || last.Context != "Status" || last.Description != "Reconciliation underway." || last.TargetURL != e.cfg.Settings[settings.AppURL] {
			t.Errorf("%v posted as %+v, want %s", state, last, want)
		}
	}
	for _, c := range e.fake.Calls(fakegitea.OpCreateStatus) {
		if c.AuthScheme != "token" || c.Path != "/api/v1/repos/platform/gitops-manifests/statuses/"+commit {
			t.Errorf("call %s with %q", c.Path, c.AuthScheme)
		}
	}
	if err := e.post(sdk.Status{Name: "Status"}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("unspecified state: %v", err)
	}
}

func TestAnswersAreClassifiedForTheRetryPolicyWithoutTheToken(t *testing.T) {
	cases := []struct {
		name  string
		fault fakegitea.Fault
		kind  sdk.ErrorKind
		after time.Duration
		says  string
	}{
		{"401", fakegitea.Error(http.StatusUnauthorized, "token is required"), sdk.KindPermissionDenied, 0, "write:repository"},
		{"403", fakegitea.Error(http.StatusForbidden, "user should have a permission"), sdk.KindPermissionDenied, 0, "write:repository"},
		{"404", fakegitea.Error(http.StatusNotFound, "The target couldn't be found."), sdk.KindNotFound, 0, settings.ManifestsRepo},
		{"422", fakegitea.Error(http.StatusUnprocessableEntity, "invalid state"), sdk.KindPermanent, 0, "invalid state"},
		{"429 with Retry-After", fakegitea.RetryAfter(http.StatusTooManyRequests, 17*time.Second), sdk.KindRetryable, 17 * time.Second, "429"},
		{"503 with Retry-After", fakegitea.RetryAfter(http.StatusServiceUnavailable, 30*time.Second), sdk.KindRetryable, 30 * time.Second, "503"},
		{"500", fakegitea.Error(http.StatusInternalServerError, "GetCommit: fatal"), sdk.KindRetryable, 0, "500"},
		{"502 echoing the token", fakegitea.Error(http.StatusBadGateway, "upstream said Authorization: token "+fakegitea.DefaultToken), sdk.KindRetryable, 0, "[redacted]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			e.fake.FailNext(fakegitea.OpCreateStatus, tc.fault)
			err := e.post(sdk.Status{Name: "Health", State: sdk.StateSucceeded})
			if sdk.KindOf(err) != tc.kind || sdk.RetryAfterOf(err) != tc.after {
				t.Errorf("%v: kind %v after %v, want %v after %v", err, sdk.KindOf(err), sdk.RetryAfterOf(err), tc.kind, tc.after)
			}
			if !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), e.cfg.Token) {
				t.Errorf("error %q should say %q and never the token", err, tc.says)
			}
		})
	}
}

func TestATimeoutIsRetryable(t *testing.T) {
	e := setup(t)
	e.repo = New(giteaapi.New(200 * time.Millisecond))
	e.fake.FailNext(fakegitea.OpCreateStatus, fakegitea.Hang())
	err := e.post(sdk.Status{Name: "Health", State: sdk.StateSucceeded})
	if sdk.KindOf(err) != sdk.KindRetryable {
		t.Errorf("%v: kind %v", err, sdk.KindOf(err))
	}
	if len(e.fake.Statuses(owner, manifests, commit)) != 0 {
		t.Error("a hung post took effect")
	}
}

func TestBadIdsAndConfigsSendNothing(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for _, id := range []string{"", "main", "../../other/commits/" + commit, commit + "/../x", "abc", strings.Repeat("a", 65)} {
		err := e.repo.PostStatus(ctx, sdk.PostStatusRequest{Config: e.cfg, CommitID: id, Status: sdk.Status{Name: "S", State: sdk.StatePending}})
		if sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("commit %q: %v", id, err)
		}
		if _, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: id, HeadCommitID: commit}); sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("base %q: %v", id, err)
		}
	}
	if _, err := e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, Repository: "../other", CommitID: commit}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("repository ../other: %v", err)
	}
	noToken := e.cfg
	noToken.Token = ""
	if err := e.repo.PostStatus(ctx, sdk.PostStatusRequest{Config: noToken, CommitID: commit, Status: sdk.Status{Name: "S", State: sdk.StatePending}}); sdk.KindOf(err) != sdk.KindPermissionDenied {
		t.Errorf("no token: %v", err)
	}
	bad := e.cfg
	bad.Settings = map[string]string{settings.URL: e.fake.URL}
	if err := e.repo.PostStatus(ctx, sdk.PostStatusRequest{Config: bad, CommitID: commit, Status: sdk.Status{Name: "S", State: sdk.StatePending}}); sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), settings.Owner) {
		t.Errorf("config without owner: %v", err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestGetCommitReadsMessageParentsAndDate(t *testing.T) {
	e := setup(t)
	parent := strings.Repeat("1", 40)
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	e.fake.SetCommitAt(owner, "app-src", commit, "Merge pull request 'deploy' (#12) from deploy/4711/abc into main", at, parent)
	c, err := e.repo.GetCommit(context.Background(), sdk.GetCommitRequest{Config: e.cfg, Repository: "app-src", CommitID: commit[:12]})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != commit || !strings.HasPrefix(c.Message, "Merge pull request") || len(c.ParentIDs) != 1 || c.ParentIDs[0] != parent || !c.CommittedAt.Equal(at) {
		t.Errorf("commit %+v", c)
	}
	if calls := e.fake.Calls(fakegitea.OpGetCommit); len(calls) != 1 || calls[0].Query != "files=false&stat=false&verification=false" {
		t.Errorf("calls %+v", calls)
	}
	if _, err := e.repo.GetCommit(context.Background(), sdk.GetCommitRequest{Config: e.cfg, CommitID: strings.Repeat("e", 40)}); sdk.KindOf(err) != sdk.KindNotFound {
		t.Errorf("unknown commit: %v", err)
	}
}

func TestListCommitsKeepsTheNewestUpToTheLimit(t *testing.T) {
	e := setup(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = fmt.Sprintf("%040x", i+1)
		var parents []string
		if i > 0 {
			parents = []string{ids[i-1]}
		}
		e.fake.SetCommitAt(owner, manifests, ids[i], fmt.Sprintf("commit %d", i), t0.Add(time.Duration(i)*time.Minute), parents...)
	}
	ctx := context.Background()
	list, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: ids[1], HeadCommitID: ids[7], MaxCommits: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Commits) != 4 || !list.Truncated || list.Commits[0].ID != ids[7] || list.Commits[3].ID != ids[4] || list.Commits[0].ParentIDs[0] != ids[6] || list.Commits[0].CommittedAt.IsZero() {
		t.Errorf("list %+v", list)
	}
	all, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: ids[1], HeadCommitID: ids[7]})
	if err != nil || len(all.Commits) != 6 || all.Truncated || all.Commits[5].ID != ids[2] {
		t.Errorf("all: %+v, %v", all, err)
	}
	none, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: ids[7], HeadCommitID: ids[7]})
	if err != nil || len(none.Commits) != 0 || none.Truncated {
		t.Errorf("head is base: %+v, %v", none, err)
	}
	if calls := e.fake.Calls(fakegitea.OpCompare); calls[0].Path != "/api/v1/repos/platform/gitops-manifests/compare/"+ids[1]+"..."+ids[7] {
		t.Errorf("path %s", calls[0].Path)
	}
}

func TestListStatusesReadsEveryPageAndKeepsTheLatestOfEachContext(t *testing.T) {
	e := setup(t)
	// An old context, seen only on the last page, then 120 statuses over
	// three contexts: three pages of 50.
	if err := e.post(sdk.Status{Name: "dev/Old", State: sdk.StateNotApplicable}); err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		st := sdk.Status{Name: []string{"dev/Status", "dev/Health", "dev/Sync"}[i%3], State: sdk.StatePending, Description: fmt.Sprint(i)}
		if i >= 117 {
			st.State = []sdk.State{sdk.StateSucceeded, sdk.StateFailed, sdk.StateError}[i-117]
		}
		if err := e.post(st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.repo.ListStatuses(context.Background(), sdk.ListStatusesRequest{Config: e.cfg, CommitID: commit})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sdk.State{"dev/Status": sdk.StateSucceeded, "dev/Health": sdk.StateFailed, "dev/Sync": sdk.StateError, "dev/Old": sdk.StateSucceeded}
	if len(got) != 4 {
		t.Fatalf("statuses %+v", got)
	}
	for _, st := range got {
		if want[st.Name] != st.State || st.UpdatedAt.IsZero() {
			t.Errorf("status %+v", st)
		}
	}
	calls := e.fake.Calls(fakegitea.OpListStatuses)
	if len(calls) != 3 || !strings.Contains(calls[0].Query, "sort=highestindex") {
		t.Errorf("%d list calls: %+v", len(calls), calls)
	}
}

func TestStateOfReadsEveryGiteaState(t *testing.T) {
	for in, want := range map[string]sdk.State{
		"success": sdk.StateSucceeded, "failure": sdk.StateFailed, "error": sdk.StateError,
		"warning": sdk.StateError, "pending": sdk.StatePending, "skipped": sdk.StateNotApplicable, "new": sdk.StatePending,
	} {
		if got := StateOf(in); got != want {
			t.Errorf("StateOf(%q) = %v, want %v", in, got, want)
		}
	}
}
