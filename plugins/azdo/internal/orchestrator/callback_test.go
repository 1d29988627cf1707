package orchestrator

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPullRequestNumberIsReadFromTheMergeComment(t *testing.T) {
	cases := []struct {
		comment string
		want    int64
		ok      bool
	}{
		{"Merged PR 42: Deploy az-vote 1.2.3 to dev", 42, true},
		{"Merged PR 42 Deploy without a colon", 42, true},
		{"Merged PR 42", 42, true},
		{"Merged PR 7: first\n\nRelated work items: #12, Merged PR 9", 7, true},
		{"Revert \"Merged PR 5: x\"\n\nMerged PR 6: revert", 5, true},
		{"Deploy az-vote 1.2.3 (squash merge with a custom message)", 0, false},
		{"Merged PR : nothing", 0, false},
		{"Merged PR 0: zero", 0, false},
		{"Merged PR 99999999999: out of range", 0, false},
		{"merged pr 42: lower case is not what Azure Repos writes", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		got, ok := PullRequestNumber(tc.comment)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PullRequestNumber(%q) = %d, %v; want %d, %v", tc.comment, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCallbackPropertyIsParsedAndChecked(t *testing.T) {
	cases := []struct {
		file    string
		want    Callback
		problem string
	}{
		{file: "callback-pipeline-template.json", want: Callback{
			TaskID: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b", JobID: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
			PlanURL: "https://dev.azure.com/myorg/", PlanID: "4ab3c0d2-7c55-4f32-9b5a-0b8e07e0d1a1", ProjectID: "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c",
		}},
		{file: "callback-camel-case-numeric-pr.json", want: Callback{
			TaskID: "3F2A1B4C-5D6E-4F70-8A9B-0C1D2E3F4A5B", JobID: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
			PlanURL: "https://myorg.visualstudio.com/", PlanID: "4ab3c0d2-7c55-4f32-9b5a-0b8e07e0d1a1", ProjectID: "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c",
		}},
		{file: "callback-unexpanded-variables.json", problem: "taskid \"$(System.TaskInstanceId)\" is not a UUID"},
		{file: "callback-truncated.txt", problem: "not a JSON object"},
		{file: "callback-no-planurl.json", problem: "planurl is missing"},
		{file: "callback-array.json", problem: "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCallback(string(b))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Errorf("ParseCallback = %+v, %v; want an error containing %q", got, err, tc.problem)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseCallback = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPropertyKeysPreferTheStatusContext(t *testing.T) {
	if got := PropertyKeys(""); !slices.Equal(got, []string{"callback-task-id"}) {
		t.Errorf("PropertyKeys(\"\") = %v", got)
	}
	if got := PropertyKeys("prod"); !slices.Equal(got, []string{"callback-task-id-prod", "callback-task-id"}) {
		t.Errorf("PropertyKeys(prod) = %v", got)
	}
}

func FuzzParseCallback(f *testing.F) {
	for _, file := range []string{"callback-pipeline-template.json", "callback-truncated.txt", "callback-array.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, value string) {
		cb, err := ParseCallback(value)
		if err == nil && (cb.PlanURL == "" || len(cb.TaskID) != 36 || len(cb.JobID) != 36) {
			t.Errorf("ParseCallback(%q) = %+v without an error", value, cb)
		}
	})
}
