package skipped

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func c(id string, minute int, parents ...string) sdk.Commit {
	return sdk.Commit{ID: id, ParentIDs: parents, CommittedAt: t0.Add(time.Duration(minute) * time.Minute)}
}

func ids(cs []sdk.Commit) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// listRepo answers ListCommits with a fixed list and records the requests.
type listRepo struct {
	sdk.UnimplementedRepository
	list sdk.CommitList
	err  error
	reqs []sdk.ListCommitsRequest
}

func (r *listRepo) ListCommits(_ context.Context, req sdk.ListCommitsRequest) (sdk.CommitList, error) {
	r.reqs = append(r.reqs, req)
	return r.list, r.err
}

func TestFirstParentsFollowsTheBranchFromHeadToBase(t *testing.T) {
	// b ← c1 ← c2 ← m (merges f, which branched from c1) ← h
	list := sdk.CommitList{Commits: []sdk.Commit{
		c("h", 5, "m"), c("m", 4, "c2", "f"), c("f", 3, "c1"), c("c2", 2, "c1"), c("c1", 1, "b"),
	}}
	for _, tc := range []struct {
		name      string
		list      sdk.CommitList
		base      string
		notBefore time.Time
		want      []string
		reason    string
		tooOld    int
		advance   bool
	}{
		{name: "skipped commits oldest first, no side branch", list: list, base: "b", want: []string{"c1", "c2", "m"}, advance: true},
		{name: "head's parent is base", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 1, "b")}}, base: "b", want: []string{}, advance: true},
		{name: "older than the bound", list: list, base: "b", notBefore: t0.Add(2 * time.Minute), want: []string{"c2", "m"}, tooOld: 1, advance: true},
		{name: "force push: the chain ends elsewhere", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 5, "x"), c("x", 4, "root")}}, base: "b", want: []string{}, reason: ReasonNotAncestor, advance: true},
		{name: "base only on a side branch", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 5, "a", "b"), c("a", 4, "o")}}, base: "b", want: []string{}, reason: ReasonNotAncestor, advance: true},
		{name: "truncated before base", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 5, "c9"), c("c9", 4, "c8")}, Truncated: true}, base: "b", want: []string{}, reason: ReasonTooMany, advance: true},
		{name: "head behind base", list: sdk.CommitList{}, base: "b", want: []string{}, reason: ReasonOlder},
		{name: "a root commit", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 1)}}, base: "b", want: []string{}, reason: ReasonNotAncestor, advance: true},
		{name: "a newer base inside the list of a walk from an older one", list: list, base: "c2", want: []string{"m"}, advance: true},
		{name: "a base on the side branch of that list", list: list, base: "f", want: []string{}, reason: ReasonNotAncestor, advance: true},
		{name: "a cycle in a bad answer", list: sdk.CommitList{Commits: []sdk.Commit{c("h", 2, "a"), c("a", 1, "h")}}, base: "b", want: []string{}, reason: ReasonNotAncestor, advance: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FirstParents(tc.list, tc.base, "h", tc.notBefore)
			if !slices.Equal(ids(got.Commits), tc.want) || got.Reason != tc.reason || got.TooOld != tc.tooOld || got.Advance != tc.advance {
				t.Errorf("got %v (reason %q, too old %d, advance %v), want %v (reason %q, too old %d, advance %v)",
					ids(got.Commits), got.Reason, got.TooOld, got.Advance, tc.want, tc.reason, tc.tooOld, tc.advance)
			}
		})
	}
}

func TestFindAsksTheRepositoryOnlyWhenBaseIsKnownAndDiffers(t *testing.T) {
	ctx := context.Background()
	repo := &listRepo{list: sdk.CommitList{Commits: []sdk.Commit{c("h", 2, "c1"), c("c1", 1, "b")}}}
	if r, err := Find(ctx, repo, Walk{Head: "h"}); err != nil || r.Reason != ReasonBaseUnknown || !r.Advance {
		t.Errorf("unknown base: %+v, %v", r, err)
	}
	if r, err := Find(ctx, repo, Walk{Base: "h", Head: "h"}); err != nil || r.Reason != ReasonSameCommit || r.Advance {
		t.Errorf("same commit: %+v, %v", r, err)
	}
	if len(repo.reqs) != 0 {
		t.Fatalf("the repository was asked: %+v", repo.reqs)
	}
	r, err := Find(ctx, repo, Walk{Config: sdk.Config{Name: "cfg"}, Base: "b", Head: "h", MaxCommits: 50})
	if err != nil || !slices.Equal(ids(r.Commits), []string{"c1"}) {
		t.Errorf("Find = %+v, %v", r, err)
	}
	if len(repo.reqs) != 1 || repo.reqs[0].BaseCommitID != "b" || repo.reqs[0].HeadCommitID != "h" || repo.reqs[0].MaxCommits != 50 || repo.reqs[0].Config.Name != "cfg" {
		t.Errorf("requests %+v", repo.reqs)
	}

	unimplemented := &listRepo{err: sdk.ErrUnimplemented}
	if r, err := Find(ctx, unimplemented, Walk{Base: "b", Head: "h"}); err != nil || r.Reason != ReasonUnsupported || !r.Advance {
		t.Errorf("unimplemented: %+v, %v", r, err)
	}
	boom := errors.New("boom")
	failing := &listRepo{err: sdk.Retryable(boom, time.Second)}
	if _, err := Find(ctx, failing, Walk{Base: "b", Head: "h"}); !errors.Is(err, boom) || !sdk.IsRetryable(err) {
		t.Errorf("a retryable error: %v", err)
	}
}

func TestDescriptionNamesTheShortAndTheFullID(t *testing.T) {
	id := "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	if got := Description(id); got != "deployed with 3e3d3f0 ("+id+")" || len(got) > 140 {
		t.Errorf("Description = %q", got)
	}
}
