package sdk

import (
	"net/url"
	"strings"
)

// ValidCommitID reports whether id is a hex git commit id: 7 to 64 hex
// digits. Only such ids reach a plugin's code: the SDK refuses every request
// whose commit id is not (see CheckCommitID), so a plugin may put them in a
// URL as they are.
//
// Abbreviated ids (7 digits at least), SHA-1 (40) and SHA-256 (64) ids
// pass. It runs for every call and every notification, so it is a loop,
// not a regexp.
func ValidCommitID(id string) bool {
	if len(id) < 7 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// CheckCommitID returns nil when id is a valid commit id, else an
// InvalidInput error that names the field and echoes at most 100
// characters of the id.
func CheckCommitID(field, id string) error {
	if ValidCommitID(id) {
		return nil
	}
	return InvalidInputf("%s %q is not a hex commit id (7 to 64 hex digits)", field, clip(id, 100))
}

// checkCommitIDs checks the commit ids of one request: pairs of field name
// and value. The SDK's servers call it before any plugin code sees the
// request.
func checkCommitIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := CheckCommitID(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// PathSegment escapes s as one segment of a URL path: "/", "?", "#", "%"
// and every other reserved character are percent-encoded, so s cannot add
// segments, a query or a fragment. It refuses (InvalidInput) "", "." and
// "..", which a server or a proxy would resolve to another resource, and
// any control character.
func PathSegment(s string) (string, error) {
	switch {
	case s == "" || s == "." || s == "..":
		return "", InvalidInputf("%q cannot be a URL path segment", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", InvalidInputf("%q contains a control character", clip(s, 100))
	}
	return url.PathEscape(s), nil
}

// JoinPath returns base (an absolute http or https URL, as a config gives it)
// with the segments appended to its path, each escaped by PathSegment:
//
//	u, err := sdk.JoinPath(cfg.Setting("apiUrl"), "repos", owner, repo, "statuses", req.CommitID)
//
// Unlike url.JoinPath it resolves nothing: a segment ".." is an error, not a
// step up. The base's user info, query and fragment are dropped.
func JoinPath(base string, segments ...string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", InvalidInputf("%q is not an absolute http(s) URL", clip(base, 200))
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(u.EscapedPath(), "/"))
	for _, s := range segments {
		esc, err := PathSegment(s)
		if err != nil {
			return "", err
		}
		b.WriteString("/" + esc)
	}
	return u.Scheme + "://" + u.Host + b.String(), nil
}

// clip shortens a value echoed in an error to n characters.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
