package config

import (
	"context"
	"os"
	"strings"
)

// Environment variables of single-instance mode, as the Helm chart and
// existing deployments set them.
const (
	EnvRepositoryType   = "GIT_REPOSITORY_TYPE"
	EnvOrchestratorType = "CICD_ORCHESTRATOR_TYPE"
	EnvOperatorType     = "GITOPS_OPERATOR_TYPE"
	EnvPAT              = "PAT"
	EnvStatusContext    = "STATUS_CONTEXT"
	EnvSkippedCommits   = "SKIPPED_COMMITS"
)

// envSpec maps single-instance environment variables to spec fields.
var envSpec = map[string]string{
	EnvRepositoryType:                  FieldRepositoryType,
	EnvOrchestratorType:                FieldOrchestratorType,
	EnvOperatorType:                    FieldOperatorType,
	"GITOPS_APP_URL":                   FieldAppURL,
	"AZDO_ORG_URL":                     "azdoOrgUrl",
	"AZDO_GITOPS_REPO_NAME":            "azdoGitOpsRepoName",
	"AZDO_PR_REPO_NAME":                "azdoPrRepoName",
	"GITHUB_ORG_URL":                   "gitHubOrgUrl",
	"GITHUB_GITOPS_MANIFEST_REPO_NAME": "gitHubGitOpsManifestsRepoName",
	"GITHUB_GITOPS_REPO_NAME":          "gitHubGitOpsRepoName",
	"GITEA_URL":                        "giteaUrl",
	"GITEA_OWNER":                      "giteaOwner",
	"GITEA_GITOPS_MANIFEST_REPO_NAME":  "giteaGitOpsManifestsRepoName",
	"GITEA_GITOPS_APP_REPO_NAME":       "giteaGitOpsAppRepoName",
	"GITEA_WORKFLOW":                   "giteaWorkflow",
	"GITEA_WORKFLOW_REF":               "giteaWorkflowRef",
	EnvStatusContext:                   FieldStatusContext,
	EnvRequiredEnvironments:            FieldRequiredEnvironments,
	EnvSkippedCommits:                  FieldSkippedCommits,
}

// SingleInstanceName is the name of the one config of single-instance mode.
const SingleInstanceName = "default"

// SingleInstanceEnabled reports whether the environment selects
// single-instance mode (GIT_REPOSITORY_TYPE is set).
func SingleInstanceEnabled(getenv func(string) string) bool {
	return strings.TrimSpace(getenv(EnvRepositoryType)) != ""
}

// FromEnv builds the single-instance config from the environment.
func FromEnv(getenv func(string) string) (Config, []Invalid) {
	spec := map[string]any{}
	for env, field := range envSpec {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			spec[field] = v
		}
	}
	c, errs := FromSpec(SingleInstanceName, "", spec)
	c.Token = strings.TrimSpace(getenv(EnvPAT))
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Field = EnvName(errs[i].Field)
		}
		return c, []Invalid{{Key: SingleInstanceName, Errors: errs}}
	}
	return c, nil
}

// EnvName names the environment variable behind a spec field, so errors in
// single-instance mode speak of what the user set.
func EnvName(field string) string {
	for env, f := range envSpec {
		if f == field {
			return env
		}
	}
	return field
}

// EnvSource is the single-instance environment. It never changes.
type EnvSource struct {
	Getenv func(string) string
}

// Load reads the one config: the snapshot holds it, or says why it is
// invalid.
func (s EnvSource) Load() Snapshot {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c, invalid := FromEnv(getenv)
	if len(invalid) > 0 {
		return Snapshot{Invalid: invalid}
	}
	return Snapshot{Configs: []Config{c}}
}

// Run publishes the one config and waits for ctx.
func (s EnvSource) Run(ctx context.Context, publish func(Snapshot)) error {
	publish(s.Load())
	<-ctx.Done()
	return nil
}
