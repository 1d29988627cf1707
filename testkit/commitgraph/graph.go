package commitgraph

import (
	"strings"
	"time"
)

// Commit is a commit a fake holds: its node of the graph and its message.
type Commit struct {
	Node
	Message string
}

// Graph holds the commits of one repository of a fake by id. Ids are kept
// in lower case, as git ids are case-insensitive. It is not safe for
// concurrent use: a fake guards it with its lock.
type Graph struct {
	commits map[string]*Commit
	seq     int
}

// Set adds (or replaces) a commit with its message, committer date and
// parent ids. Seq counts the commits set, so commits of one date keep the
// order the fake learned them in.
func (g *Graph) Set(id, message string, date time.Time, parents ...string) {
	if g.commits == nil {
		g.commits = map[string]*Commit{}
	}
	g.seq++
	ps := make([]string, len(parents))
	for i, p := range parents {
		ps[i] = strings.ToLower(p)
	}
	id = strings.ToLower(id)
	g.commits[id] = &Commit{Node: Node{ID: id, Parents: ps, Date: date.UTC(), Seq: g.seq}, Message: message}
}

// Get returns the commit of a full id, nil when there is none.
func (g *Graph) Get(id string) *Commit { return g.commits[strings.ToLower(id)] }

// Resolve finds a commit by its full id or by a unique prefix of at least
// minPrefix characters, as git servers resolve abbreviated ids; nil when
// none or several match.
func (g *Graph) Resolve(ref string, minPrefix int) *Commit {
	ref = strings.ToLower(ref)
	if c, ok := g.commits[ref]; ok {
		return c
	}
	if len(ref) < minPrefix {
		return nil
	}
	var found *Commit
	for id, c := range g.commits {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

// Lookup finds the node of a full id: the lookup of Range, Reachable and
// MergeBase.
func (g *Graph) Lookup(id string) (Node, bool) {
	c, ok := g.commits[id]
	if !ok {
		return Node{}, false
	}
	return c.Node, true
}

// MergeBase returns the newest common ancestor of base and head, as git
// merge-base picks it: the newest commit of base's history that head
// reaches; "" when they have none.
func MergeBase(lookup func(id string) (Node, bool), base, head string) string {
	for _, id := range Range(lookup, "", base) {
		if Reachable(lookup, id, head) {
			return id
		}
	}
	return ""
}
