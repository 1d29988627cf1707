package parsebench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

func TestStatCPUAddsUserAndSystemTicks(t *testing.T) {
	// A command with spaces and a parenthesis, utime 250 and stime 75 ticks.
	line := []byte("4242 (my (odd) plugin) S 1 4242 4242 0 -1 4194560 1180 0 0 0 250 75 0 0 20 0 9 0 123 1000 200 18446744073709551615\n")
	got, err := statCPU(line)
	if err != nil || got != 3250*time.Millisecond {
		t.Errorf("statCPU = %v, %v; want 3.25s", got, err)
	}
	if _, err := statCPU([]byte("4242 (short) S 1 2 3")); err == nil {
		t.Error("statCPU of a short line: no error")
	}
	if _, err := statCPU([]byte("4242 (x) S 1 4242 4242 0 -1 4194560 1180 0 0 0 many 75 0")); err == nil {
		t.Error("statCPU of a line with a word for utime: no error")
	}
}
