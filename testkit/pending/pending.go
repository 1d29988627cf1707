// Package pending checks, for the operator plugins' tests, that no commit
// status context is left pending once a deployment finished successfully:
// a pending context holds the commit's combined state pending for good,
// since no later event of a finished deployment resolves it.
//
// It replays every sequence of an operator's events that ends in a
// successful deployment, keeps the last state posted per context, and
// reports the contexts still pending at the end. Contexts are keyed as the
// repositories key them: GitHub by the status name, Azure DevOps by the
// name and the genre.
package pending

import (
	"fmt"
	"strings"
)

// Status is one status an event posts.
type Status struct {
	Name, Genre string
	Pending     bool
}

// Event is one handled event of the operator.
type Event struct {
	// Name identifies the event in reports (its fixture file).
	Name     string
	Statuses []Status
	// Successful is true when the event finishes the deployment
	// successfully.
	Successful bool
	// Owner is the object whose deployment the event reports (a Flux
	// Kustomization or HelmRelease, an Argo CD Application); "" for an
	// event of a source the deployment is built from, which may come
	// before the success of any owner.
	Owner string
}

// keyings are the ways repositories tell contexts apart.
var keyings = []struct {
	name string
	key  func(Status) string
}{
	{"GitHub", func(s Status) string { return s.Name }},
	{"Azure DevOps", func(s Status) string { return s.Name + " (" + s.Genre + ")" }},
}

// LeftPending replays every sequence of up to depth events followed by one
// successful event, made of the events of that event's owner and of the
// sources, and returns one line per sequence that leaves a context
// pending (at most 20): the sequence, the repository and the contexts.
func LeftPending(events []Event, depth int) []string {
	var out []string
	for _, last := range events {
		if !last.Successful {
			continue
		}
		var before []Event
		for _, e := range events {
			if e.Owner == "" || e.Owner == last.Owner {
				before = append(before, e)
			}
		}
		walk(before, depth, nil, func(seq []Event) bool {
			seq = append(seq[:len(seq):len(seq)], last)
			for _, k := range keyings {
				if left := pendingAfter(seq, k.key); len(left) > 0 {
					out = append(out, fmt.Sprintf("%s, on %s: %s still pending", names(seq), k.name, strings.Join(left, ", ")))
					if len(out) >= 20 {
						return false
					}
				}
			}
			return true
		})
		if len(out) >= 20 {
			break
		}
	}
	return out
}

// walk calls visit with every sequence of up to depth events of from
// (repeats allowed), the empty one first, until visit returns false.
func walk(from []Event, depth int, seq []Event, visit func([]Event) bool) bool {
	if !visit(seq) {
		return false
	}
	if len(seq) == depth {
		return true
	}
	for _, e := range from {
		if !walk(from, depth, append(seq[:len(seq):len(seq)], e), visit) {
			return false
		}
	}
	return true
}

// pendingAfter posts the statuses of seq in order and returns the contexts
// whose last state is pending.
func pendingAfter(seq []Event, key func(Status) string) []string {
	last := map[string]bool{}
	var order []string
	for _, e := range seq {
		for _, s := range e.Statuses {
			k := key(s)
			if _, seen := last[k]; !seen {
				order = append(order, k)
			}
			last[k] = s.Pending
		}
	}
	var left []string
	for _, k := range order {
		if last[k] {
			left = append(left, k)
		}
	}
	return left
}

func names(seq []Event) string {
	n := make([]string, len(seq))
	for i, e := range seq {
		n[i] = e.Name
	}
	return strings.Join(n, " → ")
}
