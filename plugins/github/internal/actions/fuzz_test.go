package actions

import (
	"strings"
	"testing"
	"unicode"
)

func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{
		"Merge pull request #12 from kaizentm/deploy/4711/3f9a2b1c\n\nDeploy",
		"deploy/dev/5012/3f9a2b1c",
		"a/b", "", "////", "\xff/\xfe/ \t/\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		p, missing := ParseMessage(msg)
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
