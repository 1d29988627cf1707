package repository

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

func TestListStatusesKeepsTheLatestOfEachContextAcrossPages(t *testing.T) {
	e := setup(t, time.Minute)
	posts := []sdk.Status{
		status("dev-east/Status", sdk.StatePending, "underway"),
		status("dev-west/Status", sdk.StateFailed, "broken"),
		status("dev-east/Status", sdk.StateSucceeded, "done"),
		status("dev-east/Deployment", sdk.StateNotApplicable, "1 configured"),
		status("dev-south/Status", sdk.StateError, "suspended"),
	}
	// More than a page of history of one context, after the rest.
	for i := range 120 {
		posts = append(posts, status("dev-west/Status", sdk.StatePending, fmt.Sprintf("attempt %d", i)))
	}
	posts = append(posts, status("dev-west/Status", sdk.StateSucceeded, "recovered"))
	for _, st := range posts {
		if err := e.post(st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.repo.ListStatuses(context.Background(), sdk.ListStatusesRequest{Config: e.cfg, CommitID: sha[:12]})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sdk.State{
		"dev-west/Status":     sdk.StateSucceeded,
		"dev-east/Deployment": sdk.StateSucceeded, // not applicable reads back as success
		"dev-east/Status":     sdk.StateSucceeded,
		"dev-south/Status":    sdk.StateError,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d contexts, want %d: %+v", len(got), len(want), got)
	}
	for _, st := range got {
		if want[st.Name] != st.State || st.UpdatedAt.IsZero() || st.Genre != "" {
			t.Errorf("%s: %+v, want state %s", st.Name, st, want[st.Name])
		}
	}
	if got[0].Name != "dev-west/Status" || got[0].Description != "recovered" {
		t.Errorf("first = %+v, want the newest status", got[0])
	}
	// 126 statuses: two pages of 100.
	if n := len(e.fake.Calls(fakegithub.OpListStatuses)); n != 2 {
		t.Errorf("%d pages read, want 2", n)
	}
}

func TestListStatusesOfACommitWithoutStatusesIsEmptyAndBadIDsNeverReachGitHub(t *testing.T) {
	e := setup(t, time.Minute)
	ctx := context.Background()
	got, err := e.repo.ListStatuses(ctx, sdk.ListStatusesRequest{Config: e.cfg, CommitID: sha})
	if err != nil || len(got) != 0 {
		t.Errorf("no statuses: %+v, %v", got, err)
	}
	if _, err := e.repo.ListStatuses(ctx, sdk.ListStatusesRequest{Config: e.cfg, CommitID: "main/../../other"}); sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Errorf("bad id: %v, want invalid input", err)
	}
	e.fake.FailNext(fakegithub.OpListStatuses, fakegithub.Fault{Status: 503})
	_, err = e.repo.ListStatuses(ctx, sdk.ListStatusesRequest{Config: e.cfg, CommitID: sha})
	if !sdk.IsRetryable(err) {
		t.Errorf("503: %v, want retryable", err)
	}
	assertNoToken(t, err, e.cfg.Token)
	if n := len(e.fake.Calls(fakegithub.OpListStatuses)); n != 2 {
		t.Errorf("%d requests, want 2 (the bad id sends none)", n)
	}
}
