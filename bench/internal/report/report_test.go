package report

import (
	"errors"
	"strings"
	"testing"
)

var rows = []Row{
	{Figure: "intake p99, concurrency 8", Target: "< 5 ms", Measured: "3.10 ms", Verdict: Met},
	{Figure: "end-to-end p50", Target: "< 5 ms", Measured: "11.20 ms", Verdict: Missed},
	{Figure: "bare handler", Measured: "21000 req/s | keep-alive", Verdict: Info},
	{Figure: "start-to-ready", Target: "< 300 ms", Measured: "host exited", Verdict: Failed},
}

func TestTheTextTableAlignsColumnsAndSaysWhichTargetsAreMet(t *testing.T) {
	lines := strings.Split(strings.TrimRight(Text(rows), "\n"), "\n")
	if len(lines) != 2+len(rows) {
		t.Fatalf("%d lines:\n%s", len(lines), Text(rows))
	}
	col := strings.Index(lines[0], "target")
	for _, l := range lines[2:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("target column not aligned at %d: %q", col, l)
		}
	}
	for i, want := range []string{"yes", "NO", "—", "not measured"} {
		if !strings.HasSuffix(lines[2+i], want) {
			t.Errorf("line %q does not end with %q", lines[2+i], want)
		}
	}
}

func TestTheMarkdownTableEscapesPipesInCells(t *testing.T) {
	md := Markdown(rows)
	if !strings.Contains(md, `21000 req/s \| keep-alive`) {
		t.Errorf("pipe not escaped:\n%s", md)
	}
	if !strings.Contains(md, "| bare handler | — |") {
		t.Errorf("no dash for a figure without target:\n%s", md)
	}
	if n := strings.Count(md, "\n"); n != 2+len(rows) {
		t.Errorf("%d lines", n)
	}
}

func TestMissedRowsAreTheMissedAndTheUnmeasured(t *testing.T) {
	got := MissedRows(rows)
	if len(got) != 2 || got[0].Figure != "end-to-end p50" || got[1].Figure != "start-to-ready" {
		t.Errorf("missed %+v", got)
	}
}

func TestReplaceKeepsEverythingOutsideTheMarkers(t *testing.T) {
	doc := "# Performance\n\nWritten by hand.\n\n" + BeginMarker + "\nold figures\n" + EndMarker + "\n\n## Findings\n\nAlso by hand.\n"
	got, err := Replace(doc, "\nnew figures\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Performance\n\nWritten by hand.\n\n" + BeginMarker + "\n\nnew figures\n\n" + EndMarker + "\n\n## Findings\n\nAlso by hand.\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	again, err := Replace(got, "new figures")
	if err != nil || again != got {
		t.Errorf("replacing with the same section changed the document: %v\n%s", err, again)
	}
}

func TestReplaceRefusesADocumentWithoutOneGeneratedSection(t *testing.T) {
	tests := map[string]string{
		"no markers":   "# Performance\n",
		"only begin":   BeginMarker + "\n",
		"end first":    EndMarker + "\n" + BeginMarker + "\n",
		"two sections": BeginMarker + EndMarker + BeginMarker + EndMarker,
	}
	for name, doc := range tests {
		_, err := Replace(doc, "x")
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if name != "two sections" && !errors.Is(err, ErrNoMarkers) {
			t.Errorf("%s: %v, want ErrNoMarkers", name, err)
		}
	}
}
