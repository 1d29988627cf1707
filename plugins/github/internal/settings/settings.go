// Package settings reads the GitHub fields of a config (GitOpsConfig spec
// keys; the host maps the single-instance environment variables onto them)
// and says what is wrong with them.
package settings

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The spec fields this plugin reads.
const (
	// OrgURL is the API URL of the repositories' owner (GITHUB_ORG_URL).
	OrgURL = "gitHubOrgUrl"
	// ManifestsRepo is the repository the operator syncs, which gets the
	// commit statuses (GITHUB_GITOPS_MANIFEST_REPO_NAME).
	ManifestsRepo = "gitHubGitOpsManifestsRepoName"
	// GitOpsRepo is the repository whose GitHub Actions receive the
	// repository_dispatch event (GITHUB_GITOPS_REPO_NAME).
	GitOpsRepo = "gitHubGitOpsRepoName"
	// AppURL is the link of every commit status (GITOPS_APP_URL).
	AppURL = "gitOpsAppURL"
)

const orgURLExample = "https://api.github.com/repos/<owner>, or https://<host>/api/v3/repos/<owner> for GitHub Enterprise Server"

// Settings are the parsed GitHub fields of a config.
type Settings struct {
	// BaseURL is the REST API root with a trailing slash:
	// https://api.github.com/ or https://<host>/api/v3/.
	BaseURL *url.URL
	// Owner is the user or organization owning the repositories.
	Owner string
	// ManifestsRepo and GitOpsRepo are repository names of Owner; either
	// may be empty when the capability that needs it is not used.
	ManifestsRepo string
	GitOpsRepo    string
	// AppURL is the status link; empty for none.
	AppURL string
}

// ForRepository parses the fields the repository capability needs: the org
// URL and the manifests repository.
func ForRepository(cfg sdk.Config) (Settings, []sdk.FieldError) {
	return parse(cfg, ManifestsRepo)
}

// ForOrchestrator parses the fields the orchestrator capability needs: the
// org URL and the repository receiving the dispatch event.
func ForOrchestrator(cfg sdk.Config) (Settings, []sdk.FieldError) {
	return parse(cfg, GitOpsRepo)
}

func parse(cfg sdk.Config, required string) (Settings, []sdk.FieldError) {
	var s Settings
	var errs []sdk.FieldError
	base, owner, err := ParseOrgURL(cfg.Setting(OrgURL))
	if err != nil {
		errs = append(errs, sdk.FieldError{Field: OrgURL, Message: err.Error()})
	}
	s.BaseURL, s.Owner = base, owner
	for _, f := range []struct {
		key string
		dst *string
	}{{ManifestsRepo, &s.ManifestsRepo}, {GitOpsRepo, &s.GitOpsRepo}} {
		v := cfg.Setting(f.key)
		switch {
		case v == "" && f.key == required:
			errs = append(errs, sdk.FieldError{Field: f.key, Message: "is required: " + describe(f.key)})
		case v == "":
		default:
			if err := CheckRepoName(v); err != nil {
				errs = append(errs, sdk.FieldError{Field: f.key, Message: err.Error()})
				continue
			}
			*f.dst = v
		}
	}
	s.AppURL = cfg.Setting(AppURL)
	return s, errs
}

func describe(key string) string {
	if key == ManifestsRepo {
		return "the name of the manifests repository that gets the commit statuses, e.g. gitops-manifests"
	}
	return "the name of the repository whose GitHub Actions workflow waits for the sync-success repository_dispatch event, e.g. app-src"
}

var (
	orgPathRE = regexp.MustCompile(`^(/api/v3)?/repos/([^/]+)/?$`)
	ownerRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	repoRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// ParseOrgURL splits an org URL into the REST API root (with a trailing
// slash) and the owner. It accepts https://api.github.com/repos/<owner>,
// https://<host>/api/v3/repos/<owner> (GitHub Enterprise Server) and
// <scheme>://<host>/repos/<owner> for API hosts without a path prefix
// (GitHub Enterprise Cloud with data residency, test servers). Its errors
// never repeat a URL that carries credentials.
func ParseOrgURL(raw string) (*url.URL, string, error) {
	if raw == "" {
		return nil, "", fmt.Errorf("is required: the API URL of the repositories' owner, e.g. %s", orgURLExample)
	}
	u, err := url.Parse(raw)
	if u != nil && u.User != nil {
		return nil, "", fmt.Errorf("must not contain credentials: set the token with PAT or the GitOpsConfig's secretRef, and use an URL like %s", orgURLExample)
	}
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, "", fmt.Errorf("must be an http(s) URL like %s; got %s", orgURLExample, show(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, "", fmt.Errorf("must not have a query or fragment: use an URL like %s; got %s", orgURLExample, show(raw))
	}
	if strings.EqualFold(u.Hostname(), "github.com") || strings.EqualFold(u.Hostname(), "www.github.com") {
		return nil, "", fmt.Errorf("is the web address of GitHub; use the API address https://api.github.com/repos/<owner>; got %s", show(raw))
	}
	m := orgPathRE.FindStringSubmatch(u.EscapedPath())
	if m == nil {
		return nil, "", fmt.Errorf("must end in /repos/<owner> (only the owner, no repository): use %s; got %s", orgURLExample, show(raw))
	}
	owner, err := url.PathUnescape(m[2])
	if err != nil || !ownerRE.MatchString(owner) {
		return nil, "", fmt.Errorf("owner %q is not a GitHub user or organization name (letters, digits, '-', '.', '_'): use %s; got %s", m[2], orgURLExample, show(raw))
	}
	base := &url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: m[1] + "/"}
	return base, owner, nil
}

// show quotes a rejected URL for an error message, unless it may hold a
// credential (user info before an '@' that did not parse as such).
func show(raw string) string {
	if strings.Contains(raw, "@") {
		return "a value with '@' (not shown: it may hold a credential)"
	}
	return fmt.Sprintf("%q", raw)
}

// CheckRepoName reports whether name is a repository name (without its
// owner). Names go into request paths, so anything else is refused.
func CheckRepoName(name string) error {
	if strings.Contains(name, "/") {
		return fmt.Errorf("must be the repository name only, without its owner (the owner comes from %s); got %q", OrgURL, name)
	}
	if !repoRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("must be a GitHub repository name (letters, digits, '-', '.', '_'); got %q", name)
	}
	return nil
}

// ConfigError turns the field errors of a config into the permanent error a
// call reports when the host calls it with a config it should have refused.
func ConfigError(cfg sdk.Config, errs []sdk.FieldError) error {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	return sdk.Permanent(fmt.Errorf("config %q is not valid for GitHub: %s", cfg.Name, strings.Join(parts, "; ")))
}
