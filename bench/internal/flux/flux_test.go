package flux

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestCommitsAreDistinctHexIDsPerPhaseAndIndex(t *testing.T) {
	hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
	seen := map[string]bool{}
	for phase := uint32(0); phase < 3; phase++ {
		for i := range 1000 {
			c := Commit(phase, i)
			if !hex40.MatchString(c) {
				t.Fatalf("Commit(%d, %d) = %q, not 40 hex digits", phase, i, c)
			}
			if seen[c] {
				t.Fatalf("Commit(%d, %d) = %q repeats", phase, i, c)
			}
			seen[c] = true
		}
	}
}

func TestEventIsAKustomizationEventWithTheRevisionOfTheCommit(t *testing.T) {
	commit := Commit(1, 7)
	var ev struct {
		InvolvedObject struct{ Kind, Name, Namespace string }
		Reason         string
		Message        string
		Metadata       map[string]string
	}
	if err := json.Unmarshal(Event(ReasonProgressing, ChangeSet, commit), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.InvolvedObject.Kind != "Kustomization" || ev.Reason != ReasonProgressing || ev.Message != ChangeSet {
		t.Errorf("event %+v", ev)
	}
	if got := ev.Metadata["revision"]; got != "main@sha1:"+commit {
		t.Errorf("revision %q", got)
	}
}

func TestTheMixIsTwoProgressingToOneSucceededToOneGitRepository(t *testing.T) {
	kinds := map[string]int{}
	statuses, dispatches := 0, 0
	for i := range 400 {
		m := Mix(Commit(9, i), i)
		var ev struct {
			InvolvedObject struct{ Kind string }
			Reason         string
			Metadata       map[string]string
		}
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Metadata["revision"] != "main@sha1:"+Commit(9, i) {
			t.Fatalf("event %d is for %q, not its own commit", i, ev.Metadata["revision"])
		}
		kinds[ev.InvolvedObject.Kind+"/"+ev.Reason]++
		statuses += m.Statuses
		dispatches += m.Dispatches
	}
	if kinds["Kustomization/Progressing"] != 200 || kinds["Kustomization/ReconciliationSucceeded"] != 100 || kinds["GitRepository/Succeeded"] != 100 {
		t.Errorf("mix %v, want 200 : 100 : 100", kinds)
	}
	if statuses != 1200 || dispatches != 100 {
		t.Errorf("%d statuses and %d dispatches for 400 events, want 1200 (3 per event) and 100", statuses, dispatches)
	}
}
