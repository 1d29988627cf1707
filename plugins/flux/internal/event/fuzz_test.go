package event

import (
	"context"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
)

var lowerSHA1 = regexp.MustCompile(`^[0-9a-f]{40}$`)

// FuzzParse checks that no body makes ParseEvent panic, and that every
// result keeps the contract: an error is invalid input, an ignored event
// has a reason, a handled one a lower-case git commit id and well-formed
// statuses, and the same body always gives the same result.
//
// Run it with: go test -fuzz=FuzzParse -fuzztime=30s ./internal/event
func FuzzParse(f *testing.F) {
	plugintest.Seed(f, filepath.Join(testdata, "*.json"))
	op := New(nil)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: body})
		if err != nil {
			if k := sdk.KindOf(err); k != sdk.KindInvalidInput {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		again, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: body})
		if err != nil || !reflect.DeepEqual(res, again) {
			t.Fatalf("second parse gave %+v, %v; first %+v", again, err, res)
		}
		if !res.Handled {
			if res.Reason == "" || len(res.Statuses) > 0 || res.Finished {
				t.Fatalf("ignored result %+v: want a reason and nothing else", res)
			}
			return
		}
		if !lowerSHA1.MatchString(res.CommitID) {
			t.Fatalf("commit id %q is not a lower-case git SHA-1", res.CommitID)
		}
		if res.Successful && !res.Finished {
			t.Fatal("successful but not finished")
		}
		if len(res.Statuses) == 0 {
			t.Fatal("handled without statuses")
		}
		if first := res.Statuses[0]; first.Name != StatusStatus && (first.Genre != KindHelmRelease || !strings.HasPrefix(first.Name, KindHelmRelease)) {
			t.Fatalf("statuses %+v start with neither %s nor the release", res.Statuses, StatusStatus)
		}
		if len(res.Statuses) > maxDetailStatuses+3 {
			t.Fatalf("%d statuses", len(res.Statuses))
		}
		for _, s := range res.Statuses {
			if s.Name == "" || s.State == sdk.StateUnspecified || s.Operator != Operator || s.Genre != res.Statuses[0].Genre || s.Genre == "" {
				t.Fatalf("malformed status %+v", s)
			}
		}
	})
}
