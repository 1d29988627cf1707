package sdk

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"
)

func TestValidCommitIDAcceptsHexIDsOnly(t *testing.T) {
	for _, id := range []string{"abcdef0", "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80", "9F2C1E4B7A3D5F60812E4C9B0A7D3F1E2C4B6A80", strings.Repeat("0", 64)} {
		if !ValidCommitID(id) || CheckCommitID("commit id", id) != nil {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range badCommitIDs {
		if ValidCommitID(id) {
			t.Errorf("%q accepted", id)
		}
		if err := CheckCommitID("commit id", id); KindOf(err) != KindInvalidInput || !strings.HasPrefix(err.Error(), "commit id ") {
			t.Errorf("CheckCommitID(%q) = %v, want invalid input naming the field", id, err)
		}
	}
	if err := CheckCommitID("commit id", strings.Repeat("x", 10000)); len(err.Error()) > 300 {
		t.Errorf("a long id is echoed whole: %d bytes", len(err.Error()))
	}
}

var badCommitIDs = []string{"", "abcdef", "0123abg", " 0123abc", "main@sha1:0123abcdef", strings.Repeat("0", 65), "main@sha1:../../x/commits/abcdef0",
	"../../other/commits/" + strings.Repeat("a", 40), "abcdef0/", "abcdef0 ", "g000000", "%61bcdef0", "abcdef0\n"}

func TestJoinPathEscapesEverySegmentAndResolvesNothing(t *testing.T) {
	got, err := JoinPath(" https://git.example.com/api/v1/?x=1#f ", "repos", "o w/n", "r?x", "statuses", "abcdef0")
	if want := "https://git.example.com/api/v1/repos/o%20w%2Fn/r%3Fx/statuses/abcdef0"; err != nil || got != want {
		t.Errorf("JoinPath = %q, %v; want %q", got, err, want)
	}
	for _, seg := range []string{"..", ".", "", "a\x00b", "a\nb"} {
		if _, err := JoinPath("https://git.example.com", "repos", seg); KindOf(err) != KindInvalidInput {
			t.Errorf("segment %q: %v, want invalid input", seg, err)
		}
	}
	for _, base := range []string{"", "git.example.com/api", "ftp://x/", "https:///x", "://"} {
		if _, err := JoinPath(base, "x"); KindOf(err) != KindInvalidInput {
			t.Errorf("base %q: %v, want invalid input", base, err)
		}
	}
	if s, err := PathSegment("a/../b"); err != nil || s != "a%2F..%2Fb" {
		t.Errorf("PathSegment = %q, %v", s, err)
	}
}

// recordingRepository records the commit ids that reach it.
type recordingRepository struct {
	UnimplementedRepository
	mu   sync.Mutex
	seen []string
}

func (r *recordingRepository) saw(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ids...)
}

func (r *recordingRepository) PostStatus(_ context.Context, req PostStatusRequest) error {
	r.saw(req.CommitID)
	return nil
}

func (r *recordingRepository) GetCommit(_ context.Context, req GetCommitRequest) (Commit, error) {
	r.saw(req.CommitID)
	return Commit{ID: req.CommitID}, nil
}

func (r *recordingRepository) FindPullRequests(_ context.Context, req FindPullRequestsRequest) ([]PullRequest, error) {
	r.saw(req.CommitID)
	return nil, nil
}

func (r *recordingRepository) ListCommits(_ context.Context, req ListCommitsRequest) (CommitList, error) {
	r.saw(req.BaseCommitID, req.HeadCommitID)
	return CommitList{}, nil
}

func (r *recordingRepository) ListStatuses(_ context.Context, req ListStatusesRequest) ([]CommitStatus, error) {
	r.saw(req.CommitID)
	return nil, nil
}

// recordingOrchestrator records the commit ids that reach it.
type recordingOrchestrator struct {
	UnimplementedOrchestrator
	repo *recordingRepository
}

func (o recordingOrchestrator) NotifyCompletion(_ context.Context, c Completion, _ Repository) (NotifyResult, error) {
	o.repo.saw(c.CommitID, c.DeployedWith)
	return NotifyResult{Notified: true}, nil
}

func TestNoInvalidCommitIDReachesPluginCode(t *testing.T) {
	impl := &recordingRepository{}
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		string(CapabilityRepository):   &repositoryPlugin{impl: impl},
		string(CapabilityOrchestrator): &orchestratorPlugin{impl: recordingOrchestrator{repo: impl}},
	})
	t.Cleanup(func() {
		_ = client.Close()
		server.Stop()
	})
	caps, err := Dispense(client, []Capability{CapabilityRepository, CapabilityOrchestrator})
	if err != nil {
		t.Fatal(err)
	}
	repo, orch := caps.Repository, caps.Orchestrator
	ctx := context.Background()
	good := strings.Repeat("a", 40)
	calls := map[string]func(id string) error{
		"PostStatus": func(id string) error {
			return repo.PostStatus(ctx, PostStatusRequest{CommitID: id, Status: Status{Name: "Status", State: StatePending}})
		},
		"GetCommit": func(id string) error { _, err := repo.GetCommit(ctx, GetCommitRequest{CommitID: id}); return err },
		"FindPullRequests": func(id string) error {
			_, err := repo.FindPullRequests(ctx, FindPullRequestsRequest{CommitID: id})
			return err
		},
		"ListCommits base": func(id string) error {
			_, err := repo.ListCommits(ctx, ListCommitsRequest{BaseCommitID: id, HeadCommitID: good})
			return err
		},
		"ListCommits head": func(id string) error {
			_, err := repo.ListCommits(ctx, ListCommitsRequest{BaseCommitID: good, HeadCommitID: id})
			return err
		},
		"ListStatuses": func(id string) error { _, err := repo.ListStatuses(ctx, ListStatusesRequest{CommitID: id}); return err },
		"NotifyCompletion": func(id string) error {
			_, err := orch.NotifyCompletion(ctx, Completion{CommitID: id, Successful: true}, nil)
			return err
		},
		"NotifyCompletion deployed with": func(id string) error {
			if id == "" {
				id = "x" // "" means a direct completion, which is valid
			}
			_, err := orch.NotifyCompletion(ctx, Completion{CommitID: good, DeployedWith: id, Successful: true}, nil)
			return err
		},
	}
	for name, call := range calls {
		for _, id := range badCommitIDs {
			if err := call(id); KindOf(err) != KindInvalidInput {
				t.Errorf("%s(%q) = %v, want invalid input", name, id, err)
			}
		}
		if err := call(good); err != nil {
			t.Errorf("%s(valid id) = %v", name, err)
		}
	}
	if _, err := orch.NotifyCompletion(ctx, Completion{CommitID: good}, nil); err != nil {
		t.Errorf("a direct completion was refused: %v", err)
	}
	for _, id := range impl.seen {
		if id != good && id != "" {
			t.Errorf("commit id %q reached the plugin", id)
		}
	}
	if len(impl.seen) < len(calls) {
		t.Errorf("the plugin saw %d ids, want every valid call's", len(impl.seen))
	}
}
