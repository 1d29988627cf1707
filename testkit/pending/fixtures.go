package pending

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Fixtures parses the fixture files named by names (files of dir) with an
// operator plugin's op and returns those it handles as Events, sorted by
// name, for LeftPending. owner names the deployment a handled result
// reports (Event.Owner). A fixture that cannot be read fails the test; one
// op ignores or refuses is left out.
func Fixtures(t testing.TB, op sdk.Operator, dir string, names iter.Seq[string], owner func(sdk.ParseResult) string) []Event {
	t.Helper()
	var evs []Event
	for name := range names {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := op.ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if err != nil || !res.Handled {
			continue
		}
		e := Event{Name: name, Successful: res.Successful, Owner: owner(res)}
		for _, s := range res.Statuses {
			e.Statuses = append(e.Statuses, Status{Name: s.Name, Genre: s.Genre, Pending: s.State == sdk.StatePending})
		}
		evs = append(evs, e)
	}
	slices.SortFunc(evs, func(a, b Event) int { return strings.Compare(a.Name, b.Name) })
	return evs
}
