package event

import (
	"fmt"
	"regexp"
	"strings"
)

// sha1Hex is a full git SHA-1 commit id, the only hash Flux writes into git
// revisions (fluxcd/pkg/git: Hash.Digest is "sha1:<40 hex>").
var sha1Hex = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// sha256Hex is a SHA-256 digest: the revision of a Bucket, or the digest
// part of an OCIRepository revision in Flux before 2.0.
var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// digestAlgorithms are the algorithms of OCI and bucket digests
// (opencontainers/go-digest), which Flux writes for sources that are not
// git repositories.
var digestAlgorithms = map[string]bool{"sha256": true, "sha384": true, "sha512": true, "blake3": true}

// CommitID reduces a Flux revision to the git commit id it names, in lower
// case, or says why it names none.
//
// Flux ≥ 2.0 writes git revisions as "<ref>@sha1:<sha>" ("main@sha1:…",
// "v1.2.3@sha1:…", "sha1:…" for a detached commit); Flux before 2.0 as
// "<ref>/<sha>" ("main/…", "refs/heads/main/…"). As the old connector did,
// the commit id is the text after the last ':' when there is one, else the
// last '/'-segment. On top of that:
//
//   - with an algorithm, it must be sha1: sha256 (and the other digest
//     algorithms) mark an OCI artifact ("latest@sha256:…") or a bucket
//     ("sha256:…"), which a Kustomization may be built from but which is no
//     commit of a repository;
//   - the id must be a full 40-digit hex SHA-1, which is all Flux ever
//     writes. This rejects Helm chart versions ("6.5.0"), legacy OCI and
//     bucket digests (64 hex digits, no algorithm), and anything that would
//     change an API path when pasted into it
//     ("main@sha1:../../other-repo/commits/<sha>").
func CommitID(revision string) (string, error) {
	revision = strings.TrimSpace(revision)
	if revision == "" {
		return "", fmt.Errorf("the revision is empty")
	}
	if i := strings.LastIndex(revision, ":"); i >= 0 {
		prefix, id := revision[:i], revision[i+1:]
		algorithm := prefix[strings.LastIndex(prefix, "@")+1:]
		switch {
		case digestAlgorithms[strings.ToLower(algorithm)]:
			return "", fmt.Errorf("revision %q is a %s digest of an OCI artifact or a bucket, not a git commit", clip(revision), strings.ToLower(algorithm))
		case !strings.EqualFold(algorithm, "sha1"):
			return "", fmt.Errorf("revision %q is not of the form <ref>@sha1:<commit>", clip(revision))
		case !sha1Hex.MatchString(id):
			return "", fmt.Errorf("revision %q does not end in a 40-digit hex git commit id", clip(revision))
		}
		return strings.ToLower(id), nil
	}
	id := revision[strings.LastIndex(revision, "/")+1:]
	switch {
	case sha256Hex.MatchString(id):
		return "", fmt.Errorf("revision %q ends in a sha256 digest of an OCI artifact or a bucket, not a git commit", clip(revision))
	case !sha1Hex.MatchString(id):
		return "", fmt.Errorf("revision %q names no git commit: want <ref>@sha1:<commit> or <ref>/<commit> with a 40-digit hex commit id", clip(revision))
	}
	return strings.ToLower(id), nil
}

// revision finds the revision of an event, by the rules of its kind, and
// names where it was found. It returns "" when the event carries none.
//
//   - Kustomization: metadata revision, else
//     kustomize.toolkit.fluxcd.io/revision.
//   - GitRepository: metadata revision, else the last '/'-segment of
//     metadata message ("Fetched revision: main/<sha>"), else
//     source.toolkit.fluxcd.io/revision, else the last '/'-segment of the
//     event's message when it reads "Fetched revision: …" (the
//     source-controller of Flux 2's first releases sent nothing else).
func revision(ev Event) (rev, from string) {
	meta := func(key string) string { return strings.TrimSpace(ev.Metadata[key]) }
	if r := meta(MetaRevision); r != "" {
		return r, "metadata " + MetaRevision
	}
	switch ev.Kind {
	case KindKustomization:
		if r := meta(MetaKustomizeRevision); r != "" {
			return r, "metadata " + MetaKustomizeRevision
		}
	case KindGitRepository:
		if m := meta(MetaMessage); m != "" {
			return fetched(m), "metadata " + MetaMessage
		}
		if r := meta(MetaSourceRevision); r != "" {
			return r, "metadata " + MetaSourceRevision
		}
		if m := strings.TrimSpace(ev.Message); strings.HasPrefix(m, fetchedRevision) {
			return fetched(m), "message"
		}
	}
	return "", ""
}

// fetchedRevision starts the message of the GitRepository events of Flux 2's
// first releases: "Fetched revision: main/<sha>".
const fetchedRevision = "Fetched revision: "

// fetched returns the revision part of a "Fetched revision: main/<sha>"
// message: its last '/'-segment.
func fetched(message string) string {
	m := strings.TrimPrefix(strings.TrimSpace(message), fetchedRevision)
	return strings.TrimSpace(m[strings.LastIndex(m, "/")+1:])
}

// clip shortens a value taken from the body for a reason or a log line.
func clip(s string) string {
	const max = 100
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
