// Package settings reads the Gitea fields of a config (GitOpsConfig spec
// keys; the host maps the single-instance environment variables onto them)
// and says what is wrong with them. Forgejo uses the same fields.
package settings

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The spec fields this plugin reads.
const (
	// URL is the server's address, e.g. https://gitea.example.com
	// (GITEA_URL). The API is under /api/v1 of it.
	URL = "giteaUrl"
	// Owner is the user or organization owning the repositories
	// (GITEA_OWNER).
	Owner = "giteaOwner"
	// ManifestsRepo is the repository the operator syncs, which gets the
	// commit statuses (GITEA_GITOPS_MANIFEST_REPO_NAME).
	ManifestsRepo = "giteaGitOpsManifestsRepoName"
	// AppRepo is the repository whose Actions workflow waits for the
	// deployment (GITEA_GITOPS_APP_REPO_NAME).
	AppRepo = "giteaGitOpsAppRepoName"
	// Workflow is the file name of that workflow in .gitea/workflows (or
	// .forgejo/workflows, .github/workflows), e.g. sync-success.yaml
	// (GITEA_WORKFLOW).
	Workflow = "giteaWorkflow"
	// WorkflowRef is the branch or tag the workflow runs on; default
	// DefaultWorkflowRef (GITEA_WORKFLOW_REF).
	WorkflowRef = "giteaWorkflowRef"
	// AppURL is the link of every commit status (GITOPS_APP_URL).
	AppURL = "gitOpsAppURL"
	// CredentialField names the config's credential in the field error of
	// a credential that is not a token: the config's secretRef, or the
	// integration's own repositorySecretRef or orchestratorSecretRef.
	CredentialField = "secretRef"
)

// DefaultWorkflowRef is the branch a workflow is dispatched on when the
// config names none.
const DefaultWorkflowRef = "main"

// Settings are the parsed Gitea fields of a config.
type Settings struct {
	// API is the REST API root, e.g. https://gitea.example.com/api/v1,
	// without a trailing slash.
	API *url.URL
	// Owner owns ManifestsRepo and AppRepo; either repository may be empty
	// when the capability that needs it is not used.
	Owner, ManifestsRepo, AppRepo string
	// Workflow and WorkflowRef say which workflow a successful deployment
	// dispatches, on which ref.
	Workflow, WorkflowRef string
	// AppURL is the status link; empty for none.
	AppURL string
}

// ForRepository parses the fields the repository capability needs: the
// URL, the owner and the manifests repository.
func ForRepository(cfg sdk.Config) (Settings, []sdk.FieldError) {
	return parse(cfg, ManifestsRepo)
}

// ForOrchestrator parses the fields the orchestrator capability needs: the
// URL, the owner, the app repository and its workflow.
func ForOrchestrator(cfg sdk.Config) (Settings, []sdk.FieldError) {
	return parse(cfg, AppRepo, Workflow)
}

var (
	// Gitea's own rules for user and repository names, loosely: letters,
	// digits, '-', '_', '.'.
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	workflowRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}\.ya?ml$`)
)

var hints = map[string]string{
	Owner:         "the user or organization owning the repositories, e.g. platform",
	ManifestsRepo: "the name of the manifests repository that gets the commit statuses, e.g. gitops-manifests",
	AppRepo:       "the name of the repository whose Actions workflow waits for the deployment, e.g. app-src",
	Workflow:      "the file name of the workflow to dispatch, e.g. sync-success.yaml",
}

func parse(cfg sdk.Config, required ...string) (Settings, []sdk.FieldError) {
	var s Settings
	var errs []sdk.FieldError
	fail := func(field, format string, args ...any) {
		errs = append(errs, sdk.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	api, err := ParseURL(cfg.Setting(URL))
	if err != nil {
		fail(URL, "%v", err)
	}
	s.API = api
	for _, f := range []struct {
		key   string
		dst   *string
		check func(string) error
	}{
		{Owner, &s.Owner, CheckName},
		{ManifestsRepo, &s.ManifestsRepo, CheckName},
		{AppRepo, &s.AppRepo, CheckName},
		{Workflow, &s.Workflow, checkWorkflow},
	} {
		v := cfg.Setting(f.key)
		switch {
		case v == "" && (f.key == Owner || slices.Contains(required, f.key)):
			fail(f.key, "is required: %s", hints[f.key])
		case v == "":
		case f.check(v) != nil:
			fail(f.key, "%v", f.check(v))
		default:
			*f.dst = v
		}
	}
	s.WorkflowRef = cfg.Setting(WorkflowRef)
	if s.WorkflowRef == "" {
		s.WorkflowRef = DefaultWorkflowRef
	} else if strings.ContainsFunc(s.WorkflowRef, func(r rune) bool { return r <= ' ' || r == 0x7f }) || strings.Contains(s.WorkflowRef, "..") {
		fail(WorkflowRef, "must be a branch or tag name (e.g. main or refs/tags/v1), without spaces; got %q", s.WorkflowRef)
	}
	s.AppURL = cfg.Setting(AppURL)
	if k := cfg.Credential.Kind; k != "" && k != sdk.CredentialToken {
		fail(CredentialField, "holds a %s credential; Gitea and Forgejo take an access token (a Secret key holding the token, or PAT)", k)
	}
	return s, errs
}

func checkWorkflow(name string) error {
	if !workflowRE.MatchString(name) {
		return fmt.Errorf("must be a workflow file name ending in .yaml or .yml, without its directory; got %q", name)
	}
	return nil
}

// CheckName reports whether name is a Gitea user, organization or
// repository name (a repository without its owner). Names go into request
// paths, so anything else is refused.
func CheckName(name string) error {
	if strings.Contains(name, "/") {
		return fmt.Errorf("must be a name only, without an owner (the owner is %s); got %q", Owner, name)
	}
	if !nameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("must be a Gitea name (letters, digits, '-', '_', '.'); got %q", name)
	}
	return nil
}

const urlExample = "https://gitea.example.com, or https://example.com/gitea when Gitea is served under a path"

// ParseURL reads the server URL and returns its API root (the URL with
// /api/v1 appended, unless it ends so already). Its errors never repeat a
// URL that may carry credentials.
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("is required: the address of the Gitea or Forgejo server, e.g. %s", urlExample)
	}
	u, err := url.Parse(raw)
	if u != nil && u.User != nil {
		return nil, fmt.Errorf("must not contain credentials: set the token with PAT or the GitOpsConfig's secretRef, and use an URL like %s", urlExample)
	}
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("must be an http(s) URL like %s; got %s", urlExample, show(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("must not have a query or fragment: use an URL like %s; got %s", urlExample, show(raw))
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if strings.Contains(p, "/repos/") || strings.HasSuffix(p, "/repos") {
		return nil, fmt.Errorf("must be the server's address only (the owner is %s, the repositories have fields of their own): use an URL like %s; got %s", Owner, urlExample, show(raw))
	}
	if !strings.HasSuffix(p, "/api/v1") {
		p += "/api/v1"
	}
	api := &url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host}
	if api.Path, err = url.PathUnescape(p); err != nil {
		return nil, fmt.Errorf("must be an http(s) URL like %s; got %s", urlExample, show(raw))
	}
	api.RawPath = p
	return api, nil
}

// show quotes a rejected URL for an error message, unless it may hold a
// credential (user info before an '@' that did not parse as such).
func show(raw string) string {
	if strings.Contains(raw, "@") {
		return "a value with '@' (not shown: it may hold a credential)"
	}
	return fmt.Sprintf("%q", raw)
}

// ConfigError turns the field errors of a config into the permanent error a
// call reports when the host calls it with a config it should have refused.
func ConfigError(cfg sdk.Config, errs []sdk.FieldError) error {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	return sdk.Permanent(fmt.Errorf("config %q is not valid for Gitea: %s", cfg.Name, strings.Join(parts, "; ")))
}
