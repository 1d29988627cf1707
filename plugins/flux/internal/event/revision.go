package event

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Lengths of the hex digests Flux writes: a full git SHA-1 commit id, the
// only hash Flux writes into git revisions (fluxcd/pkg/git: Hash.Digest is
// "sha1:<40 hex>"), and a SHA-256 digest: the revision of a Bucket, or the
// digest part of an OCIRepository revision in Flux before 2.0.
const (
	sha1HexLen   = 40
	sha256HexLen = 64
)

// isHex reports whether id is n hex digits. Every event's revision is
// checked: a loop (sdk.ValidCommitID), not a regexp.
func isHex(id string, n int) bool { return len(id) == n && sdk.ValidCommitID(id) }

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
		case !isHex(id, sha1HexLen):
			return "", fmt.Errorf("revision %q does not end in a 40-digit hex git commit id", clip(revision))
		}
		return strings.ToLower(id), nil
	}
	id := revision[strings.LastIndex(revision, "/")+1:]
	switch {
	case isHex(id, sha256HexLen):
		return "", fmt.Errorf("revision %q ends in a sha256 digest of an OCI artifact or a bucket, not a git commit", clip(revision))
	case !isHex(id, sha1HexLen):
		return "", fmt.Errorf("revision %q names no git commit: want <ref>@sha1:<commit> or <ref>/<commit> with a 40-digit hex commit id", clip(revision))
	}
	return strings.ToLower(id), nil
}

// revisionKeys are the metadata keys that may name the commit of an event,
// in the order they are tried: the order of Event.GetRevision in
// fluxcd/pkg/apis/event, which notification-controller's commit-status
// providers use.
var revisionKeys = []string{MetaCommit, MetaOriginRevision, MetaRevision}

// metaKey is a metadata key tried for an event's commit, and where names
// it in a reason ("metadata revision").
type metaKey struct{ key, where string }

// keysOf lists the metadata keys tried for an event of kind, in order: for
// each of revisionKeys, the key as notification-controller v1.5 and later
// forward it (prefix stripped), under the kind's API group, then under
// event.toolkit.fluxcd.io (an annotation of the object) as earlier
// versions forward them. A key under another controller's group is not
// the kind's own and is never read. The lists are made once per kind.
func keysOf(kind string) []metaKey {
	if keys, ok := kindKeys[kind]; ok {
		return keys
	}
	return kindKeys[""]
}

// kindKeys are the keys of keysOf for each handled kind, and for any other
// under "".
var kindKeys = func() map[string][]metaKey {
	byKind := map[string][]metaKey{"": makeKeys("")}
	for kind, group := range kindGroups {
		byKind[kind] = makeKeys(group)
	}
	return byKind
}()

func makeKeys(group string) []metaKey {
	var keys []metaKey
	for _, k := range revisionKeys {
		names := []string{k}
		if group != "" {
			names = append(names, group+"/"+k)
		}
		for _, name := range append(names, GroupEvent+"/"+k) {
			keys = append(keys, metaKey{name, "metadata " + name})
		}
	}
	return keys
}

// Commit finds the git commit an event is about, as notification-controller
// decides it (Event.GetRevision), and names where it was found. It tries
// the metadata keys commit, originRevision and revision, each without and
// with its group prefix (see keysOf), and takes the first value that names
// a git commit (see CommitID): a value that names none (an OCI digest, a
// chart version) is passed over for the next key. Then, for the early
// forms of the events:
//
//   - GitRepository: the last '/'-segment of metadata message ("Fetched
//     revision: main/<sha>"), then of the event's message when it reads
//     "Fetched revision: …" (the source-controller of Flux 2's first
//     releases sent nothing else);
//   - OCIRepository: the "origin revision '<revision>'" source-controller
//     writes into the message of an artifact that has an
//     org.opencontainers.image.revision annotation.
//
// When nothing names a commit, commit is "" and why says what was found
// instead, one entry per value passed over; why is empty when the event
// carries no revision at all.
func Commit(ev Event) (commit, from string, why []string) {
	try := func(rev, where string) bool {
		if rev = strings.TrimSpace(rev); rev == "" {
			return false
		}
		id, err := CommitID(rev)
		if err != nil {
			why = append(why, where+": "+err.Error())
			return false
		}
		commit, from = id, where
		return true
	}
	for _, k := range keysOf(ev.Kind) {
		if try(ev.Metadata[k.key], k.where) {
			return commit, from, nil
		}
	}
	switch ev.Kind {
	case KindGitRepository:
		if m := strings.TrimSpace(ev.Metadata[MetaMessage]); m != "" && try(fetched(m), "metadata "+MetaMessage) {
			return commit, from, nil
		}
		if m := strings.TrimSpace(ev.Message); strings.HasPrefix(m, fetchedRevision) && try(fetched(m), "message") {
			return commit, from, nil
		}
	case KindOCIRepository:
		if m := originInMessage.FindStringSubmatch(ev.Message); m != nil && try(m[1], "message origin revision") {
			return commit, from, nil
		}
	}
	return "", "", why
}

// originInMessage finds the origin revision in the message of an
// OCIRepository event: "stored artifact with revision '<rev>' from '<url>',
// origin source '<url>', origin revision '<rev>'".
var originInMessage = regexp.MustCompile(`origin revision '([^']{1,300})'`)

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
