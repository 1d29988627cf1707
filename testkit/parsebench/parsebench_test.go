package parsebench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

func TestReadKeepsTheFixturesOrder(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a.json": `{"a":1}`, "b.json": `{"b":2}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := Read(t, dir, Fixture{"second", "b.json"}, Fixture{"first", "a.json"})
	if len(got) != 2 || got[0].Name != "second" || string(got[0].Data) != `{"b":2}` || got[1].Name != "first" || string(got[1].Data) != `{"a":1}` {
		t.Errorf("Read = %+v", got)
	}
}

// byBody answers ParseEvent by the body: handled, ignored or refused.
type byBody struct{ seen *[]string }

func (o byBody) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	*o.seen = append(*o.seen, string(req.Body))
	switch string(req.Body) {
	case "refused":
		return sdk.ParseResult{}, errors.New("not an event")
	case "ignored":
		return sdk.Ignored("not ours"), nil
	}
	return sdk.ParseResult{Handled: true}, nil
}

func (byBody) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) { return nil, nil }

func TestParseFailsOnABodyTheOperatorRefusesOrIgnores(t *testing.T) {
	var seen []string
	do := parse(byBody{&seen})
	if err := do([]byte("event")); err != nil {
		t.Errorf("a handled body: %v", err)
	}
	if err := do([]byte("ignored")); err == nil || err.Error() != "ignored: not ours" {
		t.Errorf("an ignored body: %v, want the reason", err)
	}
	if err := do([]byte("refused")); err == nil {
		t.Error("a refused body passed")
	}
	if !slices.Equal(seen, []string{"event", "ignored", "refused"}) {
		t.Errorf("the operator saw %q", seen)
	}
}
