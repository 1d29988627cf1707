package commitgraph

import (
	"slices"
	"testing"
	"time"
)

func TestGraphResolvesIdsAndPrefixesCaseInsensitively(t *testing.T) {
	var g Graph
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	g.Set("ABCDEF01", "first", t0)
	g.Set("abcdef02", "second", t0, "AbCdEf01")
	g.Set("12345678", "third", t0.Add(time.Minute), "abcdef02")

	c := g.Get("ABCDEF02")
	if c == nil || c.ID != "abcdef02" || c.Message != "second" || !slices.Equal(c.Parents, []string{"abcdef01"}) || c.Seq != 2 || c.Date.Location() != time.UTC || !c.Date.Equal(t0) {
		t.Fatalf("Get = %+v", c)
	}
	for ref, want := range map[string]string{
		"abcdef01": "abcdef01", // full id
		"1234":     "12345678", // unique prefix
		"123":      "",         // shorter than the minimum
		"abcdef":   "",         // ambiguous
		"ffff":     "",         // unknown
	} {
		got := ""
		if c := g.Resolve(ref, 4); c != nil {
			got = c.ID
		}
		if got != want {
			t.Errorf("Resolve(%q) = %q, want %q", ref, got, want)
		}
	}
	if n, ok := g.Lookup("12345678"); !ok || n.ID != "12345678" || !slices.Equal(n.Parents, []string{"abcdef02"}) {
		t.Errorf("Lookup = %+v, %v", n, ok)
	}
	if _, ok := g.Lookup("1234"); ok {
		t.Error("Lookup took a prefix")
	}
	g.Set("abcdef01", "replaced", t0)
	if c := g.Get("abcdef01"); c.Message != "replaced" || c.Seq != 4 {
		t.Errorf("after replacing: %+v", c)
	}
}

func TestMergeBaseIsTheNewestCommonAncestor(t *testing.T) {
	var g Graph
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// a ← b ← c (main); b ← f ← g (feature); x is unrelated.
	g.Set("a", "", at(0))
	g.Set("b", "", at(1), "a")
	g.Set("c", "", at(2), "b")
	g.Set("f", "", at(3), "b")
	g.Set("g", "", at(4), "f")
	g.Set("x", "", at(5))
	for _, tc := range []struct{ base, head, want string }{
		{"c", "g", "b"},
		{"g", "c", "b"},
		{"b", "g", "b"},
		{"g", "b", "b"},
		{"c", "x", ""},
	} {
		if got := MergeBase(g.Lookup, tc.base, tc.head); got != tc.want {
			t.Errorf("MergeBase(%s, %s) = %q, want %q", tc.base, tc.head, got, tc.want)
		}
	}
}
