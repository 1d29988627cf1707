package settings

import (
	"fmt"
	"strings"
	"testing"
)

func FuzzParseOrgURL(f *testing.F) {
	for _, seed := range []string{
		"https://api.github.com/repos/kaizentm",
		"https://ghe.example.com/api/v3/repos/platform/",
		"https://user:ghp_x@api.github.com/repos/a",
		"https://api.github.com/repos/a/b",
		"http://[::1]:8080/repos/a",
		"https://api.github.com/repos/%2e%2e",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		base, owner, err := ParseOrgURL(raw)
		if err != nil {
			if strings.Contains(raw, "@") && strings.Contains(err.Error(), fmt.Sprintf("%q", raw)) {
				t.Errorf("error repeats a value that may hold a credential: %v", err)
			}
			return
		}
		if !ownerRE.MatchString(owner) {
			t.Errorf("owner %q accepted from %q", owner, raw)
		}
		if p := base.Path; p != "/" && p != "/api/v3/" {
			t.Errorf("base path %q from %q", p, raw)
		}
		if base.User != nil || base.RawQuery != "" {
			t.Errorf("base %q keeps user info or a query", base)
		}
	})
}
