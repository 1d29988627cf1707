package syncsuccess

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-connector/gitops-connector/sdk"
)

const source = "3f9a2b1c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"

func TestParseFollowsTheSegments(t *testing.T) {
	for _, tc := range []struct {
		msg, runID, sha string
		missing         bool
	}{
		{"Merge pull request #12 from kaizentm/deploy/4711/" + source + "\n\nDeploy", "4711", source, false},
		{"a/b/ 77 / " + source + " (#12)", "77", source, false},
		{"Merge pull request #3 from kaizentm/deploy/4711", "4711", "", true},
		{"a/b//", "", "", true},
		{"Bump podinfo", "", "", true},
		{"a/b", "", "", true},
	} {
		p, missing := Parse(tc.msg)
		if p.RunID != tc.runID || p.SHA != tc.sha || p.CommitMessage != tc.msg || (missing != "") != tc.missing {
			t.Errorf("Parse(%q) = %+v, %q", tc.msg, p, missing)
		}
	}
}

func TestParseBranchReadsTheDeployBranch(t *testing.T) {
	msg := "Merge pull request 'Deploy 4711' (#12) from deploy/4711/" + source + " into main"
	for branch, want := range map[string][2]string{
		"deploy/4711/" + source: {"4711", source},
		"deploy/4711":           {"4711", ""},
		"deploy":                {"", ""},
		"":                      {"", ""},
	} {
		p, missing := ParseBranch(msg, branch)
		if p.RunID != want[0] || p.SHA != want[1] || p.CommitMessage != msg || (missing != "") != (want[1] == "") {
			t.Errorf("ParseBranch(%q) = %+v, %q", branch, p, missing)
		}
	}
}

func TestParseNeverPanics(t *testing.T) {
	for _, msg := range []string{"", "/", "//", "///", "////", "\xff/\xfe/\x00/\x01", strings.Repeat("/", 10000)} {
		p, _ := Parse(msg)
		if p.CommitMessage != msg {
			t.Errorf("message %q not kept", msg)
		}
	}
}

func TestBuildAddsEnvironmentAndDeployedWithAndCutsTheMessage(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	msg := "Merge pull request #12 from org/deploy/4711/" + source + "\n\n" + strings.Repeat("ü", 100)
	c := sdk.Completion{Config: sdk.Config{Name: "dev", StatusContext: "dev"}, CommitID: "abc1234", DeployedWith: source, Successful: true}
	parsed, missing := Parse(msg)
	p, fields := Build(log, c, parsed, missing, 80)
	if p.RunID != "4711" || fields["runid"] != "4711" || fields["sha"] != source || fields["environment"] != "dev" || fields["deployed_with"] != source || len(fields) != 5 {
		t.Errorf("fields %v", fields)
	}
	if got := fields["commitmessage"]; len(got) > 80 || !utf8.ValidString(got) || !strings.HasPrefix(msg, got) || got != p.CommitMessage {
		t.Errorf("commitmessage %q", got)
	}
	if !strings.Contains(logs.String(), "cut") || strings.Contains(logs.String(), "lacks") {
		t.Errorf("log: %s", logs.String())
	}
	logs.Reset()
	parsed, missing = Parse("Bump podinfo")
	_, fields = Build(log, sdk.Completion{CommitID: "abc1234"}, parsed, missing, 80)
	if len(fields) != 3 || !strings.Contains(logs.String(), "lacks the run id") {
		t.Errorf("fields %v, log %s", fields, logs.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"Merge pull request #12 from kaizentm/deploy/4711/3f9a2b1c\n\nDeploy",
		"deploy/dev/5012/3f9a2b1c",
		"a/b", "", "////", "\xff/\xfe/ \t/\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		p, missing := Parse(msg)
		if p.CommitMessage != msg {
			t.Errorf("commit message not kept whole")
		}
		for _, v := range []string{p.RunID, p.SHA} {
			if strings.Contains(v, "/") || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
				t.Errorf("value %q holds a separator or white space", v)
			}
		}
		if (p.RunID == "" || p.SHA == "") != (missing != "") {
			t.Errorf("run id %q, sha %q, missing %q disagree", p.RunID, p.SHA, missing)
		}
	})
}
