package commitgraph

import (
	"slices"
	"testing"
	"time"
)

func TestRangeListsWhatHeadReachesAndBaseDoesNotNewestFirst(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// a ← b ← c ← m (merge of c and f) ← d ; f branches from b; x is a
	// rewritten history from a.
	g := map[string]Node{}
	add := func(id string, minute int, parents ...string) {
		g[id] = Node{ID: id, Parents: parents, Date: t0.Add(time.Duration(minute) * time.Minute), Seq: len(g)}
	}
	add("a", 0)
	add("b", 1, "a")
	add("f", 2, "b")
	add("c", 3, "b")
	add("m", 4, "c", "f")
	add("d", 5, "m")
	add("x", 6, "a")
	lookup := func(id string) (Node, bool) { n, ok := g[id]; return n, ok }
	for _, tc := range []struct {
		base, head string
		want       []string
	}{
		{"b", "d", []string{"d", "m", "c", "f"}},
		{"d", "d", nil},
		{"d", "b", nil}, // head is an ancestor of base
		{"d", "x", []string{"x"}},
		{"unknown", "c", []string{"c", "b", "a"}},
	} {
		if got := Range(lookup, tc.base, tc.head); !slices.Equal(got, tc.want) {
			t.Errorf("Range(%s..%s) = %v, want %v", tc.base, tc.head, got, tc.want)
		}
	}
	if !Reachable(lookup, "b", "d") || Reachable(lookup, "d", "x") {
		t.Error("Reachable is wrong")
	}
}
