package event

import (
	"regexp"
	"strings"
	"testing"
)

func TestCommitIDReducesGitRevisions(t *testing.T) {
	const sha = "40d6b21b888db0ca794876cf7bdd399e3da2137e"
	cases := map[string]string{
		"main@sha1:" + sha:                  sha, // Flux ≥ 2.0, branch
		"sha1:" + sha:                       sha, // Flux ≥ 2.0, a commit checked out by id
		"main/" + sha:                       sha, // Flux < 2.0
		"refs/heads/main@sha1:" + sha:       sha, // a ref Flux does not shorten
		"v1.2.3@sha1:" + sha:                sha, // tag
		"v1.2.3/" + sha:                     sha, // tag, Flux < 2.0
		"feature/login@sha1:" + sha:         sha, // branch with a '/'
		"refs/pull/42/head@sha1:" + sha:     sha,
		sha:                                 sha, // a bare commit id
		"main@SHA1:" + strings.ToUpper(sha): sha, // ids are case-insensitive and reported in lower case
		"  main@sha1:" + sha + "\n":         sha,
	}
	for revision, want := range cases {
		got, err := CommitID(revision)
		if err != nil || got != want {
			t.Errorf("CommitID(%q) = %q, %v; want %q", revision, got, err, want)
		}
	}
}

func TestCommitIDRejectsWhatIsNoGitCommit(t *testing.T) {
	const (
		sha    = "40d6b21b888db0ca794876cf7bdd399e3da2137e"
		digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	)
	cases := map[string]string{
		"": "empty",
		"main@sha1:../../other-repo/commits/" + sha: "does not end in a 40-digit hex git commit id",
		"main@sha1:" + sha + "/../../x":             "does not end in a 40-digit hex git commit id",
		"main@sha1:" + sha[:7]:                      "does not end in a 40-digit hex git commit id",
		"main@sha1:" + sha + "0":                    "does not end in a 40-digit hex git commit id",
		"main@sha1:" + sha[:39] + "g":               "does not end in a 40-digit hex git commit id",
		"main@sha1:":                                "does not end in a 40-digit hex git commit id",
		"latest@sha256:" + digest:                   "sha256 digest of an OCI artifact or a bucket",
		"sha256:" + digest:                          "sha256 digest of an OCI artifact or a bucket",
		"6.5.0@sha256:" + digest:                    "sha256 digest",
		"v1@blake3:" + digest:                       "blake3 digest",
		"latest/" + digest:                          "ends in a sha256 digest",
		digest:                                      "ends in a sha256 digest",
		"6.5.0":                                     "names no git commit",
		"main":                                      "names no git commit",
		"main/" + sha + "/":                         "names no git commit",
		"main@md5:" + sha:                           "is not of the form <ref>@sha1:<commit>",
		"main@sha1:x:" + sha:                        "is not of the form <ref>@sha1:<commit>",
	}
	for revision, want := range cases {
		got, err := CommitID(revision)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CommitID(%q) = %q, %v; want an error saying %q", revision, got, err, want)
		}
	}
}

func TestCommitIDClipsLongRevisionsInItsError(t *testing.T) {
	_, err := CommitID(strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("CommitID(10000 x) = %v, want a short error", err)
	}
}

func TestIsHexMatchesTheRegexpsItReplaced(t *testing.T) {
	sha1, sha256 := regexp.MustCompile(`^[0-9a-fA-F]{40}$`), regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hex := "40d6b21b888db0ca794876cf7bdd399e3da2137e"
	for _, id := range []string{
		"", hex, strings.ToUpper(hex), hex[:39], hex + "0", hex[:39] + "g", hex[:39] + "\n", "\n" + hex[:39], hex[:38] + "é",
		hex[:39] + "٣", hex + hex[:24], strings.ToUpper(hex + hex[:24]), hex + hex[:23] + "G", hex + hex[:24] + "\n",
	} {
		if got, want := isHex(id, sha1HexLen), sha1.MatchString(id); got != want {
			t.Errorf("isHex(%q, 40) = %v, want %v", id, got, want)
		}
		if got, want := isHex(id, sha256HexLen), sha256.MatchString(id); got != want {
			t.Errorf("isHex(%q, 64) = %v, want %v", id, got, want)
		}
	}
}
