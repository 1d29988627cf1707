package event

import (
	"regexp"
	"strconv"
	"strings"
)

// maxDetailStatuses bounds the progress groups and the failed resources one
// event produces, so that a huge message cannot flood the repository with
// statuses. Real change sets have a few kinds, and health checks a few
// dozen resources at most.
const maxDetailStatuses = 50

// Group is the summary of the change-set lines of one kind.
type Group struct {
	// Kind is the part of the line's resource before the first '/':
	// "Deployment" (Flux ≥ 2: Deployment/default/podinfo) or
	// "deployment.apps" (kubectl: deployment.apps/podinfo).
	Kind string
	// Summary counts the actions in the order they first appear:
	// "2 configured, 1 created".
	Summary string
}

// Progress is the parsed message of a Kustomization's Progressing event.
type Progress struct {
	// Groups are in the order their kinds first appear.
	Groups []Group
	// Warnings counts the lines starting with "Warning".
	Warnings int
	// Parsed is false when a line is neither a change-set line
	// ("<kind>/<name> <action>") nor a warning; Groups and Warnings are then
	// empty.
	Parsed bool
}

// ParseProgress reads the change set a Kustomization's Progressing event
// carries: one "<kind>/<name> <action>" line per applied object, kubectl
// style; Flux ≥ 2 writes "Kind/namespace/name action". Blank lines are
// skipped and lines starting with "Warning" counted.
func ParseProgress(message string) Progress {
	type group struct {
		kind    string
		actions []string
		counts  map[string]int
	}
	var (
		groups   []*group
		byKind   = map[string]*group{}
		warnings int
	)
	for line := range strings.SplitSeq(message, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "Warning"):
			warnings++
			continue
		}
		fields, n := [2]string{}, 0
		for f := range strings.FieldsSeq(line) {
			if n == len(fields) {
				return Progress{}
			}
			fields[n], n = f, n+1
		}
		if n != len(fields) {
			return Progress{}
		}
		kind, name, found := strings.Cut(fields[0], "/")
		if !found || kind == "" || name == "" {
			return Progress{}
		}
		g := byKind[kind]
		if g == nil {
			g = &group{kind: kind, counts: map[string]int{}}
			byKind[kind] = g
			groups = append(groups, g)
		}
		action := fields[1]
		if g.counts[action] == 0 {
			g.actions = append(g.actions, action)
		}
		g.counts[action]++
	}
	p := Progress{Warnings: warnings, Parsed: true}
	for _, g := range groups {
		parts := make([]string, len(g.actions))
		for i, a := range g.actions {
			parts[i] = strconv.Itoa(g.counts[a]) + " " + a
		}
		p.Groups = append(p.Groups, Group{Kind: g.kind, Summary: strings.Join(parts, ", ")})
	}
	return p
}

// FailedResource is one resource listed in a HealthCheckFailed message.
type FailedResource struct {
	// Ref is the resource as listed: "Deployment/default/podinfo".
	Ref string
	// Status is the kstatus the resource had, "" when not listed:
	// "InProgress", "Failed".
	Status string
}

// resourceRef finds "Kind/namespace/name" or "Kind/name" references (kinds
// start upper case), with the "status: '…'" that follows them in Flux's
// health check messages.
var resourceRef = regexp.MustCompile(`\b([A-Z][A-Za-z0-9]*/[^\s,\[\]'"]+)(?:\s+status:\s*'([^']*)')?`)

// ParseHealthCheck lists the resources a HealthCheckFailed message names.
// Flux writes them comma-separated between brackets, e.g. "health check
// failed after 30s: timeout waiting for: [Deployment/default/podinfo
// status: 'InProgress', StatefulSet/default/redis status: 'Failed']". The
// list runs from the first '[' to the last ']'; an entry that holds no
// Kind/name reference is taken whole. Without brackets, the references are
// looked for in the whole message. Each resource is listed once.
func ParseHealthCheck(message string) []FailedResource {
	var entries []string
	start := strings.Index(message, "[")
	end := strings.LastIndex(message, "]")
	bracketed := start >= 0 && end > start
	if bracketed {
		entries = strings.Split(message[start+1:end], ",")
	} else {
		entries = []string{message}
	}
	var (
		out  []FailedResource
		seen = map[string]bool{}
	)
	add := func(r FailedResource) {
		r.Ref = strings.TrimRight(r.Ref, ".:;")
		if r.Ref != "" && !seen[r.Ref] {
			seen[r.Ref] = true
			out = append(out, r)
		}
	}
	for _, entry := range entries {
		matches := resourceRef.FindAllStringSubmatch(entry, -1)
		if len(matches) == 0 && bracketed {
			add(FailedResource{Ref: strings.TrimSpace(entry)})
		}
		for _, m := range matches {
			add(FailedResource{Ref: m[1], Status: m[2]})
		}
	}
	return out
}
