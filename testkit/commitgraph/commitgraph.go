// Package commitgraph answers `git log base..head` over the commits a fake
// holds, so the fakes of testkit list commits between two commits as a git
// server does: the commits reachable from head and not from base, newest
// first.
package commitgraph

import (
	"cmp"
	"slices"
	"time"
)

// Node is one commit of a graph.
type Node struct {
	ID      string
	Parents []string
	// Date is the committer date; Seq breaks ties (the order the fake
	// learned the commits in).
	Date time.Time
	Seq  int
}

// Range returns the ids of the commits reachable from head and not from
// base, newest first by committer date (children before their parents when
// dates tie), as `git log base..head` lists them. lookup finds a commit by
// its id; parents it does not know end the walk there, as in a shallow
// clone.
func Range(lookup func(id string) (Node, bool), base, head string) []string {
	excluded := reachable(lookup, base)
	var out []Node
	seen := map[string]bool{}
	stack := []string{head}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] || excluded[id] {
			continue
		}
		seen[id] = true
		n, ok := lookup(id)
		if !ok {
			continue
		}
		out = append(out, n)
		stack = append(stack, n.Parents...)
	}
	slices.SortStableFunc(out, func(a, b Node) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	ids := make([]string, len(out))
	for i, n := range out {
		ids[i] = n.ID
	}
	return ids
}

// Reachable reports whether ancestor is head or one of its ancestors.
func Reachable(lookup func(id string) (Node, bool), ancestor, head string) bool {
	return reachable(lookup, head)[ancestor]
}

func reachable(lookup func(id string) (Node, bool), from string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		n, ok := lookup(id)
		if !ok {
			continue
		}
		seen[id] = true
		stack = append(stack, n.Parents...)
	}
	return seen
}
