package notification

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"github.com/gitops-connector/gitops-connector/testkit/pending"
	"github.com/google/go-cmp/cmp"
)

// testdata holds one notification body per file, shared with the plugin's
// conformance test and the end-to-end tests.
const testdata = "../../testdata"

func argo(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: "ArgoCD", Operator: "ArgoCD"}
}

// expected is the result of parsing one testdata file.
type expected struct {
	// invalid: ParseEvent returns an sdk.InvalidInput error containing errText.
	invalid bool
	errText string
	// reason is a part of the Reason of an ignored event.
	reason string
	result sdk.ParseResult
}

// cases are the expected results of every file in testdata; end-to-end
// tests replaying the same files expect the same.
var cases = map[string]expected{
	"running-progressing.json": {result: sdk.ParseResult{
		Handled:  true,
		CommitID: "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StatePending, "Running", "Running: waiting for healthy state of apps/Deployment/web"),
			argo("Sync", sdk.StatePending, "OutOfSync", "3/4 Synced, 1/4 OutOfSync"),
			argo("Health", sdk.StatePending, "Progressing", "1/3 Healthy, 2/3 Progressing"),
		},
	}},
	"succeeded-synced-healthy.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "3/3 Synced"),
			argo("Health", sdk.StateSucceeded, "Healthy", "3/3 Healthy"),
		},
		Finished:   true,
		Successful: true,
	}},
	"succeeded-degraded.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "0b5e3c1d2f4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "2/2 Synced"),
			argo("Health", sdk.StateError, "Degraded", "1/2 Healthy, 1/2 Degraded"),
		},
		Finished: true,
	}},
	"succeeded-progressing.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "2/2 Synced"),
			argo("Health", sdk.StatePending, "Progressing", "1/2 Healthy, 1/2 Progressing"),
		},
	}},
	"failed.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateFailed, "Failed", "Failed: one or more objects failed to apply, reason: Deployment.apps web is invalid: spec.template.spec.containers[0].image: Required value"),
			argo("Sync", sdk.StateNotApplicable, "OutOfSync", "1/2 Synced, 1/2 OutOfSync"),
			argo("Health", sdk.StateFailed, "Missing", "1/2 Healthy, 1/2 Missing"),
		},
		Finished: true,
	}},
	// Succeeded and healthy, while the Application is already out of sync
	// with a newer commit: the sync status says nothing about this one.
	"succeeded-healthy-out-of-sync.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "8c1f0e2d3b4a59687f6e5d4c3b2a19087f6e5d4c",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateNotApplicable, "OutOfSync", "1/2 Synced, 1/2 OutOfSync"),
			argo("Health", sdk.StateSucceeded, "Healthy", "2/2 Healthy"),
		},
		Finished:   true,
		Successful: true,
	}},
	"error.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "d41d8cd98f00b204e9800998ecf8427e5b2c1a0f",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateError, "Error", "Error: ComparisonError: Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = kustomize build failed: accumulating resources"),
			argo("Sync", sdk.StateNotApplicable, "Unknown", "2/2 Synced"),
			argo("Health", sdk.StateSucceeded, "Healthy", "2/2 Healthy"),
		},
		Finished: true,
	}},
	"terminating.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StatePending, "Terminating", "Terminating: Operation terminating"),
			argo("Sync", sdk.StatePending, "OutOfSync", "1/2 Synced, 1/2 OutOfSync"),
			argo("Health", sdk.StateSucceeded, "Healthy", "2/2 Healthy"),
		},
	}},
	"no-value-commit.json": {
		reason: `commitid is "<no value>"`,
		result: sdk.ParseResult{ConfigName: "team-a-prod"},
	},
	"no-value-health.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "1/1 Synced"),
			argo("Health", sdk.StatePending, "<no value>", "no resource reports its health"),
		},
	}},
	"resources-null.json": {
		reason: "resources is null",
		result: sdk.ParseResult{ConfigName: "my-gitops-repo-stage-dev"},
	},
	"resources-missing-health.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (all tasks run)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "4/4 Synced"),
			argo("Health", sdk.StateSucceeded, "Healthy", "1/1 Healthy"),
		},
		Finished:   true,
		Successful: true,
	}},
	"resources-empty.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded: successfully synced (no more tasks)"),
			argo("Sync", sdk.StateSucceeded, "Synced", "no resources"),
			argo("Health", sdk.StateSucceeded, "Healthy", "no resource reports its health"),
		},
		Finished:   true,
		Successful: true,
	}},
	"mistyped-fields.json": {result: sdk.ParseResult{
		Handled:  true,
		CommitID: "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StateSucceeded, "Succeeded", "Succeeded"),
			argo("Sync", sdk.StatePending, "", "2/2 Synced"),
			argo("Health", sdk.StatePending, "", "1/1 Healthy"),
		},
	}},
	"mistyped-commitid.json": {invalid: true, errText: "commitid is a JSON number"},
	"helm-chart-version.json": {
		reason: `commitid "15.4.2" is not a git commit id`,
		result: sdk.ParseResult{ConfigName: "my-gitops-repo-stage-dev"},
	},
	"head-revision.json": {
		reason: `commitid "HEAD" is not a git commit id`,
		result: sdk.ParseResult{ConfigName: "my-gitops-repo-stage-dev"},
	},
	"unknown-phase.json": {result: sdk.ParseResult{
		Handled:    true,
		ConfigName: "my-gitops-repo-stage-dev",
		CommitID:   "5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081",
		Statuses: []sdk.Status{
			argo("Phase", sdk.StatePending, "Pending", "Pending: waiting for the sync window to open"),
			argo("Sync", sdk.StateSucceeded, "Synced", "1/1 Synced"),
			argo("Health", sdk.StateSucceeded, "Healthy", "1/1 Healthy"),
		},
	}},
	"not-argo-event.json":    {reason: "not an Argo CD event"},
	"unescaped-message.json": {invalid: true, errText: `render it with toJson, "message": {{toJson .app.status.operationState.message}}`},
}

func TestParseEventOfEveryTestdataFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		seen[name] = true
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			want, ok := cases[name]
			if !ok {
				t.Fatalf("testdata/%s has no expected result in cases", name)
			}
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if want.invalid {
				if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), want.errText) {
					t.Fatalf("ParseEvent = %+v, %v; want an invalid input error containing %q", got, err, want.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if want.reason != "" {
				if got.Handled || !strings.Contains(got.Reason, want.reason) {
					t.Errorf("ParseEvent = handled %v, reason %q; want ignored with a reason containing %q", got.Handled, got.Reason, want.reason)
				}
				got.Reason = ""
			}
			if diff := cmp.Diff(want.result, got); diff != "" {
				t.Errorf("ParseEvent (-want +got):\n%s", diff)
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("cases lists %s, which is not in testdata", name)
		}
	}
}

func TestParseEventRejectsBodiesThatAreNotJSONObjects(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "body is empty"},
		{"blank", " \n", "body is empty"},
		{"null", "null", "body is JSON null"},
		{"array", `[{"commitid":"abcdef0"}]`, "body is a JSON array"},
		{"string", `"Succeeded"`, "body is a JSON string"},
		{"number", "42", "body is a JSON number"},
		{"truncated", `{"commitid":`, "body is not valid JSON"},
		{"binary", "\xff\xfe\x00\x01", "body is not valid JSON at byte 1"},
		{"deeply nested", strings.Repeat("[", 20000), "body is not valid JSON"},
		{"resources not an array", `{"commitid":"abcdef0","phase":"Running","resources":"Deployment/web"}`, "resources is a JSON string"},
		{"commitid an object", `{"commitid":{"sha":"abcdef0"},"phase":"Running","resources":[]}`, "commitid is a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(tc.body)})
			if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseEvent = %+v, %v; want an invalid input error containing %q", res, err, tc.want)
			}
		})
	}
}

func TestInvalidJSONHintsAtToJSONOnlyForArgoBodies(t *testing.T) {
	_, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(`{"reason": "Progressing", "message": "a "b" c"}`)})
	if err == nil || strings.Contains(err.Error(), "toJson") {
		t.Fatalf("ParseEvent = %v; want an invalid input error without the Argo CD template hint", err)
	}
}

func TestParseEventIgnoresObjectsWithoutArgoFields(t *testing.T) {
	for _, body := range []string{`{}`, `{"sync_status":"Synced","health":"Healthy","resources":[]}`, `{"involvedObject":{"kind":"Kustomization"},"reason":"ReconciliationSucceeded"}`} {
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(body)})
		if err != nil || res.Handled || !strings.Contains(res.Reason, "not an Argo CD event") {
			t.Errorf("ParseEvent(%s) = %+v, %v; want ignored as not an Argo CD event", body, res, err)
		}
	}
}

func TestParseEventReadsAbsentFieldsAsMissing(t *testing.T) {
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"only a phase", `{"phase":"Running"}`, "commitid is empty"},
		{"null commit", `{"commitid":null,"phase":"Running","resources":[]}`, "commitid is empty"},
		{"blank commit", `{"commitid":"  ","phase":"Running","resources":[]}`, "commitid is empty"},
		{"no resources key", `{"commitid":"abcdef0","phase":"Running"}`, "resources is null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(tc.body)})
			if err != nil || res.Handled || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("ParseEvent = %+v, %v; want ignored because %q", res, err, tc.reason)
			}
		})
	}

	res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(`{"commitid":"abcdef0","resources":[]}`)})
	if err != nil || !res.Handled || res.Finished {
		t.Fatalf("ParseEvent(no phase, no health) = %+v, %v; want handled and not finished", res, err)
	}
	want := []sdk.Status{
		argo("Phase", sdk.StatePending, "", ""),
		argo("Sync", sdk.StatePending, "", "no resources"),
		argo("Health", sdk.StatePending, "", "no resource reports its health"),
	}
	if diff := cmp.Diff(want, res.Statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestCommitIDIsAValidatedLowerCaseHexID(t *testing.T) {
	full := "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	sha256 := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		revision, want string
	}{
		{full, full},
		{strings.ToUpper(full), full},
		{"abcdef0", "abcdef0"},
		{sha256, sha256},
		{" " + full + "\n", full},
		{"abcdef", ""},
		{sha256 + "0", ""},
		{"", ""},
		{"<no value>", ""},
		{"HEAD", ""},
		{"main", ""},
		{"v1.2.3", ""},
		{"15.4.2", ""},
		{"main@sha1:" + full, ""},
		{"../../other/commits/" + full, ""},
		{full + "/x", ""},
		{"g94a8fe", ""},
	} {
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{
			Body: fmt.Appendf(nil, `{"commitid":%q,"phase":"Succeeded","sync_status":"Synced","health":"Healthy","resources":[]}`, tc.revision),
		})
		if err != nil {
			t.Fatalf("commitid %q: %v", tc.revision, err)
		}
		if res.CommitID != tc.want || res.Handled != (tc.want != "") {
			t.Errorf("commitid %q: handled %v, commit %q, reason %q; want commit %q", tc.revision, res.Handled, res.CommitID, res.Reason, tc.want)
		}
		if !res.Handled && res.Reason == "" {
			t.Errorf("commitid %q: ignored without a reason", tc.revision)
		}
	}
}

func TestStateOfFollowsTheStateTable(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    sdk.State
		unknown bool
	}{
		{"Succeeded", sdk.StateSucceeded, false},
		{"Synced", sdk.StateSucceeded, false},
		{"Healthy", sdk.StateSucceeded, false},
		{"Failed", sdk.StateFailed, false},
		{"Missing", sdk.StateFailed, false},
		{"error", sdk.StateFailed, false},
		{"Error", sdk.StateError, false},
		{"Degraded", sdk.StateError, false},
		{"Suspended", sdk.StateError, false},
		{"Running", sdk.StatePending, false},
		{"Inconclusive", sdk.StatePending, false},
		{"OutOfSync", sdk.StatePending, false},
		{"Progressing", sdk.StatePending, false},
		{"Terminating", sdk.StatePending, false},
		{"Unknown", sdk.StateNotApplicable, false},
		{"", sdk.StatePending, false},
		{"<no value>", sdk.StatePending, false},
		{"Pending", sdk.StatePending, true},
		{"healthy", sdk.StatePending, true},
	} {
		state, unknown := stateOf(tc.raw)
		if state != tc.want || unknown != tc.unknown {
			t.Errorf("stateOf(%q) = %v, unknown %v; want %v, unknown %v", tc.raw, state, unknown, tc.want, tc.unknown)
		}
	}
}

func TestOutcomeNeedsAFinalPhaseAndASettledHealth(t *testing.T) {
	for _, tc := range []struct {
		phase, health        string
		finished, successful bool
	}{
		{"Succeeded", "Healthy", true, true},
		{"Succeeded", "Degraded", true, false},
		{"Succeeded", "Suspended", true, false},
		{"Succeeded", "Missing", true, false},
		{"Succeeded", "Unknown", true, false},
		{"Succeeded", "Progressing", false, false},
		{"Succeeded", "<no value>", false, false},
		{"Succeeded", "", false, false},
		{"Succeeded", "Recovering", false, false},
		{"Failed", "Healthy", true, false},
		{"Failed", "Progressing", false, false},
		{"Error", "Degraded", true, false},
		{"Running", "Healthy", false, false},
		{"Terminating", "Healthy", false, false},
		{"Inconclusive", "Healthy", false, false},
		{"<no value>", "Healthy", false, false},
		{"", "Healthy", false, false},
		{"Pending", "Healthy", false, false},
		{"succeeded", "Healthy", false, false},
	} {
		finished, successful := outcome(tc.phase, tc.health)
		if finished != tc.finished || successful != tc.successful {
			t.Errorf("outcome(%q, %q) = finished %v, successful %v; want %v, %v", tc.phase, tc.health, finished, successful, tc.finished, tc.successful)
		}
	}
}

func TestSummarizeCountsInOrderOfFirstAppearance(t *testing.T) {
	sync := func(r Resource) string { return r.Sync }
	for _, tc := range []struct {
		name      string
		resources []Resource
		want      string
	}{
		{"one value", []Resource{{Sync: "Synced"}, {Sync: "Synced"}}, "2/2 Synced"},
		{"first appearance", []Resource{{Sync: "OutOfSync"}, {Sync: "Synced"}, {Sync: "Synced"}, {Sync: "Unknown"}, {Sync: "OutOfSync"}}, "2/5 OutOfSync, 2/5 Synced, 1/5 Unknown"},
		{"values left out of the total", []Resource{{Sync: "Synced"}, {}, {Sync: "OutOfSync"}}, "1/2 Synced, 1/2 OutOfSync"},
		{"none", []Resource{{}, {}}, "nothing"},
		{"no resources", nil, "nothing"},
	} {
		if got := summarize(tc.resources, sync, "nothing"); got != tc.want {
			t.Errorf("%s: summarize = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// logLines returns an operator that logs into a buffer and a function that
// returns the lines logged so far, decoded.
func logLines() (*Argo, func() []map[string]any) {
	log := &hostproc.Log{}
	return New(slog.New(slog.NewJSONHandler(log, nil))), log.Lines
}

func event(phase, health string) []byte {
	return fmt.Appendf(nil, `{"commitid":"abcdef0","phase":%q,"sync_status":"Synced","health":%q,"message":"","resources":[]}`, phase, health)
}

func TestUnknownStatesAreLoggedOncePerValue(t *testing.T) {
	a, lines := logLines()
	ctx := context.Background()
	for _, body := range [][]byte{
		event("Pending", "Healthy"),
		event("Pending", "Healthy"),
		event("Pending", "Recovering"),
		event("Running", "Recovering"),
		event("<no value>", "<no value>"),
	} {
		if _, err := a.ParseEvent(ctx, sdk.ParseRequest{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	got := lines()
	want := []struct{ field, value string }{{"phase", "Pending"}, {"health", "Recovering"}}
	if len(got) != len(want) {
		t.Fatalf("logged %d lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i]["level"] != "WARN" || got[i]["field"] != w.field || got[i]["value"] != w.value {
			t.Errorf("line %d = %v, want a warning about %s %q", i, got[i], w.field, w.value)
		}
	}
}

func TestMistypedFieldsAreLoggedOnce(t *testing.T) {
	a, lines := logLines()
	body := []byte(`{"commitid":"abcdef0","phase":7,"resources":[]}`)
	for range 3 {
		if _, err := a.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	got := lines()
	if len(got) != 1 || got[0]["field"] != "phase: number" {
		t.Fatalf("logged %v, want one warning about phase: number", got)
	}
}

func TestUnknownStatesRememberedAreBounded(t *testing.T) {
	a, lines := logLines()
	for i := range maxReported + 20 {
		if _, err := a.ParseEvent(context.Background(), sdk.ParseRequest{Body: event(fmt.Sprintf("Phase%d", i), "Healthy")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(lines()); n != maxReported {
		t.Errorf("logged %d lines, want %d", n, maxReported)
	}
	if n := a.warned.Len(); n != maxReported {
		t.Errorf("remembers %d values, want %d", n, maxReported)
	}
}

func TestUnknownValuesAreClippedInLogs(t *testing.T) {
	a, lines := logLines()
	long := strings.Repeat("x", 1000)
	if _, err := a.ParseEvent(context.Background(), sdk.ParseRequest{Body: event(long, "Healthy")}); err != nil {
		t.Fatal(err)
	}
	got := lines()
	if len(got) != 1 {
		t.Fatalf("logged %v", got)
	}
	if v, _ := got[0]["value"].(string); len([]rune(v)) != 65 || !strings.HasSuffix(v, "…") {
		t.Errorf("logged value %q, want 64 characters and an ellipsis", v)
	}
}

func TestValidateConfigAcceptsAnyArgoConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string
		field    string
	}{
		{"argocd", map[string]string{"gitOpsOperatorType": "ARGOCD"}, ""},
		{"lower case", map[string]string{"gitOpsOperatorType": " argocd "}, ""},
		{"no type", nil, ""},
		{"flux", map[string]string{"gitOpsOperatorType": "FLUX"}, "gitOpsOperatorType"},
	} {
		errs, err := New(nil).ValidateConfig(context.Background(), sdk.Config{Name: tc.name, Settings: tc.settings, Token: "secret-token"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch {
		case tc.field == "" && len(errs) > 0:
			t.Errorf("%s: want valid, got %v", tc.name, errs)
		case tc.field != "" && (len(errs) != 1 || errs[0].Field != tc.field || errs[0].Message == ""):
			t.Errorf("%s: got %v, want one error on %s", tc.name, errs, tc.field)
		}
	}
}

// TestNoPostedContextStaysPendingAfterASuccessfulDeployment replays every
// sequence of up to three fixture notifications followed by one that
// finishes the deployment successfully, all for one Application and one
// commit, and checks that no context is left pending on GitHub or Azure
// DevOps.
func TestNoPostedContextStaysPendingAfterASuccessfulDeployment(t *testing.T) {
	evs := pending.Fixtures(t, New(nil), testdata, maps.Keys(cases), func(sdk.ParseResult) string { return "Application" })
	if len(evs) < 8 {
		t.Fatalf("only %d handled fixtures", len(evs))
	}
	for _, line := range pending.LeftPending(evs, 3) {
		t.Error(line)
	}
}
