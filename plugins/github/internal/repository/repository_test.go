package repository

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

const (
	owner     = "kaizentm"
	manifests = "gitops-manifests"
	appURL    = "https://argocd.example.com/applications/podinfo"
	sha       = "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	otherSHA  = "1c0ffee5c0ffee5c0ffee5c0ffee5c0ffee5c0ff"
)

type env struct {
	fake *fakegithub.Server
	repo *Repository
	cfg  sdk.Config
}

// setup starts a fake GitHub with the manifests repository holding sha and a
// repository whose config points at it.
func setup(t *testing.T, timeout time.Duration) env {
	t.Helper()
	fake := fakegithub.Start(t)
	fake.SetCommit(owner, manifests, sha, "Merge pull request #12 from kaizentm/deploy/4711/"+otherSHA, otherSHA)
	return env{
		fake: fake,
		repo: New(ghapi.NewClients(timeout)),
		cfg: sdk.Config{
			Name: "default",
			Settings: map[string]string{
				settings.OrgURL:        fake.OrgURL(owner),
				settings.ManifestsRepo: manifests,
				settings.AppURL:        appURL,
			},
			Token:    fake.Token(),
			Revision: "rev-1",
		},
	}
}

func status(name string, state sdk.State, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: "ReconciliationSucceeded", Description: description, Genre: "Kustomization", Operator: "Flux"}
}

func (e env) post(st sdk.Status) error {
	return e.repo.PostStatus(context.Background(), sdk.PostStatusRequest{Config: e.cfg, CommitID: sha, Status: st})
}

// assertNoToken fails when an error reveals the token.
func assertNoToken(t *testing.T, err error, token string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), token) {
		t.Errorf("error reveals the token: %v", err)
	}
}

func TestNormalizedStatesMapToGitHubStates(t *testing.T) {
	cases := []struct {
		state sdk.State
		want  string
	}{
		{sdk.StateSucceeded, "success"},
		{sdk.StateFailed, "failure"},
		{sdk.StateError, "error"},
		{sdk.StatePending, "pending"},
		{sdk.StateNotApplicable, "success"},
	}
	e := setup(t, time.Minute)
	for _, tc := range cases {
		if err := e.post(status("Status", tc.state, "Applied revision: main@sha1:"+sha)); err != nil {
			t.Fatalf("%v: %v", tc.state, err)
		}
	}
	got := e.fake.Statuses(owner, manifests, sha)
	if len(got) != len(cases) {
		t.Fatalf("%d statuses posted, want %d", len(got), len(cases))
	}
	for i, tc := range cases {
		if got[i].State != tc.want {
			t.Errorf("%v posted as %q, want %q", tc.state, got[i].State, tc.want)
		}
	}
	err := e.post(status("Status", sdk.StateUnspecified, ""))
	if sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("unspecified state: %v, want invalid input", err)
	}
	if len(e.fake.Statuses(owner, manifests, sha)) != len(cases) {
		t.Error("a status without a state was posted")
	}
}

func TestDescriptionIsCutTo140CharactersWithoutSplittingOne(t *testing.T) {
	cases := []struct {
		name, description, want string
	}{
		{"short", "Health check passed", "Health check passed"},
		{"exactly 140", strings.Repeat("a", 140), strings.Repeat("a", 140)},
		{"long ASCII", strings.Repeat("x", 139) + "yz", strings.Repeat("x", 139) + "y"},
		{"two-byte characters", strings.Repeat("é", 200), strings.Repeat("é", 140)},
		{"multi-byte at the cut", strings.Repeat("a", 139) + "日本語", strings.Repeat("a", 139) + "日"},
		{"emoji", strings.Repeat("🚀", 141), strings.Repeat("🚀", 140)},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, time.Minute)
			if err := e.post(status("Status", sdk.StateSucceeded, tc.description)); err != nil {
				t.Fatal(err)
			}
			got := e.fake.Statuses(owner, manifests, sha)
			if len(got) != 1 || got[0].Description != tc.want {
				t.Fatalf("posted %+v, want description %q", got, tc.want)
			}
			if !utf8.ValidString(got[0].Description) || utf8.RuneCountInString(got[0].Description) > MaxDescription {
				t.Errorf("description %q is not valid UTF-8 of at most 140 characters", got[0].Description)
			}
		})
	}
}

func TestStatusCarriesContextAndTargetURL(t *testing.T) {
	e := setup(t, time.Minute)
	if err := e.post(status("prod/Health", sdk.StatePending, "Progressing")); err != nil {
		t.Fatal(err)
	}
	delete(e.cfg.Settings, settings.AppURL)
	e.cfg.Revision = "rev-2"
	if err := e.post(status("Status", sdk.StateSucceeded, "Synced")); err != nil {
		t.Fatal(err)
	}
	got := e.fake.Statuses(owner, manifests, sha)
	if len(got) != 2 {
		t.Fatalf("statuses %+v", got)
	}
	if got[0].Context != "prod/Health" || got[0].TargetURL != appURL {
		t.Errorf("first status %+v, want context prod/Health and the app URL", got[0])
	}
	if got[1].Context != "Status" || got[1].TargetURL != "" {
		t.Errorf("second status %+v, want context Status and no target URL", got[1])
	}
	calls := e.fake.Calls(fakegithub.OpCreateStatus)
	if strings.Contains(string(calls[1].Body), "target_url") {
		t.Errorf("a target_url was sent without an app URL: %s", calls[1].Body)
	}
	if err := e.post(status("", sdk.StateSucceeded, "")); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("status without a name: %v, want invalid input", err)
	}
}

func TestBadCommitIDsNeverReachGitHub(t *testing.T) {
	e := setup(t, time.Minute)
	e.fake.SetCommit(owner, "other-repo", sha, "not yours")
	ids := []string{
		"",
		"main@sha1:" + sha,
		"main@sha1:../../other-repo/commits/" + sha,
		"../../other-repo/statuses/" + sha,
		sha + "/../../other-repo",
		"%2e%2e%2fother-repo",
		"abc123",                // too short
		strings.Repeat("a", 65), // too long
		"9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a8g",
		sha + "\n",
		sha + "?x=1",
	}
	ctx := context.Background()
	for _, id := range ids {
		err := e.repo.PostStatus(ctx, sdk.PostStatusRequest{Config: e.cfg, CommitID: id, Status: status("Status", sdk.StateSucceeded, "")})
		if sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("PostStatus(%q) = %v, want invalid input", id, err)
		}
		if _, err := e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, CommitID: id}); sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("GetCommit(%q) = %v, want invalid input", id, err)
		}
		if _, err := e.repo.FindPullRequests(ctx, sdk.FindPullRequestsRequest{Config: e.cfg, CommitID: id}); sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("FindPullRequests(%q) = %v, want invalid input", id, err)
		}
	}
	for _, name := range []string{"../other-repo", "kaizentm/other-repo", "..", "other-repo/commits"} {
		if _, err := e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, Repository: name, CommitID: sha}); sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("GetCommit(repository %q) = %v, want invalid input", name, err)
		}
	}
	if reqs := e.fake.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests reached GitHub, want none: %+v", len(reqs), reqs)
	}
}

func TestEnterpriseServerURLLayout(t *testing.T) {
	e := setup(t, time.Minute)
	e.cfg.Settings[settings.OrgURL] = e.fake.EnterpriseOrgURL(owner)
	if err := e.post(status("Status", sdk.StateSucceeded, "done")); err != nil {
		t.Fatal(err)
	}
	c, err := e.repo.GetCommit(context.Background(), sdk.GetCommitRequest{Config: e.cfg, CommitID: sha})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != sha || len(e.fake.Statuses(owner, manifests, sha)) != 1 {
		t.Errorf("commit %+v, statuses %+v", c, e.fake.Statuses(owner, manifests, sha))
	}
	for _, r := range e.fake.Requests() {
		if !strings.HasPrefix(r.Path, "/api/v3/repos/"+owner+"/") {
			t.Errorf("request %s %s is not in the Enterprise layout", r.Method, r.Path)
		}
	}
}

func TestTransientFaultsAreRetryableAndTheRetryPostsOnce(t *testing.T) {
	cases := []struct {
		name  string
		fault fakegithub.Fault
		after time.Duration
	}{
		// A hanging answer runs into the client's timeout (1s here, 30s in
		// the plugin); the other faults answer at once.
		{"500", fakegithub.ServerError(http.StatusInternalServerError), 0},
		{"502", fakegithub.ServerError(http.StatusBadGateway), 0},
		{"503 with Retry-After", fakegithub.Fault{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"5"}}}, 5 * time.Second},
		{"429 with Retry-After", fakegithub.TooManyRequests(7 * time.Second), 7 * time.Second},
		{"429 without Retry-After", fakegithub.TooManyRequests(0), time.Minute},
		{"403 rate limit with Retry-After", withHeader(fakegithub.RateLimit(time.Now().Add(-time.Second)), "Retry-After", "3"), 3 * time.Second},
		{"403 secondary rate limit without Retry-After", fakegithub.SecondaryRateLimit(0), time.Minute},
		{"403 with Retry-After only", withHeader(fakegithub.Error(http.StatusForbidden, "Forbidden"), "Retry-After", "11"), 11 * time.Second},
		{"timeout", fakegithub.Hang(), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, time.Second)
			e.fake.FailNext(fakegithub.OpCreateStatus, tc.fault)
			st := status("Health", sdk.StateSucceeded, "Health check passed")
			err := e.post(st)
			if !sdk.IsRetryable(err) || sdk.KindOf(err) != sdk.KindRetryable {
				t.Fatalf("first attempt: %v (kind %v), want retryable", err, sdk.KindOf(err))
			}
			if got := sdk.RetryAfterOf(err); got != tc.after {
				t.Errorf("retry after %v, want %v", got, tc.after)
			}
			assertNoToken(t, err, e.cfg.Token)
			if err := e.post(st); err != nil {
				t.Fatalf("retry: %v", err)
			}
			got := e.fake.Statuses(owner, manifests, sha)
			if len(got) != 1 || got[0].Context != "Health" || got[0].State != "success" {
				t.Errorf("statuses %+v, want exactly one", got)
			}
		})
	}
}

func withHeader(f fakegithub.Fault, key, value string) fakegithub.Fault {
	h := f.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(key, value)
	f.Header = h
	return f
}

func TestTimeoutSaysGitHubDidNotAnswer(t *testing.T) {
	e := setup(t, 200*time.Millisecond)
	e.fake.FailNext(fakegithub.OpCreateStatus, fakegithub.Hang())
	err := e.post(status("Status", sdk.StateSucceeded, ""))
	if !strings.Contains(err.Error(), "did not answer in time") || sdk.KindOf(err) != sdk.KindRetryable {
		t.Errorf("err = %v", err)
	}
}

func TestPrimaryRateLimitWaitsUntilResetWithoutFurtherRequests(t *testing.T) {
	e := setup(t, time.Minute)
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	e.fake.FailNext(fakegithub.OpCreateStatus, fakegithub.RateLimit(reset))
	before := time.Now()
	err := e.post(status("Status", sdk.StateSucceeded, ""))
	after := time.Now()
	if sdk.KindOf(err) != sdk.KindRetryable {
		t.Fatalf("err = %v, want retryable", err)
	}
	if got := sdk.RetryAfterOf(err); got > reset.Sub(before) || got < reset.Sub(after) {
		t.Errorf("retry after %v, want the time until the reset (%v)", got, reset.Sub(before))
	}
	if !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("message %q does not name the rate limit", err)
	}
	// Before the reset the client does not ask GitHub again.
	err = e.post(status("Status", sdk.StateSucceeded, ""))
	if sdk.KindOf(err) != sdk.KindRetryable || sdk.RetryAfterOf(err) <= 0 || sdk.RetryAfterOf(err) > time.Hour {
		t.Errorf("second attempt: %v after %v, want retryable until the reset", err, sdk.RetryAfterOf(err))
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Errorf("%d requests reached GitHub, want 1", n)
	}
}

func TestSecondaryRateLimitHoldsCallsBackForRetryAfter(t *testing.T) {
	e := setup(t, time.Minute)
	e.fake.FailNext(fakegithub.OpCreateStatus, fakegithub.SecondaryRateLimit(90*time.Second))
	err := e.post(status("Status", sdk.StateSucceeded, ""))
	if sdk.KindOf(err) != sdk.KindRetryable || sdk.RetryAfterOf(err) != 90*time.Second {
		t.Fatalf("err = %v after %v, want retryable after 90s", err, sdk.RetryAfterOf(err))
	}
	if !strings.Contains(err.Error(), "secondary rate limit") {
		t.Errorf("message %q does not name the secondary rate limit", err)
	}
	_, err = e.repo.GetCommit(context.Background(), sdk.GetCommitRequest{Config: e.cfg, CommitID: sha})
	if got := sdk.RetryAfterOf(err); sdk.KindOf(err) != sdk.KindRetryable || got <= 0 || got > 90*time.Second {
		t.Errorf("next call: %v after %v, want retryable within 90s", err, got)
	}
	if n := len(e.fake.Requests()); n != 1 {
		t.Errorf("%d requests reached GitHub, want 1", n)
	}
}

func TestPermanentAnswersSayWhatToCheck(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *env)
		kind  sdk.ErrorKind
		want  []string
	}{
		{"bad token", func(e *env) { e.cfg.Token = "ghp_revokedTokenABCDEF0123456789" }, sdk.KindPermissionDenied,
			[]string{"401", "PAT is valid"}},
		{"missing scope", func(e *env) {
			e.fake.FailNext(fakegithub.OpCreateStatus, fakegithub.Error(http.StatusForbidden, "Resource not accessible by personal access token"))
		}, sdk.KindPermissionDenied, []string{"403", "repo:status", "Commit statuses"}},
		{"unknown repository", func(e *env) { e.cfg.Settings[settings.ManifestsRepo] = "gitops-manifest" }, sdk.KindNotFound,
			[]string{"404", "kaizentm/gitops-manifest", settings.ManifestsRepo, "gitHubOrgUrl"}},
		{"unknown commit", func(e *env) { e.fake.AddRepo(owner, "elsewhere"); e.cfg.Settings[settings.ManifestsRepo] = "elsewhere" },
			sdk.KindPermanent, []string{"422", "check that commit " + sha + " is in repository kaizentm/elsewhere"}},
		{"no token", func(e *env) { e.cfg.Token = "" }, sdk.KindPermissionDenied, []string{"no GitHub credential", "secretRef"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, time.Minute)
			token := e.cfg.Token
			tc.setup(&e)
			err := e.post(status("Status", sdk.StateSucceeded, ""))
			if sdk.KindOf(err) != tc.kind {
				t.Fatalf("err = %v (kind %v), want %v", err, sdk.KindOf(err), tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			assertNoToken(t, err, token)
			if len(e.fake.AllStatuses()) != 0 {
				t.Error("a status was posted")
			}
		})
	}
}

func TestTokenEchoedByAnAnswerIsRedacted(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusInternalServerError, http.StatusUnprocessableEntity} {
		e := setup(t, time.Minute)
		e.fake.FailNext(fakegithub.OpCreateStatus, fakegithub.Error(code, "token "+e.cfg.Token+" is not welcome"))
		err := e.post(status("Status", sdk.StateSucceeded, ""))
		if err == nil || strings.Contains(err.Error(), e.cfg.Token) || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("%d: err = %v, want the token redacted", code, err)
		}
	}
}

func TestNewRevisionUsesTheNewToken(t *testing.T) {
	e := setup(t, time.Minute)
	good := e.cfg.Token
	e.cfg.Token = "ghp_oldTokenABCDEF0123456789"
	if err := e.post(status("Status", sdk.StateSucceeded, "")); sdk.KindOf(err) != sdk.KindPermissionDenied {
		t.Fatalf("old token: %v", err)
	}
	e.cfg.Token, e.cfg.Revision = good, "rev-2"
	if err := e.post(status("Status", sdk.StateSucceeded, "")); err != nil {
		t.Fatalf("new token: %v", err)
	}
}

func TestGetCommitReadsTheManifestsRepositoryByDefault(t *testing.T) {
	e := setup(t, time.Minute)
	e.fake.SetCommit(owner, "app-src", otherSHA, "Add health probe")
	ctx := context.Background()
	c, err := e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, CommitID: sha[:12]})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != sha || c.Message != "Merge pull request #12 from kaizentm/deploy/4711/"+otherSHA || len(c.ParentIDs) != 1 || c.ParentIDs[0] != otherSHA {
		t.Errorf("commit %+v", c)
	}
	c, err = e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, Repository: "app-src", CommitID: otherSHA})
	if err != nil || c.Message != "Add health probe" {
		t.Errorf("other repository: %+v, %v", c, err)
	}
	_, err = e.repo.GetCommit(ctx, sdk.GetCommitRequest{Config: e.cfg, Repository: "app-src", CommitID: sha})
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "422") {
		t.Errorf("unknown commit: %v, want permanent 422", err)
	}
}

func TestFindPullRequestsKeepsThoseTheCommitMerged(t *testing.T) {
	e := setup(t, time.Minute)
	merged := time.Date(2024, 5, 2, 9, 30, 0, 0, time.UTC)
	prs := []fakegithub.PullRequest{
		{Number: 12, Title: "Deploy 4711", State: "closed", MergeCommitSHA: sha, MergedAt: merged, ClosedAt: merged},
		{Number: 13, Title: "Still open", State: "open", MergeCommitSHA: otherSHA},
		{Number: 14, Title: "Given up", State: "closed", MergeCommitSHA: strings.ToUpper(sha), ClosedAt: merged},
	}
	for i := range 150 { // more than one page of unrelated pull requests
		prs = append(prs, fakegithub.PullRequest{Number: 100 + i, State: "open", MergeCommitSHA: otherSHA})
	}
	prs = append(prs, fakegithub.PullRequest{Number: 999, Title: "On page 2", State: "open", MergeCommitSHA: sha})
	e.fake.SetPullRequests(owner, manifests, sha, prs...)
	got, err := e.repo.FindPullRequests(context.Background(), sdk.FindPullRequestsRequest{Config: e.cfg, CommitID: sha})
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.PullRequest{
		{Number: 12, State: sdk.PullRequestCompleted, Title: "Deploy 4711", MergeCommitID: sha, ClosedAt: merged, Repository: manifests},
		{Number: 14, State: sdk.PullRequestAbandoned, Title: "Given up", MergeCommitID: strings.ToUpper(sha), ClosedAt: merged, Repository: manifests},
		{Number: 999, State: sdk.PullRequestActive, Title: "On page 2", MergeCommitID: sha, Repository: manifests},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if n := len(e.fake.Calls(fakegithub.OpPullsOfCommit)); n != 2 {
		t.Errorf("%d pages read, want 2", n)
	}
	short, err := e.repo.FindPullRequests(context.Background(), sdk.FindPullRequestsRequest{Config: e.cfg, CommitID: strings.ToUpper(sha[:10])})
	if err != nil || fmt.Sprintf("%+v", short) != fmt.Sprintf("%+v", want) {
		t.Errorf("abbreviated id: %+v, %v", short, err)
	}
}

func TestCallsGitHubHasNoAnswerForAreUnimplemented(t *testing.T) {
	e := setup(t, time.Minute)
	ctx := context.Background()
	if _, err := e.repo.ListPullRequests(ctx, sdk.ListPullRequestsRequest{Config: e.cfg, State: sdk.PullRequestAbandoned}); sdk.KindOf(err) != sdk.KindUnimplemented {
		t.Errorf("ListPullRequests: %v", err)
	}
	if _, _, err := e.repo.GetPullRequestProperty(ctx, sdk.GetPullRequestPropertyRequest{Config: e.cfg, Number: 12, Key: "callback-task-id"}); sdk.KindOf(err) != sdk.KindUnimplemented {
		t.Errorf("GetPullRequestProperty: %v", err)
	}
}

func TestInvalidConfigIsPermanentWithoutRequests(t *testing.T) {
	e := setup(t, time.Minute)
	e.cfg.Settings[settings.OrgURL] = "https://github.com/kaizentm"
	errs, err := e.repo.ValidateConfig(context.Background(), e.cfg)
	if err != nil || len(errs) != 1 || errs[0].Field != settings.OrgURL {
		t.Errorf("ValidateConfig = %v, %v", errs, err)
	}
	if err := e.post(status("Status", sdk.StateSucceeded, "")); sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), settings.OrgURL) {
		t.Errorf("PostStatus = %v, want a permanent config error", err)
	}
	if len(e.fake.Requests()) != 0 {
		t.Error("a request was sent with an invalid config")
	}
}
