package plugintest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

// gitrepoSuite is the conformance suite of testdata/gitrepo: the binary
// from $PLUGINTEST_GITREPO when set (the broken variants' runs), else built.
func gitrepoSuite(t *testing.T) plugintest.Suite {
	bin := os.Getenv("PLUGINTEST_GITREPO")
	if bin == "" {
		bin = plugintest.Build(t, "testdata/gitrepo")
	}
	commit, parent := strings.Repeat("a", 40), strings.Repeat("b", 40)
	return plugintest.Suite{
		Binary:         bin,
		ValidConfigs:   []sdk.Config{{Name: "default", Settings: map[string]string{"apiUrl": "https://git.example.com/api/v1"}}},
		InvalidConfigs: []sdk.Config{{Name: "no-url", Token: "secret-token"}},
		Config: func(endpoint string) sdk.Config {
			return sdk.Config{Settings: map[string]string{"apiUrl": endpoint + "/api/v1", "owner": "o", "repo": "r"}}
		},
		Fixtures: map[string]string{
			"GET /api/v1/repos/o/r/git/commits/" + commit: `{"sha":"` + commit + `","commit":{"message":"Merge"},"parents":[{"sha":"` + parent + `"}]}`,
		},
		Commit: commit,
	}
}

func TestConformanceOfACorrectPlugin(t *testing.T) {
	plugintest.Run(t, gitrepoSuite(t))
}

// TestConformanceFailsBrokenPlugins runs the kit on broken variants of
// testdata/gitrepo, each in a test process of its own, and expects it to
// fail them for what they break.
func TestConformanceFailsBrokenPlugins(t *testing.T) {
	bin := plugintest.Build(t, "testdata/gitrepo")
	for fault, want := range map[string]string{
		"no-commit-check": "no request may go out for an invalid commit id",
		"429-permanent":   "429 with Retry-After 30: PostStatus",
		"not-repeatable":  "PostStatus repeated after a success",
	} {
		t.Run(fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConformanceOfACorrectPlugin$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PLUGINTEST_FAULT="+fault, "PLUGINTEST_GITREPO="+bin)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed the %s plugin:\n%s", fault, out)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("the kit failed the %s plugin without saying %q:\n%s", fault, want, out)
			}
		})
	}
}

func TestErrorsKeepTheirKindAcrossTheProcessBoundary(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "testdata/echo"))
	ctx := context.Background()
	commit := "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		status     string
		kind       sdk.ErrorKind
		retryAfter time.Duration
	}{
		{"retry", sdk.KindRetryable, 3 * time.Second},
		{"missing", sdk.KindNotFound, 0},
		{"denied", sdk.KindPermissionDenied, 0},
		{"plain", sdk.KindUnclassified, 0},
	}
	for _, tc := range cases {
		err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{CommitID: commit, Status: sdk.Status{Name: tc.status}})
		if err == nil {
			t.Fatalf("%s: no error", tc.status)
		}
		if got := sdk.KindOf(err); got != tc.kind {
			t.Errorf("%s: kind %v, want %v (%v)", tc.status, got, tc.kind, err)
		}
		if got := sdk.RetryAfterOf(err); got != tc.retryAfter {
			t.Errorf("%s: retry after %v, want %v", tc.status, got, tc.retryAfter)
		}
	}
	if err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{CommitID: commit, Status: sdk.Status{Name: "ok"}}); err != nil {
		t.Errorf("ok: %v", err)
	}
	if _, err := c.Repository.FindPullRequests(ctx, sdk.FindPullRequestsRequest{CommitID: commit}); sdk.KindOf(err) != sdk.KindUnimplemented {
		t.Errorf("FindPullRequests: %v, want unimplemented", err)
	}
}

func TestPanicInPluginIsAPermanentErrorAndThePluginLives(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "testdata/echo"))
	ctx := context.Background()
	_, err := c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: []byte(`{"panic":true}`)})
	if err == nil || sdk.IsRetryable(err) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("ParseEvent(panic) = %v, want a permanent panic error", err)
	}
	res, err := c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: []byte(`{"commit":"abcdef0"}`)})
	if err != nil || !res.Handled || res.CommitID != "abcdef0" {
		t.Fatalf("after panic: %+v, %v", res, err)
	}
}

func TestOrchestratorReachesTheHostRepositoryThroughTheBroker(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "testdata/echo"))
	ctx := context.Background()
	asked := make(chan sdk.GetCommitRequest, 1)
	host := plugintest.HostRepository{Message: "Merged PR 7: from the host", Asked: asked}
	for i := 0; i < 3; i++ {
		res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{
			Config: sdk.Config{Name: "prod"}, CommitID: "abcdef0", Successful: true,
		}, host)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Notified || res.Reason != host.Message {
			t.Fatalf("NotifyCompletion = %+v, want notified with the host's message as reason", res)
		}
		if req := <-asked; req.Repository != "manifests" || req.Config.Name != "prod" || req.CommitID != "abcdef0" {
			t.Fatalf("the host was asked for %+v, want commit abcdef0 of manifests for config prod", req)
		}
	}
	// The host's repository lists no pull requests.
	if _, err := c.Orchestrator.Sweep(ctx, sdk.SweepRequest{}, host); sdk.KindOf(err) != sdk.KindUnimplemented {
		t.Errorf("Sweep: %v, want unimplemented", err)
	}
}

func TestCommitListsStatusesAndDeployedWithCrossTheProcessBoundary(t *testing.T) {
	c := plugintest.Start(t, plugintest.Build(t, "testdata/echo"))
	ctx := context.Background()
	base, head := strings.Repeat("b", 40), strings.Repeat("a", 40)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	list, err := c.Repository.ListCommits(ctx, sdk.ListCommitsRequest{BaseCommitID: base, HeadCommitID: head, MaxCommits: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !list.Truncated || len(list.Commits) != 2 {
		t.Fatalf("ListCommits = %+v, want 2 commits, truncated (limit 1)", list)
	}
	if got := list.Commits[0]; got.ID != head || got.ParentIDs[0] != list.Commits[1].ID || !got.CommittedAt.Equal(at) {
		t.Errorf("head commit = %+v", got)
	}
	if got := list.Commits[1]; got.ParentIDs[0] != base || !got.CommittedAt.Equal(at.Add(-time.Minute)) {
		t.Errorf("second commit = %+v", got)
	}

	statuses, err := c.Repository.ListStatuses(ctx, sdk.ListStatusesRequest{Repository: "genre", CommitID: head})
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.CommitStatus{Name: "env/Status", Genre: "genre", State: sdk.StateFailed, Description: head, UpdatedAt: at}
	if len(statuses) != 1 || statuses[0] != want {
		t.Errorf("ListStatuses = %+v, want [%+v]", statuses, want)
	}

	res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{
		Config: sdk.Config{Name: "prod"}, CommitID: "abcdef0", Successful: true, DeployedWith: head,
	}, plugintest.HostRepository{Message: "Merged PR 7"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != "Merged PR 7 with "+head {
		t.Errorf("NotifyCompletion reason %q does not carry DeployedWith", res.Reason)
	}
}

func TestAPluginWritesItsCPUAndHeapProfilesWhenTheHostStopsIt(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(sdk.CPUProfileDirEnv, dir)
	c := plugintest.Start(t, plugintest.Build(t, "testdata/echo"))
	if _, err := c.Operator.ParseEvent(context.Background(), sdk.ParseRequest{
		Body: []byte(`{"commit":"0123456789abcdef0123456789abcdef01234567"}`)}); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if !c.Exited() {
		t.Fatal("the plugin did not exit")
	}
	for _, pattern := range []string{"echo-[0-9]*[0-9].pprof", "echo-[0-9]*-heap.pprof"} {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil || len(files) != 1 {
			t.Fatalf("profiles %v, %v: want one %s", files, err, pattern)
		}
		b, err := os.ReadFile(files[0])
		// A profile is gzip-compressed protobuf.
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("%s is not a profile (%d bytes, %v)", files[0], len(b), err)
		}
	}
}
