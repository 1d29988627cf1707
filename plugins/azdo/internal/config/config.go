// Package config reads the Azure DevOps settings of a config (the camelCase
// GitOpsConfig spec fields; the host maps AZDO_ORG_URL, AZDO_GITOPS_REPO_NAME,
// AZDO_PR_REPO_NAME and GITOPS_APP_URL onto them) and reports every problem
// as a field error.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/entra"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Spec fields.
const (
	FieldOrgURL        = "azdoOrgUrl"
	FieldManifestsRepo = "azdoGitOpsRepoName"
	FieldPRRepo        = "azdoPrRepoName"
	FieldAppURL        = "gitOpsAppURL"
	// FieldToken is where a config's token comes from (PAT in single
	// instance mode).
	FieldToken = "secretRef"
	// FieldCredential names a credential that cannot work, whatever field
	// or variable gave it.
	FieldCredential = "credential"
)

// Settings are a config's Azure DevOps settings.
type Settings struct {
	// OrganizationURL is the organization (on-premises: collection) URL the
	// client library takes, e.g. https://dev.azure.com/org, without a
	// trailing slash.
	OrganizationURL string
	// Project is the project's name, unescaped.
	Project string
	// ManifestsRepo is the repository Flux or Argo CD deploys from.
	ManifestsRepo string
	// PRRepo is the repository the pipeline opens pull requests to; the
	// manifests repository when azdoPrRepoName is not set.
	PRRepo string
	// AppURL is the link shown with every commit status.
	AppURL string
	// Token is the personal access token; "" with an Entra ID credential.
	// Never log it.
	Token string
	// Credential is the config's credential for Azure DevOps: a token, or
	// an Entra ID identity (package entra). Never log its values.
	Credential    sdk.Credential
	StatusContext string
}

// Need says which settings a use requires, beyond the organization URL and
// the token that every use requires.
type Need uint8

// What a use may need.
const (
	NeedManifestsRepo Need = 1 << iota
	NeedAppURL
	NeedPRRepo
)

// Needs of the capabilities.
const (
	// ForRepository is what posting commit statuses needs.
	ForRepository = NeedManifestsRepo | NeedAppURL
	// ForOrchestrator is what completing pipeline tasks needs.
	ForOrchestrator = NeedPRRepo
	// ForReading is what reading commits and pull requests needs.
	ForReading Need = 0
)

// Parse reads the settings of cfg. It reports fields that are missing for
// need, and fields that are set but invalid, whatever need is.
func Parse(cfg sdk.Config, need Need) (Settings, []sdk.FieldError) {
	s := Settings{
		ManifestsRepo: cfg.Setting(FieldManifestsRepo),
		PRRepo:        cfg.Setting(FieldPRRepo),
		AppURL:        cfg.Setting(FieldAppURL),
		Token:         strings.TrimSpace(cfg.Token),
		Credential:    cfg.Credential,
		StatusContext: strings.TrimSpace(cfg.StatusContext),
	}
	var errs []sdk.FieldError
	add := func(field, msg string) { errs = append(errs, sdk.FieldError{Field: field, Message: msg}) }

	if raw := cfg.Setting(FieldOrgURL); raw == "" {
		add(FieldOrgURL, "is required: the organization and project URL, e.g. https://dev.azure.com/<organization>/<project>")
	} else if org, project, err := SplitOrgURL(raw); err != nil {
		add(FieldOrgURL, err.Error())
	} else {
		s.OrganizationURL, s.Project = org, project
	}
	switch kind := cfg.Credential.Kind; {
	case kind == "" || kind == sdk.CredentialToken:
		if s.Token == "" {
			add(FieldToken, "no credential: set PAT (single instance) or secretRef to a personal access token with the scopes Code (Read & status) and Build (Read & execute), or give a Microsoft Entra ID service principal, workload identity or managed identity")
		}
	case entra.Kinds(kind):
	default:
		add(FieldCredential, fmt.Sprintf("a %s credential cannot authenticate to Azure DevOps: give a personal access token or a Microsoft Entra ID service principal, workload identity or managed identity", kind))
	}

	if s.ManifestsRepo == "" {
		if need&NeedManifestsRepo != 0 {
			add(FieldManifestsRepo, "is required: the name of the manifests repository")
		}
	} else if err := CheckRepoName(s.ManifestsRepo); err != nil {
		add(FieldManifestsRepo, err.Error())
	}
	if s.PRRepo == "" {
		s.PRRepo = s.ManifestsRepo
		if s.PRRepo == "" && need&NeedPRRepo != 0 {
			add(FieldPRRepo, "is required when azdoGitOpsRepoName is not set: the repository the pipeline opens pull requests to")
		}
	} else if err := CheckRepoName(s.PRRepo); err != nil {
		add(FieldPRRepo, err.Error())
	}

	if s.AppURL == "" {
		if need&NeedAppURL != 0 {
			add(FieldAppURL, "is required: the link shown with every commit status, e.g. https://argocd.example.com/applications/my-app")
		}
	} else if u, err := url.Parse(s.AppURL); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(FieldAppURL, "must be an absolute http(s) URL")
	}
	return s, errs
}

// Load reads the settings of cfg for a call that needs need. A config with
// field errors, which the host should have refused when it validated the
// config, is an sdk.InvalidInput error naming every problem.
func Load(cfg sdk.Config, need Need) (Settings, error) {
	s, errs := Parse(cfg, need)
	if len(errs) == 0 {
		return s, nil
	}
	all := make([]error, 0, len(errs))
	for _, e := range errs {
		all = append(all, e)
	}
	return s, sdk.InvalidInput(fmt.Errorf("config %q: %w", cfg.Name, errors.Join(all...)))
}

// CloudHost is the host of Azure DevOps Services organizations.
const CloudHost = "dev.azure.com"

// SplitOrgURL splits an azdoOrgUrl into the organization URL (on-premises:
// the collection URL) and the project:
//
//	https://dev.azure.com/<organization>/<project>
//	https://<organization>.visualstudio.com/<project>
//	https://<organization>.visualstudio.com/DefaultCollection/<project>
//	https://<server>/tfs/<collection>/<project>    (Azure DevOps Server)
//	https://<server>/<collection>/<project>        (Azure DevOps Server 2019+)
//
// Its errors never repeat the URL, which could hold credentials.
func SplitOrgURL(raw string) (orgURL, project string, err error) {
	u, perr := url.Parse(strings.TrimSpace(raw))
	switch {
	case perr != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "", "", errors.New("must be an http(s) URL such as https://dev.azure.com/<organization>/<project>")
	case u.User != nil:
		return "", "", errors.New("must not contain credentials: the token comes from PAT or secretRef")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", "", errors.New("must not have a query or a fragment")
	}
	var segs []string
	for _, s := range strings.Split(strings.Trim(u.EscapedPath(), "/"), "/") {
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "_") {
			return "", "", errors.New("must end with the project: remove /" + s + " and what follows (it is a page of the project, not part of its address)")
		}
		segs = append(segs, s)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == CloudHost:
		switch {
		case len(segs) == 0:
			return "", "", errors.New("must include the organization and the project: https://dev.azure.com/<organization>/<project>")
		case len(segs) == 1:
			return "", "", errors.New("must include the project: https://dev.azure.com/<organization>/<project>")
		case len(segs) > 2:
			return "", "", errors.New("must be https://dev.azure.com/<organization>/<project>, with nothing after the project")
		}
	case strings.HasSuffix(host, ".visualstudio.com"):
		switch {
		case len(segs) == 0 || (len(segs) == 1 && strings.EqualFold(segs[0], "DefaultCollection")):
			return "", "", errors.New("must include the project: https://<organization>.visualstudio.com/<project>")
		case len(segs) > 2 || (len(segs) == 2 && !strings.EqualFold(segs[0], "DefaultCollection")):
			return "", "", errors.New("must be https://<organization>.visualstudio.com/<project>, with nothing after the project")
		}
	default:
		switch {
		case len(segs) == 0 || (len(segs) == 1 && strings.EqualFold(segs[0], "tfs")):
			return "", "", errors.New("must include the collection and the project: https://<server>/tfs/<collection>/<project>")
		case len(segs) == 1 || (len(segs) == 2 && strings.EqualFold(segs[0], "tfs")):
			return "", "", errors.New("must include the project: https://<server>/tfs/<collection>/<project>")
		}
	}
	project, perr = url.PathUnescape(segs[len(segs)-1])
	if perr != nil || strings.TrimSpace(project) == "" {
		return "", "", errors.New("the project name is not validly escaped")
	}
	org := u.Scheme + "://" + u.Host
	if len(segs) > 1 {
		org += "/" + strings.Join(segs[:len(segs)-1], "/")
	}
	return org, project, nil
}

// CheckRepoName reports a repository name (or id) that cannot be one:
// Azure Repos names never contain '/', '\', '?', '#' or control characters
// and are not "." or "..". Valid names are path-escaped on their way into a
// URL.
func CheckRepoName(name string) error {
	if name == "" {
		return errors.New("is empty")
	}
	if name == "." || name == ".." {
		return errors.New("is not a repository name")
	}
	for _, r := range name {
		if unicode.IsControl(r) || strings.ContainsRune(`/\?#`, r) {
			return errors.New(`is not a repository name: it contains '/', '\', '?', '#' or a control character`)
		}
	}
	return nil
}
