package main

// These tests run the plugin binary as the host does (go-plugin over gRPC)
// against the fake Azure DevOps of testkit/fakeazdo, which checks every
// request against the API description. Orchestrator calls get the started
// plugin's own repository as the host's repository, so every commit, pull
// request and property read travels through the go-plugin broker.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
)

const (
	commit  = "3c4e6f1d2b7a9c8e5f4d3c2b1a0f9e8d7c6b5a49"
	appURL  = "https://argocd.example.com/applications/az-vote"
	planA   = "4ab3c0d2-7c55-4f32-9b5a-0b8e07e0d1a1"
	jobA    = "12f1170f-54f2-53f3-20dd-22fc7dff55f9"
	taskA   = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	planB   = "b7d9a3e1-0c2f-4e6a-8b1d-5f3c7a9e2d40"
	jobB    = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
	taskB   = "c0ffee00-1234-4abc-9def-0123456789ab"
	prNum   = 42
	buildA  = 1001
	buildB  = 1002
	timeout = 2 * time.Minute
)

// TestPlugin builds the plugin once, checks it with the conformance kit,
// then runs every behaviour against one started plugin process (each case
// with its own fake Azure DevOps).
func TestPlugin(t *testing.T) {
	bin := plugintest.Build(t, ".")
	// The plugin process trusts the fake Entra ID's certificate and sees
	// its managed identity endpoint, as a pod on Azure sees Azure's.
	entra := fakeentra.New(t, fakeentra.Options{})
	t.Setenv("SSL_CERT_FILE", entra.CAFile(t, t.TempDir()))
	for k, v := range entra.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	t.Run("Conformance", func(t *testing.T) { testConformance(t, bin) })
	p := plugintest.Start(t, bin)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *plugintest.Client)
	}{
		{"StatusesArePostedOnTheManifestsRepository", testStatusesArePostedOnTheManifestsRepository},
		{"RepositoryReads", testRepositoryReads},
		{"ListCommits", testListCommits},
		{"ListStatuses", testListStatuses},
		{"NotifyCompletion", testNotifyCompletion},
		{"NotifyCompletionErrors", testNotifyCompletionErrors},
		{"RetriesAfterServerErrors", testRetriesAfterServerErrors},
		{"SweepFailsTheTasksOfAbandonedPullRequestsOnce", testSweepFailsTheTasksOfAbandonedPullRequestsOnce},
		{"AFailedSweepIsRepeatedWithoutCompletingATaskTwice", testAFailedSweepIsRepeatedWithoutCompletingATaskTwice},
		{"EntraIdentitiesCallAzureDevOpsWithBearerTokens", withEntra(entra, testEntraIdentitiesCallAzureDevOpsWithBearerTokens)},
		{"ACredentialEntraRefusesMakesTheConfigInvalid", withEntra(entra, testACredentialEntraRefusesMakesTheConfigInvalid)},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, p) })
	}
	if p.Exited() {
		t.Error("the plugin process exited")
	}
}

// callCtx bounds one call to the plugin.
func callCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return c
}

// configFor is the config of a single-instance deployment pointed at f.
func configFor(f *fakeazdo.Server) sdk.Config {
	return sdk.Config{
		Name: "default",
		Settings: map[string]string{
			"gitRepositoryType":    "AZDO",
			"ciCdOrchestratorType": "AZDO",
			"gitOpsOperatorType":   "FLUX",
			"azdoOrgUrl":           f.ProjectURL(),
			"azdoGitOpsRepoName":   "manifests",
			"gitOpsAppURL":         appURL,
		},
		Token:    f.Token(),
		Revision: "rev-" + f.URL(),
	}
}

// waiting sets up a pipeline run waiting on pull request prNum, which
// merged commit into the manifests repository: its plan, its job, and the
// callback its agentless task stored.
func waiting(f *fakeazdo.Server, comment string) {
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: comment, Parents: []string{"1111111111111111111111111111111111111111"}})
	f.AddPullRequest(fakeazdo.PullRequest{
		ID: prNum, Repository: "manifests", Title: "Deploy az-vote 1.2.3", Status: fakeazdo.PullRequestCompleted,
		ClosedDate: time.Now().Add(-10 * time.Minute), LastMergeCommit: commit,
		Properties: map[string]string{"callback-task-id": f.Callback(planA, jobA, taskA, prNum)},
	})
	f.AddPlan(fakeazdo.Plan{ID: planA, BuildID: buildA, Jobs: map[string]string{jobA: fakeazdo.StateInProgress}})
}

// waitingOn is a NotifyCompletion case's setup: waiting with the merge
// commit's comment.
func waitingOn(comment string) func(*fakeazdo.Server, *sdk.Config) {
	return func(f *fakeazdo.Server, _ *sdk.Config) { waiting(f, comment) }
}

func completed(plan, job, task, result string) fakeazdo.Event {
	return fakeazdo.Event{Hub: "build", ProjectID: fakeazdo.DefaultProjectID, PlanID: plan, Name: "TaskCompleted", TaskID: task, JobID: job, Result: result}
}

// The commits of the answers azdoFixtures gives the conformance kit.
var kitHead, kitBase = strings.Repeat("a", 40), strings.Repeat("b", 40)

// azdoFixtures are Azure DevOps' answers to the plugin's reads, for the
// conformance kit's shape checks: the API locations as the fake serves
// them, a commit, its history and its statuses in /myorg/MyProject.
func azdoFixtures(t *testing.T, f *fakeazdo.Server) map[string]string {
	req, _ := http.NewRequest(http.MethodOptions, f.OrganizationURL()+"/_apis", nil)
	req.SetBasicAuth("", f.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	locations, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("locations: %d %v", resp.StatusCode, err)
	}
	commit := `{"commitId":"` + kitHead + `","comment":"Merged PR 7: deploy","parents":["` + kitBase + `"],"committer":{"date":"2026-01-02T03:04:05Z"}}`
	repo := "/myorg/MyProject/_apis/git/repositories/manifests"
	return map[string]string{
		"GET /myorg/_apis/ResourceAreas":                    `{"count":0,"value":[]}`,
		"OPTIONS /myorg/_apis":                              string(locations),
		"GET " + repo + "/commits/" + kitHead:               commit,
		"POST " + repo + "/commitsbatch":                    `{"count":1,"value":[` + commit + `]}`,
		"GET " + repo + "/commits/" + kitHead + "/statuses": `{"count":1,"value":[{"context":{"name":"dev/Status","genre":"Kustomization"},"state":"succeeded","description":"done","creationDate":"2026-01-02T03:04:05Z"}]}`,
	}
}

func testConformance(t *testing.T, bin string) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddRepository("manifests")
	valid := configFor(f)
	invalid := func(name string, change func(*sdk.Config)) sdk.Config {
		c := configFor(f)
		c.Name = name
		c.Settings = map[string]string{}
		for k, v := range valid.Settings {
			c.Settings[k] = v
		}
		change(&c)
		return c
	}
	plugintest.Run(t, plugintest.Suite{
		Binary:       bin,
		ValidConfigs: []sdk.Config{valid},
		InvalidConfigs: []sdk.Config{
			invalid("no-org-url", func(c *sdk.Config) { delete(c.Settings, "azdoOrgUrl") }),
			invalid("org-without-project", func(c *sdk.Config) { c.Settings["azdoOrgUrl"] = "https://dev.azure.com/myorg" }),
			invalid("visualstudio-without-project", func(c *sdk.Config) { c.Settings["azdoOrgUrl"] = "https://myorg.visualstudio.com/" }),
			invalid("on-prem-without-project", func(c *sdk.Config) { c.Settings["azdoOrgUrl"] = "https://tfs.example.com/tfs/DefaultCollection" }),
			invalid("repository-page", func(c *sdk.Config) { c.Settings["azdoOrgUrl"] = "https://dev.azure.com/myorg/MyProject/_git/manifests" }),
			invalid("no-repositories", func(c *sdk.Config) { delete(c.Settings, "azdoGitOpsRepoName") }),
			invalid("no-app-url", func(c *sdk.Config) { delete(c.Settings, "gitOpsAppURL") }),
			invalid("no-token", func(c *sdk.Config) { c.Token = "" }),
			invalid("github-app", func(c *sdk.Config) {
				c.Token, c.Credential = "", sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: map[string]string{"appId": "1", "privateKey": "x"}}
			}),
			invalid("service-principal-without-secret", func(c *sdk.Config) {
				c.Token, c.Credential = "", sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: map[string]string{"tenantId": "t", "clientId": "c"}}
			}),
		},
		Config: func(endpoint string) sdk.Config {
			c := configFor(f)
			c.Settings["azdoOrgUrl"] = endpoint + "/myorg/MyProject"
			c.Token, c.Credential = "", sdk.Credential{}
			return c
		},
		Fixtures:   azdoFixtures(t, f),
		Commit:     kitHead,
		BaseCommit: kitBase,
	})
	f.AssertValid(t)
}

func testStatusesArePostedOnTheManifestsRepository(t *testing.T, p *plugintest.Client) {
	cases := []struct {
		name    string
		fake    fakeazdo.Options
		appURL  string
		status  sdk.Status
		want    fakeazdo.Status
		comment string
	}{
		{
			name:   "succeeded, cloud organization",
			status: sdk.Status{Name: "Status", State: sdk.StateSucceeded, RawState: "ReconciliationSucceeded", Description: "Applied revision: main@sha1:" + commit, Genre: "Kustomization", Operator: "Flux"},
			want:   fakeazdo.Status{State: "succeeded", Description: "Status: Applied revision: main@sha1:" + commit, TargetURL: appURL + "?noop=Status", Context: fakeazdo.StatusContext{Name: "Status", Genre: "Kustomization"}},
		},
		{
			name:   "not applicable, Azure DevOps Server collection",
			fake:   fakeazdo.Options{PathPrefix: "/tfs", Organization: "DefaultCollection", Project: "Fabrikam Fiber"},
			status: sdk.Status{Name: "apps", State: sdk.StateNotApplicable, RawState: "NotApplicable", Description: "2 configured, 1 created", Genre: "Kustomization", Operator: "Flux"},
			want:   fakeazdo.Status{State: "notApplicable", Description: "apps: 2 configured, 1 created", TargetURL: appURL + "?noop=apps", Context: fakeazdo.StatusContext{Name: "apps", Genre: "Kustomization"}},
		},
		{
			name:   "failed, app URL with a query, status context in the name",
			appURL: "https://argocd.example.com/applications?app=az-vote",
			status: sdk.Status{Name: "prod/Health", State: sdk.StateFailed, RawState: "Degraded", Description: "1/3 Degraded", Genre: "ArgoCD", Operator: "ArgoCD"},
			want:   fakeazdo.Status{State: "failed", Description: "prod/Health: 1/3 Degraded", TargetURL: "https://argocd.example.com/applications?app=az-vote&noop=prod%2FHealth", Context: fakeazdo.StatusContext{Name: "prod/Health", Genre: "ArgoCD"}},
		},
		{
			name:   "pending without a genre",
			status: sdk.Status{Name: "Phase", State: sdk.StatePending, RawState: "Running", Description: "Running: sync in progress", Operator: "ArgoCD"},
			want:   fakeazdo.Status{State: "pending", Description: "Phase: Running: sync in progress", TargetURL: appURL + "?noop=Phase", Context: fakeazdo.StatusContext{Name: "Phase"}},
		},
		{
			name:   "error",
			status: sdk.Status{Name: "Sync", State: sdk.StateError, RawState: "Error", Description: "3/4 Synced", Genre: "ArgoCD", Operator: "ArgoCD"},
			want:   fakeazdo.Status{State: "error", Description: "Sync: 3/4 Synced", TargetURL: appURL + "?noop=Sync", Context: fakeazdo.StatusContext{Name: "Sync", Genre: "ArgoCD"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeazdo.New(t, tc.fake)
			f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
			cfg := configFor(f)
			if tc.appURL != "" {
				cfg.Settings["gitOpsAppURL"] = tc.appURL
			}
			if err := p.Repository.PostStatus(callCtx(t), sdk.PostStatusRequest{Config: cfg, CommitID: strings.ToUpper(commit), Status: tc.status}); err != nil {
				t.Fatal(err)
			}
			got := f.Statuses("manifests", commit)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("statuses = %+v, want [%+v]", got, tc.want)
			}
			f.AssertValid(t)
		})
	}
}

func testRepositoryReads(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	waiting(f, "Merged PR 42: Deploy az-vote 1.2.3")
	now := time.Now()
	f.AddPullRequest(fakeazdo.PullRequest{ID: 50, Repository: "manifests", Status: fakeazdo.PullRequestAbandoned, ClosedDate: now.Add(-2 * time.Hour)})
	f.AddPullRequest(fakeazdo.PullRequest{ID: 51, Repository: "manifests", Status: fakeazdo.PullRequestAbandoned, ClosedDate: now.Add(-10 * time.Hour)})
	f.AddPullRequest(fakeazdo.PullRequest{ID: 52, Repository: "manifests", Status: fakeazdo.PullRequestActive})
	cfg := configFor(f)
	c := callCtx(t)

	cm, err := p.Repository.GetCommit(c, sdk.GetCommitRequest{Config: cfg, CommitID: commit})
	if err != nil || cm.ID != commit || cm.Message != "Merged PR 42: Deploy az-vote 1.2.3" || len(cm.ParentIDs) != 1 {
		t.Errorf("GetCommit = %+v, %v", cm, err)
	}
	if _, err := p.Repository.GetCommit(c, sdk.GetCommitRequest{Config: cfg, CommitID: "abcdef0123456"}); sdk.KindOf(err) != sdk.KindNotFound {
		t.Errorf("GetCommit(unknown) = %v, want not found", err)
	}
	prs, err := p.Repository.FindPullRequests(c, sdk.FindPullRequestsRequest{Config: cfg, CommitID: commit})
	if err != nil || len(prs) != 1 || prs[0].Number != prNum || prs[0].State != sdk.PullRequestCompleted || prs[0].MergeCommitID != commit || prs[0].Repository != "manifests" {
		t.Errorf("FindPullRequests = %+v, %v", prs, err)
	}
	value, found, err := p.Repository.GetPullRequestProperty(c, sdk.GetPullRequestPropertyRequest{Config: cfg, Number: prNum, Key: "callback-task-id"})
	if err != nil || !found || value != f.Callback(planA, jobA, taskA, prNum) {
		t.Errorf("GetPullRequestProperty = %q, %v, %v", value, found, err)
	}
	if _, found, err := p.Repository.GetPullRequestProperty(c, sdk.GetPullRequestPropertyRequest{Config: cfg, Number: prNum, Key: "other"}); found || err != nil {
		t.Errorf("GetPullRequestProperty(other) = %v, %v; want not found, no error", found, err)
	}
	if _, _, err := p.Repository.GetPullRequestProperty(c, sdk.GetPullRequestPropertyRequest{Config: cfg, Number: 0, Key: "callback-task-id"}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("GetPullRequestProperty(PR 0) = %v, want invalid input", err)
	}
	prs, err = p.Repository.ListPullRequests(c, sdk.ListPullRequestsRequest{Config: cfg, State: sdk.PullRequestAbandoned, ClosedAfter: now.Add(-3 * time.Hour)})
	if err != nil || len(prs) != 1 || prs[0].Number != 50 || prs[0].State != sdk.PullRequestAbandoned {
		t.Errorf("ListPullRequests(abandoned, 3h) = %+v, %v", prs, err)
	}
	prs, err = p.Repository.ListPullRequests(c, sdk.ListPullRequestsRequest{Config: cfg})
	if err != nil || len(prs) != 4 {
		t.Errorf("ListPullRequests(any) = %+v, %v; want 4", prs, err)
	}
	if _, err := p.Repository.GetCommit(c, sdk.GetCommitRequest{Config: cfg, Repository: "../other", CommitID: commit}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("GetCommit(repository ../other) = %v, want invalid input", err)
	}
	f.AssertValid(t)
}

// testListCommits lists the commits between two commits of a history with
// a merge, through commitsbatch (paged) and a read of each listed commit.
func testListCommits(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	id := func(i int) string { return fmt.Sprintf("%040x", 0xa000+i) }
	// 0 ← 1 ← … ← 129 on the branch; 200 branches from 1 and is merged by 130.
	for i := range 130 {
		c := fakeazdo.Commit{ID: id(i), Comment: fmt.Sprintf("Merged PR %d: change", i), Date: start.Add(time.Duration(i) * time.Minute)}
		if i > 0 {
			c.Parents = []string{id(i - 1)}
		}
		f.AddCommit("manifests", c)
	}
	f.AddCommit("manifests", fakeazdo.Commit{ID: id(200), Comment: "feature", Parents: []string{id(1)}, Date: start.Add(90 * time.Second)})
	f.AddCommit("manifests", fakeazdo.Commit{ID: id(130), Comment: "Merged PR 130: merge", Parents: []string{id(129), id(200)}, Date: start.Add(200 * time.Minute)})
	cfg := configFor(f)
	c := callCtx(t)

	list, err := p.Repository.ListCommits(c, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: id(127), HeadCommitID: id(130)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cm := range list.Commits {
		got = append(got, cm.ID)
	}
	if want := []string{id(130), id(129), id(128), id(200)}; !slices.Equal(got, want) || list.Truncated {
		t.Fatalf("ListCommits(127..130) = %v (truncated %v), want %v", got, list.Truncated, want)
	}
	if m := list.Commits[0]; !slices.Equal(m.ParentIDs, []string{id(129), id(200)}) || m.Message != "Merged PR 130: merge" || !m.CommittedAt.Equal(start.Add(200*time.Minute)) {
		t.Errorf("merge commit = %+v", m)
	}

	f2 := len(f.RequestsTo(fakeazdo.RouteCommitsBatch))
	list, err = p.Repository.ListCommits(c, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: id(0), HeadCommitID: id(130), MaxCommits: 120})
	if err != nil || len(list.Commits) != 120 || !list.Truncated || list.Commits[0].ID != id(130) {
		t.Errorf("ListCommits(0..130, 120) = %d commits, truncated %v, %v", len(list.Commits), list.Truncated, err)
	}
	if n := len(f.RequestsTo(fakeazdo.RouteCommitsBatch)) - f2; n != 2 {
		t.Errorf("%d commitsbatch pages, want 2", n)
	}
	list, err = p.Repository.ListCommits(c, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: id(130), HeadCommitID: id(5)})
	if err != nil || len(list.Commits) != 0 {
		t.Errorf("head an ancestor of base: %+v, %v", list, err)
	}
	if _, err := p.Repository.ListCommits(c, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: "main", HeadCommitID: id(5)}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("a base that is no commit id: %v", err)
	}
	if _, err := p.Repository.ListCommits(c, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: id(999), HeadCommitID: id(5)}); sdk.KindOf(err) != sdk.KindNotFound {
		t.Errorf("an unknown base: %v, want not found", err)
	}
	f.AssertValid(t)
}

func testNotifyCompletion(t *testing.T, p *plugintest.Client) {
	cases := []struct {
		name       string
		setup      func(f *fakeazdo.Server, cfg *sdk.Config)
		successful bool
		notified   bool
		reason     string
		events     []fakeazdo.Event
		// lookups is how many pull request lists the call reads: the
		// number in the comment saves the lookup by merge commit.
		lookups int
	}{
		{
			name:       "a successful deployment completes the task with succeeded",
			setup:      waitingOn("Merged PR 42: Deploy az-vote 1.2.3"),
			successful: true, notified: true,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")},
		},
		{
			name:       "a failed deployment completes the task with failed",
			setup:      waitingOn("Merged PR 42: Deploy az-vote 1.2.3"),
			successful: false, notified: true,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "failed")},
		},
		{
			name:       "a comment without a colon after the number",
			setup:      waitingOn("Merged PR 42 Deploy az-vote 1.2.3"),
			successful: true, notified: true,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")},
		},
		{
			name:       "a comment without a pull request number: the pull request is found by its merge commit",
			setup:      waitingOn("Deploy az-vote 1.2.3 (auto-complete, squash)"),
			successful: true, notified: true, lookups: 1,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")},
		},
		{
			name: "no pull request merged the commit",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Update manifests by hand"})
			},
			successful: true, reason: "names no pull request", lookups: 1,
		},
		{
			name: "a pull request without a callback property",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.AddPullRequest(fakeazdo.PullRequest{ID: prNum, Repository: "manifests", Status: fakeazdo.PullRequestCompleted, LastMergeCommit: commit})
			},
			successful: true, reason: "has no callback-task-id property",
		},
		{
			name: "a callback property that is not valid JSON",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.SetPullRequestProperty(prNum, "callback-task-id", `{"taskid": "`+taskA+`", "jobid": `)
			},
			successful: true, reason: "is not a valid callback",
		},
		{
			name: "a callback naming another organization is not used",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.SetPullRequestProperty(prNum, "callback-task-id", strings.Replace(f.Callback(planA, jobA, taskA, prNum), f.CollectionURI(), "https://collector.example.com/", 1))
			},
			successful: true, reason: "sends its token only to the organization",
		},
		{
			name: "the plan already completed",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.SetPlanState(planA, fakeazdo.StateCompleted)
			},
			successful: true, reason: "already finished",
		},
		{
			name: "the job's record is missing from the timeline",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.SetJobState(planA, jobA, "")
			},
			successful: true, reason: "not in its run's timeline",
		},
		{
			name: "the job already completed",
			setup: func(f *fakeazdo.Server, _ *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.SetJobState(planA, jobA, fakeazdo.StateCompleted)
			},
			successful: true, reason: "already completed",
		},
		{
			name: "with a status context its own property comes first",
			setup: func(f *fakeazdo.Server, cfg *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				f.AddPlan(fakeazdo.Plan{ID: planB, BuildID: buildB, Jobs: map[string]string{jobB: fakeazdo.StateInProgress}})
				f.SetPullRequestProperty(prNum, "callback-task-id-prod", f.Callback(planB, jobB, taskB, prNum))
				cfg.StatusContext = "prod"
			},
			successful: true, notified: true,
			events: []fakeazdo.Event{completed(planB, jobB, taskB, "succeeded")},
		},
		{
			name: "with a status context and only callback-task-id, callback-task-id is used",
			setup: func(f *fakeazdo.Server, cfg *sdk.Config) {
				waiting(f, "Merged PR 42: Deploy")
				cfg.StatusContext = "prod"
			},
			successful: true, notified: true,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")},
		},
		{
			name: "pull requests to a separate PR repository",
			setup: func(f *fakeazdo.Server, cfg *sdk.Config) {
				f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Merged PR 42: Deploy az-vote 1.2.3"})
				f.AddPullRequest(fakeazdo.PullRequest{ID: prNum, Repository: "hld", Status: fakeazdo.PullRequestCompleted,
					Properties: map[string]string{"callback-task-id": f.Callback(planA, jobA, taskA, prNum)}})
				f.AddPlan(fakeazdo.Plan{ID: planA, BuildID: buildA, Jobs: map[string]string{jobA: fakeazdo.StateInProgress}})
				cfg.Settings["azdoPrRepoName"] = "hld"
			},
			successful: true, notified: true,
			events: []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")},
		},
		{
			name: "a separate PR repository and a comment without a number: no pull request there merged the commit",
			setup: func(f *fakeazdo.Server, cfg *sdk.Config) {
				f.AddCommit("manifests", fakeazdo.Commit{ID: commit, Comment: "Generated manifests for az-vote 1.2.3"})
				f.AddPullRequest(fakeazdo.PullRequest{ID: prNum, Repository: "hld", Status: fakeazdo.PullRequestCompleted,
					LastMergeCommit: "9999999999999999999999999999999999999999", ClosedDate: time.Now().Add(-time.Hour),
					Properties: map[string]string{"callback-task-id": f.Callback(planA, jobA, taskA, prNum)}})
				cfg.Settings["azdoPrRepoName"] = "hld"
			},
			successful: true, reason: "no completed pull request of repository hld merged it", lookups: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeazdo.New(t, fakeazdo.Options{})
			cfg := configFor(f)
			tc.setup(f, &cfg)
			res, err := p.Orchestrator.NotifyCompletion(callCtx(t), sdk.Completion{Config: cfg, CommitID: commit, Successful: tc.successful}, p.Repository)
			if err != nil {
				t.Fatal(err)
			}
			if res.Notified != tc.notified || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("NotifyCompletion = %+v, want notified=%v with a reason containing %q", res, tc.notified, tc.reason)
			}
			if got := f.Events(); !slices.Equal(got, tc.events) {
				t.Errorf("events = %+v, want %+v", got, tc.events)
			}
			if got := len(f.RequestsTo(fakeazdo.RouteListPullRequests)); got != tc.lookups {
				t.Errorf("%d pull request lists read, want %d", got, tc.lookups)
			}
			f.AssertValid(t)
		})
	}
}

func testNotifyCompletionErrors(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddRepository("manifests")
	cfg := configFor(f)
	cases := []struct {
		name   string
		cfg    sdk.Config
		commit string
		kind   sdk.ErrorKind
	}{
		{"an unknown commit", cfg, commit, sdk.KindNotFound},
		{"a commit id that is not hex", cfg, "main@sha1:../../x", sdk.KindInvalidInput},
		{"a config without the organization URL", sdk.Config{Name: "broken", Token: "pat", Settings: map[string]string{"azdoGitOpsRepoName": "manifests"}}, commit, sdk.KindInvalidInput},
	}
	for _, tc := range cases {
		_, err := p.Orchestrator.NotifyCompletion(callCtx(t), sdk.Completion{Config: tc.cfg, CommitID: tc.commit, Successful: true}, p.Repository)
		if sdk.KindOf(err) != tc.kind {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
		if err != nil && strings.Contains(err.Error(), f.Token()) {
			t.Errorf("%s: error reveals the token", tc.name)
		}
	}
	f.AssertValid(t)
}

// Passing failures are retried by the host with the same input; these tests
// play the host's part.
func testRetriesAfterServerErrors(t *testing.T, p *plugintest.Client) {

	t.Run("a 503 on the status, then success", func(t *testing.T) {
		f := fakeazdo.New(t, fakeazdo.Options{})
		f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
		f.Fail(fakeazdo.RouteCreateStatus, 1, fakeazdo.Fault{Status: 503, RetryAfter: 4 * time.Second})
		req := sdk.PostStatusRequest{Config: configFor(f), CommitID: commit, Status: sdk.Status{Name: "Status", State: sdk.StatePending, Genre: "Kustomization", Operator: "Flux"}}
		err := p.Repository.PostStatus(callCtx(t), req)
		if !sdk.IsRetryable(err) || sdk.RetryAfterOf(err) != 4*time.Second {
			t.Fatalf("first PostStatus = %v (retry after %v), want retryable after 4s", err, sdk.RetryAfterOf(err))
		}
		if err := p.Repository.PostStatus(callCtx(t), req); err != nil {
			t.Fatalf("retried PostStatus = %v", err)
		}
		if n := len(f.Statuses("manifests", commit)); n != 1 {
			t.Errorf("%d statuses, want 1", n)
		}
		f.AssertValid(t)
	})

	for _, fault := range []struct {
		name  string
		route fakeazdo.Route
		fault fakeazdo.Fault
	}{
		{"a 500 reading the plan", fakeazdo.RouteGetPlan, fakeazdo.Fault{Status: 500}},
		{"a 429 reading the timeline", fakeazdo.RouteGetTimeline, fakeazdo.Fault{Status: 429, RetryAfter: time.Second}},
		{"a 503 on the plan event", fakeazdo.RoutePostEvent, fakeazdo.Fault{Status: 503}},
		{"a 502 after the plan event took effect (a lost answer)", fakeazdo.RoutePostEvent, fakeazdo.Fault{Status: 502, Applied: true}},
	} {
		t.Run(fault.name+", then success, exactly one TaskCompleted", func(t *testing.T) {
			f := fakeazdo.New(t, fakeazdo.Options{})
			waiting(f, "Merged PR 42: Deploy")
			f.Fail(fault.route, 1, fault.fault)
			c := sdk.Completion{Config: configFor(f), CommitID: commit, Successful: true}
			_, err := p.Orchestrator.NotifyCompletion(callCtx(t), c, p.Repository)
			if !sdk.IsRetryable(err) {
				t.Fatalf("first NotifyCompletion = %v, want retryable", err)
			}
			res, err := p.Orchestrator.NotifyCompletion(callCtx(t), c, p.Repository)
			if err != nil {
				t.Fatalf("retried NotifyCompletion = %v", err)
			}
			if fault.fault.Applied == res.Notified {
				t.Errorf("retried NotifyCompletion = %+v: want notified only when the first event was lost", res)
			}
			// A re-sent event later changes nothing.
			if res, err := p.Orchestrator.NotifyCompletion(callCtx(t), c, p.Repository); err != nil || res.Notified {
				t.Errorf("re-sent NotifyCompletion = %+v, %v; want nothing to do", res, err)
			}
			if got, want := f.Events(), []fakeazdo.Event{completed(planA, jobA, taskA, "succeeded")}; !slices.Equal(got, want) {
				t.Errorf("events = %+v, want %+v", got, want)
			}
			f.AssertValid(t)
		})
	}
}

// abandonedWaiting adds an abandoned pull request (closed ago) whose task
// waits in its own plan and build.
func abandonedWaiting(f *fakeazdo.Server, id int, repo string, closed time.Time, jobState string) (plan, job, task string) {
	plan = uuidOf(id, 1)
	job = uuidOf(id, 2)
	task = uuidOf(id, 3)
	f.AddPlan(fakeazdo.Plan{ID: plan, BuildID: 2000 + id, Jobs: map[string]string{job: jobState}})
	f.AddPullRequest(fakeazdo.PullRequest{ID: id, Repository: repo, Status: fakeazdo.PullRequestAbandoned, ClosedDate: closed,
		Properties: map[string]string{"callback-task-id": f.Callback(plan, job, task, id)}})
	return plan, job, task
}

func uuidOf(id, kind int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", id*10+kind) }

func testSweepFailsTheTasksOfAbandonedPullRequestsOnce(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	cfg := configFor(f)
	now := time.Now()
	plan1, job1, task1 := abandonedWaiting(f, 1, "manifests", now.Add(-time.Hour), fakeazdo.StateInProgress)
	abandonedWaiting(f, 2, "manifests", now.Add(-80*time.Hour), fakeazdo.StateInProgress) // outside 72 h
	plan3, job3, _ := abandonedWaiting(f, 3, "manifests", now.Add(-time.Hour), fakeazdo.StateInProgress)
	f.AddPullRequest(fakeazdo.PullRequest{ID: 3, Repository: "manifests", Status: fakeazdo.PullRequestCompleted, ClosedDate: now.Add(-time.Hour), // completed, not abandoned
		Properties: map[string]string{"callback-task-id": f.Callback(plan3, job3, uuidOf(3, 3), 3)}})
	f.AddPullRequest(fakeazdo.PullRequest{ID: 4, Repository: "manifests", Status: fakeazdo.PullRequestAbandoned, ClosedDate: now.Add(-2 * time.Hour)}) // no callback
	abandonedWaiting(f, 5, "manifests", now.Add(-30*time.Minute), fakeazdo.StateCompleted)                                                             // task already completed
	abandonedWaiting(f, 6, "other", now.Add(-time.Hour), fakeazdo.StateInProgress)                                                                     // another repository
	plan7, job7, task7 := abandonedWaiting(f, 7, "manifests", now.Add(-time.Minute), fakeazdo.StateInProgress)

	first, err := p.Orchestrator.Sweep(callCtx(t), sdk.SweepRequest{Config: cfg}, p.Repository)
	if err != nil {
		t.Fatal(err)
	}
	want := []fakeazdo.Event{completed(plan7, job7, task7, "failed"), completed(plan1, job1, task1, "failed")}
	if got := f.Events(); first.Notified != 2 || !slices.Equal(got, want) {
		t.Fatalf("first sweep = %+v, events %+v; want 2: %+v", first, got, want)
	}
	if first.Until.IsZero() || first.Until.Before(now) {
		t.Errorf("Until = %v, want the time of the sweep", first.Until)
	}

	// Pull request 7 is inside the overlap of the next sweep, pull request
	// 8 is abandoned after the first sweep.
	plan8, job8, task8 := abandonedWaiting(f, 8, "manifests", time.Now(), fakeazdo.StateInProgress)
	second, err := p.Orchestrator.Sweep(callCtx(t), sdk.SweepRequest{Config: cfg, Since: first.Until}, p.Repository)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, completed(plan8, job8, task8, "failed"))
	if got := f.Events(); second.Notified != 1 || !slices.Equal(got, want) {
		t.Errorf("second sweep = %+v, events %+v; want 1 more: %+v", second, got, want)
	}
	lists := f.RequestsTo(fakeazdo.RouteListPullRequests)
	q, _ := url.ParseQuery(lists[len(lists)-1].RawQuery)
	if got, want := q.Get("searchCriteria.minTime"), first.Until.Add(-5*time.Minute).UTC().Format(time.RFC3339); got != want {
		t.Errorf("second sweep lists pull requests closed since %s, want %s (the first sweep's end less the overlap)", got, want)
	}
	f.AssertValid(t)
}

func testAFailedSweepIsRepeatedWithoutCompletingATaskTwice(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	cfg := configFor(f)
	now := time.Now()
	plan1, job1, task1 := abandonedWaiting(f, 1, "manifests", now.Add(-time.Hour), fakeazdo.StateInProgress)
	plan2, job2, task2 := abandonedWaiting(f, 2, "manifests", now.Add(-2*time.Hour), fakeazdo.StateInProgress)
	f.Fail(fakeazdo.RoutePostEvent, 1, fakeazdo.Fault{Status: 503, RetryAfter: time.Second})

	res, err := p.Orchestrator.Sweep(callCtx(t), sdk.SweepRequest{Config: cfg}, p.Repository)
	if !sdk.IsRetryable(err) {
		t.Fatalf("first sweep = %+v, %v; want a retryable error", res, err)
	}
	// The host keeps Since where it was and sweeps again.
	res, err = p.Orchestrator.Sweep(callCtx(t), sdk.SweepRequest{Config: cfg}, p.Repository)
	if err != nil || res.Notified != 1 {
		t.Fatalf("second sweep = %+v, %v; want the remaining task completed", res, err)
	}
	// The newest pull request (2) is swept first: its event failed the
	// first time and went through the second time.
	want := []fakeazdo.Event{completed(plan1, job1, task1, "failed"), completed(plan2, job2, task2, "failed")}
	if got := f.Events(); !slices.Equal(got, want) {
		t.Errorf("events = %+v, want %+v", got, want)
	}
	f.AssertValid(t)
}

func testListStatuses(t *testing.T, p *plugintest.Client) {
	f := fakeazdo.New(t, fakeazdo.Options{})
	f.AddCommit("manifests", fakeazdo.Commit{ID: commit})
	cfg := configFor(f)
	post := func(name, genre string, state sdk.State, description string) {
		t.Helper()
		st := sdk.Status{Name: name, Genre: genre, State: state, Description: description}
		if err := p.Repository.PostStatus(callCtx(t), sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	post("dev-east/Status", "Kustomization", sdk.StatePending, "Reconciliation underway.")
	post("dev-west/Status", "Kustomization", sdk.StateFailed, "broken")
	post("dev-east/Status", "Kustomization", sdk.StateSucceeded, "Applied revision")
	post("dev-east/Status", "GitRepository", sdk.StateError, "clone failed") // another context: same name, other genre
	post("dev-west/Health", "ArgoCD", sdk.StateNotApplicable, "1/1 Unknown")
	post("dev-west/Status", "Kustomization", sdk.StateSucceeded, "recovered")

	got, err := p.Repository.ListStatuses(callCtx(t), sdk.ListStatusesRequest{Config: cfg, CommitID: strings.ToUpper(commit)})
	if err != nil {
		t.Fatal(err)
	}
	type ctx struct{ name, genre string }
	want := map[ctx]struct {
		state       sdk.State
		description string
	}{
		{"dev-west/Status", "Kustomization"}: {sdk.StateSucceeded, "recovered"},
		{"dev-west/Health", "ArgoCD"}:        {sdk.StateNotApplicable, "1/1 Unknown"},
		{"dev-east/Status", "GitRepository"}: {sdk.StateError, "clone failed"},
		{"dev-east/Status", "Kustomization"}: {sdk.StateSucceeded, "Applied revision"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d contexts, want %d: %+v", len(got), len(want), got)
	}
	for _, st := range got {
		w, ok := want[ctx{st.Name, st.Genre}]
		if !ok || st.State != w.state || st.Description != w.description || st.UpdatedAt.IsZero() {
			t.Errorf("%s (%s): %+v, want %+v", st.Name, st.Genre, st, w)
		}
	}
	if got[0].Name != "dev-west/Status" {
		t.Errorf("first = %+v, want the newest", got[0])
	}
	if _, err := p.Repository.ListStatuses(callCtx(t), sdk.ListStatusesRequest{Config: cfg, CommitID: "abcdef0123456"}); sdk.KindOf(err) != sdk.KindNotFound {
		t.Errorf("unknown commit: %v, want not found", err)
	}
	if _, err := p.Repository.ListStatuses(callCtx(t), sdk.ListStatusesRequest{Config: cfg, CommitID: "../x"}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("bad id: %v, want invalid input", err)
	}
	f.AssertValid(t)
}
