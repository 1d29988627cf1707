package fakeazdo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/commitgraph"
)

// versionDescriptor is a GitVersionDescriptor of a commits query.
type versionDescriptor struct {
	Version     string `json:"version"`
	VersionType string `json:"versionType"`
}

// commitsBatch answers POST …/commitsbatch for the criteria the fake
// serves: itemVersion (a commit) alone lists its history, with
// compareVersion (a commit) the commits of itemVersion that compareVersion
// does not reach (git log compare..item), newest first, paged by $top and
// $skip (query or body). As the service lists commits, each entry is a
// shallow reference: no parents (read the commit for them).
func (s *Server) commitsBatch(w http.ResponseWriter, r *http.Request, m *match, body []byte) {
	var in struct {
		ItemVersion    *versionDescriptor `json:"itemVersion"`
		CompareVersion *versionDescriptor `json:"compareVersion"`
		Top            *int               `json:"$top"`
		Skip           *int               `json:"$skip"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "the search criteria are not valid JSON")
		return
	}
	if in.ItemVersion == nil {
		writeError(w, http.StatusNotImplemented, "the fake lists commits by itemVersion only")
		return
	}
	q := r.URL.Query()
	top, skip := atoiOr(q.Get("$top"), 100), atoiOr(q.Get("$skip"), 0)
	if in.Top != nil && !q.Has("$top") {
		top = *in.Top
	}
	if in.Skip != nil && !q.Has("$skip") {
		skip = *in.Skip
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.repoOf(w, m)
	if !ok {
		return
	}
	resolve := func(v *versionDescriptor) (string, bool) {
		if v.VersionType != "" && v.VersionType != "commit" {
			writeError(w, http.StatusNotImplemented, "the fake resolves commit versions only")
			return "", false
		}
		c, ok := repo.commits[strings.ToLower(v.Version)]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("TF401175: The version descriptor <Commit: %s> could not be resolved to a version in the repository %s", v.Version, repo.name))
			return "", false
		}
		return strings.ToLower(c.ID), true
	}
	head, ok := resolve(in.ItemVersion)
	if !ok {
		return
	}
	base := ""
	if in.CompareVersion != nil {
		if base, ok = resolve(in.CompareVersion); !ok {
			return
		}
	}
	lookup := func(id string) (commitgraph.Node, bool) {
		c, ok := repo.commits[id]
		if !ok {
			return commitgraph.Node{}, false
		}
		parents := make([]string, len(c.Parents))
		for i, p := range c.Parents {
			parents[i] = strings.ToLower(p)
		}
		return commitgraph.Node{ID: id, Parents: parents, Date: c.Date, Seq: c.seq}, true
	}
	ids := commitgraph.Range(lookup, base, head)
	lo := min(len(ids), max(skip, 0))
	hi := min(len(ids), lo+max(top, 0))
	out := make([]map[string]any, 0, hi-lo)
	for _, id := range ids[lo:hi] {
		c := repo.commits[id]
		who := map[string]any{"name": "Build Service", "email": "build@example.com", "date": c.Date.UTC().Format(time.RFC3339Nano)}
		out = append(out, map[string]any{
			"commitId":     c.ID,
			"comment":      c.Comment,
			"author":       who,
			"committer":    who,
			"changeCounts": map[string]int{"Edit": 1},
			"url":          s.CollectionURI() + s.opts.ProjectID + "/_apis/git/repositories/" + repo.id + "/commits/" + c.ID,
		})
	}
	writeJSON(w, http.StatusOK, collection(out))
}
