package pending

import (
	"strings"
	"testing"
)

func TestAContextThatOnlyAnEarlierEventPostsIsReportedPending(t *testing.T) {
	info := Event{Name: "progressing", Owner: "ks", Statuses: []Status{{Name: "Status", Genre: "Kustomization", Pending: true}, {Name: "Info", Genre: "Kustomization", Pending: true}}}
	done := Event{Name: "succeeded", Owner: "ks", Successful: true, Statuses: []Status{{Name: "Status", Genre: "Kustomization"}}}
	left := LeftPending([]Event{info, done}, 2)
	if len(left) == 0 || !strings.Contains(left[0], "progressing → succeeded, on GitHub: Info still pending") {
		t.Fatalf("LeftPending = %q, want the Info context reported", left)
	}
}

func TestContextsAreKeyedAsEachRepositoryKeysThem(t *testing.T) {
	source := Event{Name: "source", Statuses: []Status{{Name: "Status", Genre: "GitRepository", Pending: true}}}
	done := Event{Name: "succeeded", Owner: "ks", Successful: true, Statuses: []Status{{Name: "Status", Genre: "Kustomization"}}}
	left := LeftPending([]Event{source, done}, 1)
	if len(left) != 1 || !strings.Contains(left[0], "on Azure DevOps: Status (GitRepository) still pending") {
		t.Fatalf("LeftPending = %q, want the source's context reported on Azure DevOps only", left)
	}
}

func TestAnotherOwnersEventsDoNotPrecedeASuccess(t *testing.T) {
	other := Event{Name: "other release", Owner: "hr/b", Statuses: []Status{{Name: "HelmRelease/b", Genre: "HelmRelease", Pending: true}}}
	done := Event{Name: "release a", Owner: "hr/a", Successful: true, Statuses: []Status{{Name: "HelmRelease/a", Genre: "HelmRelease"}}}
	if left := LeftPending([]Event{other, done}, 3); len(left) != 0 {
		t.Fatalf("LeftPending = %q, want nothing", left)
	}
}
