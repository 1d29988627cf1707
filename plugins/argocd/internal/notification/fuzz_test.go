package notification

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/google/go-cmp/cmp"
)

var fuzzCommitID = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// FuzzParse checks that no body makes ParseEvent panic, and that every
// result keeps the operator contract: handled results name a lower-case hex
// commit and carry the three statuses; ignored ones say why; errors are
// invalid input; every text is valid UTF-8 (protobuf strings must be); the
// same body gives the same result.
func FuzzParse(f *testing.F) {
	plugintest.Seed(f, filepath.Join(testdata, "*.json"),
		"", "null", "[]", "{}", `{"commitid":null,"resources":null}`,
		`{"commitid":"abcdef0","phase":"Running","resources":[null,1,{"status":{}},{"health":"x"},{"health":{"status":2}}]}`,
		`{"commitid":"ABCDEF0","phase":"Succeeded","health":"Healthy","resources":[{"status":"Synced","health":{"status":"Healthy"}}]}`,
		"{\"commitid\":\"abcdef0\",\"phase\":\"\xff\",\"resources\":[]}",
	)

	f.Fuzz(func(t *testing.T, body []byte) {
		a := New(nil)
		res, err := a.ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		again, againErr := a.ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if (err == nil) != (againErr == nil) || !cmp.Equal(res, again) {
			t.Fatalf("second parse differs: %+v, %v then %+v, %v", res, err, again, againErr)
		}
		if err != nil {
			if k := sdk.KindOf(err); k != sdk.KindInvalidInput {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not valid UTF-8: %q", err.Error())
			}
			return
		}
		texts := []string{res.Reason, res.ConfigName, res.CommitID}
		if !res.Handled {
			if res.Reason == "" {
				t.Fatal("ignored without a reason")
			}
			if res.CommitID != "" || len(res.Statuses) > 0 || res.Finished || res.Successful {
				t.Fatalf("ignored result carries a commit, statuses or an outcome: %+v", res)
			}
		} else {
			if !fuzzCommitID.MatchString(res.CommitID) {
				t.Fatalf("commit id %q is not a lower-case hex id", res.CommitID)
			}
			if res.Successful && !res.Finished {
				t.Fatal("successful but not finished")
			}
			if len(res.Statuses) != 3 {
				t.Fatalf("%d statuses, want Phase, Sync, Health", len(res.Statuses))
			}
			for i, name := range []string{StatusPhase, StatusSync, StatusHealth} {
				st := res.Statuses[i]
				if st.Name != name || st.Genre != Operator || st.Operator != Operator || st.State == sdk.StateUnspecified {
					t.Fatalf("status %d = %+v", i, st)
				}
				texts = append(texts, st.RawState, st.Description)
			}
		}
		for _, s := range texts {
			if !utf8.ValidString(s) {
				t.Fatalf("result text %q is not valid UTF-8", s)
			}
		}
	})
}
