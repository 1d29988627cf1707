package pending

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// parseByBody is an operator whose result is chosen by the body.
type parseByBody map[string]sdk.ParseResult

func (p parseByBody) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	if string(req.Body) == "refused" {
		return sdk.ParseResult{}, errors.New("not JSON")
	}
	return p[string(req.Body)], nil
}

func (parseByBody) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

func TestFixturesKeepsTheHandledEventsSortedByName(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"b-done.json": "done", "a-progress.json": "progress", "c-ignored.json": "ignored", "d-refused.json": "refused"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	op := parseByBody{
		"progress": {Handled: true, Statuses: []sdk.Status{{Name: "Status", Genre: "Kustomization", State: sdk.StatePending}, {Name: "Health", Genre: "Kustomization", State: sdk.StateSucceeded}}},
		"done":     {Handled: true, Successful: true, Statuses: []sdk.Status{{Name: "Status", Genre: "Kustomization", State: sdk.StateSucceeded}}},
		"ignored":  {Reason: "not ours"},
	}
	evs := Fixtures(t, op, dir, maps.Keys(files), func(res sdk.ParseResult) string { return "ks/" + res.Statuses[0].Genre })
	want := []Event{
		{Name: "a-progress.json", Owner: "ks/Kustomization", Statuses: []Status{{Name: "Status", Genre: "Kustomization", Pending: true}, {Name: "Health", Genre: "Kustomization"}}},
		{Name: "b-done.json", Owner: "ks/Kustomization", Successful: true, Statuses: []Status{{Name: "Status", Genre: "Kustomization"}}},
	}
	if !slices.EqualFunc(evs, want, func(a, b Event) bool {
		return a.Name == b.Name && a.Owner == b.Owner && a.Successful == b.Successful && slices.Equal(a.Statuses, b.Statuses)
	}) {
		t.Errorf("Fixtures = %+v, want %+v", evs, want)
	}
}
