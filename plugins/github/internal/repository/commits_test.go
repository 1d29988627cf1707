package repository

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// chain sets n commits, each the parent of the next, on top of parent, one
// minute apart from start, and returns their ids oldest first.
func chain(fake *fakegithub.Server, prefix string, n int, parent string, start time.Time) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s%036x", prefix, i)
		var parents []string
		if parent != "" {
			parents = []string{parent}
		}
		fake.SetCommitAt(owner, manifests, id, fmt.Sprintf("Merged PR %d", i), start.Add(time.Duration(i)*time.Minute), parents...)
		ids = append(ids, id)
		parent = id
	}
	return ids
}

func ids(cs []sdk.Commit) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestListCommitsComparesBaseWithHeadNewestFirstWithParentsAndDates(t *testing.T) {
	e := setup(t, time.Minute)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := chain(e.fake, "aaaa", 4, "", start)
	// A feature commit merged into the branch by a merge commit.
	feature := "bbbb" + fmt.Sprintf("%036x", 1)
	e.fake.SetCommitAt(owner, manifests, feature, "feature", start.Add(90*time.Second), c[1])
	merge := "cccc" + fmt.Sprintf("%036x", 1)
	e.fake.SetCommitAt(owner, manifests, merge, "Merge branch feature", start.Add(5*time.Minute), c[3], feature)

	list, err := e.repo.ListCommits(context.Background(), sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: c[1], HeadCommitID: merge})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{merge, c[3], c[2], feature}; !slices.Equal(ids(list.Commits), want) || list.Truncated {
		t.Fatalf("ListCommits = %v (truncated %v), want %v", ids(list.Commits), list.Truncated, want)
	}
	if got := list.Commits[0]; !slices.Equal(got.ParentIDs, []string{c[3], feature}) || !got.CommittedAt.Equal(start.Add(5*time.Minute)) || got.Message != "Merge branch feature" {
		t.Errorf("merge commit = %+v", got)
	}
	calls := e.fake.Calls(fakegithub.OpCompare)
	if len(calls) != 1 || calls[0].Path != fmt.Sprintf("/repos/%s/%s/compare/%s...%s", owner, manifests, c[1], merge) {
		t.Errorf("requests: %+v", calls)
	}

	// Head an ancestor of base: nothing.
	list, err = e.repo.ListCommits(context.Background(), sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: c[3], HeadCommitID: c[1]})
	if err != nil || len(list.Commits) != 0 {
		t.Errorf("behind: %v, %v", ids(list.Commits), err)
	}
}

func TestListCommitsReadsOnlyThePagesOfTheNewestCommitsAndSaysItTruncated(t *testing.T) {
	e := setup(t, time.Minute)
	c := chain(e.fake, "dddd", 251, "", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	list, err := e.repo.ListCommits(context.Background(), sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: c[0], HeadCommitID: c[250], MaxCommits: 120})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(c[131:])
	slices.Reverse(want)
	if !slices.Equal(ids(list.Commits), want) || !list.Truncated {
		t.Fatalf("got %d commits from %s (truncated %v), want the newest 120", len(list.Commits), ids(list.Commits)[0], list.Truncated)
	}
	// total 250: page 1 for the count, then pages 2 and 3 (the newest 150).
	if n := len(e.fake.Calls(fakegithub.OpCompare)); n != 3 {
		t.Errorf("%d compare requests, want 3", n)
	}

	list, err = e.repo.ListCommits(context.Background(), sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: c[200], HeadCommitID: c[250]})
	if err != nil || len(list.Commits) != 50 || list.Truncated || list.Commits[0].ID != c[250] {
		t.Errorf("50 commits: %d, truncated %v, %v", len(list.Commits), list.Truncated, err)
	}
}

func TestListCommitsRefusesBadIDsAndReportsAnUnknownCommitPermanently(t *testing.T) {
	e := setup(t, time.Minute)
	ctx := context.Background()
	if _, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: "main...evil", HeadCommitID: sha}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("bad base: %v", err)
	}
	if len(e.fake.Requests()) != 0 {
		t.Error("a bad id reached GitHub")
	}
	_, err := e.repo.ListCommits(ctx, sdk.ListCommitsRequest{Config: e.cfg, BaseCommitID: otherSHA, HeadCommitID: sha})
	if err == nil || sdk.IsRetryable(err) {
		t.Errorf("unknown base: %v, want a permanent error", err)
	}
	assertNoToken(t, err, e.cfg.Token)
}
