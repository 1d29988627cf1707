package gate

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func st(name string, state sdk.State, minute int) sdk.CommitStatus {
	return sdk.CommitStatus{Name: name, State: state, UpdatedAt: t0.Add(time.Duration(minute) * time.Minute)}
}

// none stands for no status of the environment.
const none = sdk.StateUnspecified

var allStates = []sdk.State{sdk.StateSucceeded, sdk.StateFailed, sdk.StateError, sdk.StatePending, sdk.StateNotApplicable, none}

// want is the outcome of two environments from their Flux Status states
// (none = no status): failure beats everything, success needs both.
func want(a, b sdk.State) Outcome {
	failed := func(s sdk.State) bool { return s == sdk.StateFailed || s == sdk.StateError }
	switch {
	case failed(a) || failed(b):
		return Failure
	case a == sdk.StateSucceeded && b == sdk.StateSucceeded:
		return Success
	}
	return Open
}

func TestEveryCombinationOfTwoEnvironmentsStates(t *testing.T) {
	for _, east := range allStates {
		for _, west := range allStates {
			t.Run(fmt.Sprintf("east=%q,west=%q", east, west), func(t *testing.T) {
				var sts []sdk.CommitStatus
				if east != none {
					sts = append(sts, st("dev-east/Status", east, 1))
				}
				if west != none {
					sts = append(sts, st("dev-west/Status", west, 2))
				}
				// Statuses of other contexts and environments decide nothing.
				sts = append(sts, st("dev-east/Deployment", sdk.StateFailed, 3), st("ci/build", sdk.StateFailed, 3), st("prod/Status", sdk.StateFailed, 3))
				res := Decide([]string{"dev-east", "dev-west"}, sts)
				if res.Outcome != want(east, west) {
					t.Fatalf("outcome %s, want %s (%+v)", res.Outcome, want(east, west), res)
				}
				for _, e := range append(res.Failed, res.Missing...) {
					if e.Reported != ((e.Name == "dev-east" && east != none) || (e.Name == "dev-west" && west != none)) {
						t.Errorf("%s reported = %v", e.Name, e.Reported)
					}
				}
				switch res.Outcome {
				case Failure:
					if len(res.Failed) == 0 {
						t.Error("failure without a failed environment")
					}
				case Open:
					if len(res.Missing) == 0 || len(res.Failed) != 0 {
						t.Errorf("open: missing %v, failed %v", res.Missing, res.Failed)
					}
				case Success:
					if len(res.Missing)+len(res.Failed) != 0 {
						t.Errorf("success with %v %v", res.Missing, res.Failed)
					}
				}
			})
		}
	}
}

func TestMissingEnvironmentsAreNamedWithTheirState(t *testing.T) {
	res := Decide([]string{"dev-east", "dev-west", "dev-south"}, []sdk.CommitStatus{
		st("dev-east/Status", sdk.StateSucceeded, 1), st("dev-west/Status", sdk.StatePending, 2),
	})
	if res.Outcome != Open || Describe(res.Missing) != "dev-west (pending), dev-south (no status)" {
		t.Errorf("%s: %s", res.Outcome, Describe(res.Missing))
	}
	res = Decide([]string{"dev-east", "dev-west"}, []sdk.CommitStatus{st("dev-east/Status", sdk.StateError, 1)})
	if res.Outcome != Failure || Describe(res.Failed) != "dev-east (failed)" || Describe(res.Missing) != "dev-west (no status)" {
		t.Errorf("%s: failed %s, missing %s", res.Outcome, Describe(res.Failed), Describe(res.Missing))
	}
	if res := Decide([]string{"dev"}, nil); res.Outcome != Open || Describe(res.Missing) != "dev (no status)" {
		t.Errorf("no statuses: %+v", res)
	}
}

func TestTheLatestStatusOfANameWinsWhateverTheOrderAndGenre(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  []sdk.CommitStatus
		want Outcome
	}{
		{"newer success after a failure", []sdk.CommitStatus{st("w/Status", sdk.StateSucceeded, 5), st("w/Status", sdk.StateFailed, 1)}, Success},
		{"newer failure listed last", []sdk.CommitStatus{st("w/Status", sdk.StateSucceeded, 1), st("w/Status", sdk.StateFailed, 5)}, Failure},
		{"newer pending after a success", []sdk.CommitStatus{st("w/Status", sdk.StateSucceeded, 1), st("w/Status", sdk.StatePending, 2)}, Open},
		{"two genres of one name (Azure Repos)", []sdk.CommitStatus{
			{Name: "w/Status", Genre: "Kustomization", State: sdk.StateFailed, UpdatedAt: t0},
			{Name: "w/Status", Genre: "GitRepository", State: sdk.StateSucceeded, UpdatedAt: t0.Add(time.Minute)},
		}, Success},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide([]string{"w"}, tc.sts).Outcome; got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAnArgoCDEnvironmentIsReadFromItsPhaseAndHealth(t *testing.T) {
	for _, tc := range []struct {
		phase, health sdk.State // none = no status
		want          Outcome
	}{
		{sdk.StateSucceeded, sdk.StateSucceeded, Success},
		{sdk.StateSucceeded, sdk.StatePending, Open},
		{sdk.StatePending, sdk.StateSucceeded, Open},
		{sdk.StateFailed, sdk.StatePending, Open}, // Argo CD retries while health progresses
		{sdk.StateFailed, sdk.StateSucceeded, Failure},
		{sdk.StateError, sdk.StateSucceeded, Failure},
		{sdk.StateSucceeded, sdk.StateError, Failure},  // Degraded
		{sdk.StateSucceeded, sdk.StateFailed, Failure}, // Missing
		{sdk.StateSucceeded, sdk.StateNotApplicable, Open},
		{sdk.StateSucceeded, none, Open},
		{none, sdk.StateFailed, Open},
	} {
		t.Run(fmt.Sprintf("phase=%q,health=%q", tc.phase, tc.health), func(t *testing.T) {
			sts := []sdk.CommitStatus{st("argo/Sync", sdk.StateFailed, 0)}
			if tc.phase != none {
				sts = append(sts, st("argo/Phase", tc.phase, 1))
			}
			if tc.health != none {
				sts = append(sts, st("argo/Health", tc.health, 1))
			}
			res := Decide([]string{"argo"}, sts)
			if res.Outcome != tc.want {
				t.Errorf("got %s, want %s", res.Outcome, tc.want)
			}
			if envs := append(res.Missing, res.Failed...); len(envs) > 0 && !envs[0].Reported {
				t.Error("an environment with a Phase or Health status counts as not reported")
			}
		})
	}
}

func TestBackoffDoublesFromTheInitialIntervalUpToTheLimit(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, Backoff(n, 0, 0))
	}
	if fmt.Sprint(got) != "[15s 30s 1m0s 2m0s 4m0s 5m0s 5m0s]" {
		t.Errorf("default schedule %v", got)
	}
	if d := Backoff(3, time.Second, 3*time.Second); d != 3*time.Second {
		t.Errorf("capped: %v", d)
	}
}

func TestWaitsCallsDueOnceAfterTheDelayOrAtOnceWhenItsCommitIsWoken(t *testing.T) {
	due := make(chan string, 10)
	w := &Waits[string]{Due: func(v string) { due <- v }}
	w.Open("east@c1", "c1", "gate of c1", time.Hour)
	w.Open("east@c2", "c2", "gate of c2", time.Hour)
	w.Open("west@c1", "c1", "other config, c1", time.Hour)
	if w.Len() != 3 {
		t.Fatalf("Len = %d", w.Len())
	}
	w.Open("north@c1", "c1", "the waking event's own pair", time.Hour)
	w.Wake("c1", "north@c1")
	got := map[string]bool{<-due: true, <-due: true}
	if !got["gate of c1"] || !got["other config, c1"] {
		t.Errorf("woken: %v", got)
	}
	if v, ok := w.Get("north@c1"); !ok || v != "the waking event's own pair" {
		t.Errorf("the waking event's own gate: %q %v, want it left open", v, ok)
	}
	if !w.Take("north@c1", "the waking event's own pair") {
		t.Error("the waking event's own gate cannot be taken over")
	}
	if v, ok := w.Get("east@c2"); !ok || v != "gate of c2" || w.Len() != 1 {
		t.Errorf("c2: %q %v, Len %d", v, ok, w.Len())
	}
	w.Open("east@c2", "c2", "gate of c2, opened again", 0)
	if v := <-due; v != "gate of c2, opened again" {
		t.Errorf("due %q", v)
	}
	w.Open("east@c3", "c3", "replaced", time.Millisecond)
	w.Open("east@c3", "c3", "replacement", time.Hour)
	if w.Take("east@c3", "replaced") || !w.Take("east@c3", "replacement") || w.Take("east@c3", "replacement") {
		t.Error("Take removes only the value waiting, once")
	}
	w.Open("east@c3", "c3", "replacement", time.Hour)
	time.Sleep(20 * time.Millisecond) // the replaced timer's time passes
	w.Stop()
	w.Wake("c3", "")
	select {
	case v := <-due:
		t.Errorf("due after it was opened again or stopped: %q", v)
	case <-time.After(50 * time.Millisecond):
	}
}
