package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSingleInstanceFromTheOldProgramsEnvironment(t *testing.T) {
	getenv := env(map[string]string{
		"GIT_REPOSITORY_TYPE":              "GITHUB",
		"CICD_ORCHESTRATOR_TYPE":           "GITHUB",
		"GITOPS_OPERATOR_TYPE":             "FLUX",
		"GITOPS_APP_URL":                   "https://github.com/kaizentm/gitops-manifests/commit",
		"GITHUB_ORG_URL":                   "https://api.github.com/repos/kaizentm",
		"GITHUB_GITOPS_MANIFEST_REPO_NAME": "gitops-manifests",
		"GITHUB_GITOPS_REPO_NAME":          "hello-world",
		"PAT":                              "ghp_secret",
		"STATUS_CONTEXT":                   "dev",
	})
	if !SingleInstanceEnabled(getenv) {
		t.Fatal("GIT_REPOSITORY_TYPE set but single instance not enabled")
	}
	c, invalid := FromEnv(getenv)
	if len(invalid) > 0 {
		t.Fatalf("invalid: %+v", invalid)
	}
	if c.Name != SingleInstanceName || c.OperatorType != "FLUX" || c.RepositoryType != "GITHUB" || c.OrchestratorType != "GITHUB" {
		t.Errorf("types: %+v", c)
	}
	if c.Settings["gitHubOrgUrl"] != "https://api.github.com/repos/kaizentm" || c.Settings["gitHubGitOpsManifestsRepoName"] != "gitops-manifests" ||
		c.Settings["gitHubGitOpsRepoName"] != "hello-world" || c.Credentials.Shared.Credential.Value("token") != "ghp_secret" || c.StatusContext != "dev" {
		t.Errorf("settings: %+v token set: %v", c.Settings, c.Credentials.Shared.Credential.Kind != "")
	}
}

func TestSingleInstanceForGiteaMapsItsVariables(t *testing.T) {
	c, invalid := FromEnv(env(map[string]string{
		"GIT_REPOSITORY_TYPE": "GITEA", "CICD_ORCHESTRATOR_TYPE": "FORGEJO", "GITOPS_OPERATOR_TYPE": "ARGOCD",
		"GITOPS_APP_URL": "https://argocd.example.com/applications/podinfo", "PAT": "gitea_secret",
		"GITEA_URL": "https://gitea.example.com", "GITEA_OWNER": "platform",
		"GITEA_GITOPS_MANIFEST_REPO_NAME": "manifests", "GITEA_GITOPS_APP_REPO_NAME": "app",
		"GITEA_WORKFLOW": "sync-success.yaml", "GITEA_WORKFLOW_REF": "release",
	}))
	if len(invalid) > 0 {
		t.Fatalf("invalid: %+v", invalid)
	}
	want := map[string]string{
		"giteaUrl": "https://gitea.example.com", "giteaOwner": "platform", "giteaGitOpsManifestsRepoName": "manifests",
		"giteaGitOpsAppRepoName": "app", "giteaWorkflow": "sync-success.yaml", "giteaWorkflowRef": "release",
	}
	for k, v := range want {
		if c.Settings[k] != v {
			t.Errorf("%s = %q, want %q", k, c.Settings[k], v)
		}
		if env := EnvName(k); !strings.HasPrefix(env, "GITEA_") {
			t.Errorf("EnvName(%s) = %s", k, env)
		}
	}
}

func TestSingleInstanceErrorsNameTheEnvironmentVariable(t *testing.T) {
	_, invalid := FromEnv(env(map[string]string{"GIT_REPOSITORY_TYPE": "AZDO"}))
	if len(invalid) != 1 {
		t.Fatalf("invalid = %+v", invalid)
	}
	msg := invalid[0].Message()
	for _, want := range []string{"GITOPS_OPERATOR_TYPE: is required", "GITOPS_APP_URL: is required"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestTheEnvironmentSourceHoldsEitherTheConfigOrWhyItIsInvalid(t *testing.T) {
	valid := EnvSource{Getenv: env(map[string]string{
		"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "GITOPS_OPERATOR_TYPE": "FLUX",
		"GITOPS_APP_URL": "https://github.com/org/manifests/commit", "PAT": "ghp_secret",
	})}.Load()
	if len(valid.Invalid) != 0 || len(valid.Configs) != 1 || valid.Configs[0].Key() != SingleInstanceName || valid.Configs[0].Credentials.Shared.Credential.Value("token") != "ghp_secret" {
		t.Errorf("valid environment: %+v", valid)
	}
	invalid := EnvSource{Getenv: env(map[string]string{"GIT_REPOSITORY_TYPE": "AZDO"})}.Load()
	if len(invalid.Configs) != 0 || len(invalid.Invalid) != 1 || invalid.Invalid[0].Key != SingleInstanceName {
		t.Errorf("invalid environment: %+v; want no config, only why", invalid)
	}
}

func TestFromSpecReportsEveryBadField(t *testing.T) {
	tests := []struct {
		name string
		spec map[string]any
		want []string
	}{
		{"missing required", map[string]any{"gitRepositoryType": "GITHUB"},
			[]string{"gitOpsOperatorType: is required", "gitOpsAppURL: is required"}},
		{"number instead of string", map[string]any{"gitRepositoryType": 7, "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x"},
			[]string{"gitRepositoryType: must be a string, got int"}},
		{"secretRef without name", map[string]any{"ciCdOrchestratorType": "GITHUB", "gitRepositoryType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "secretRef": map[string]any{"key": "token"}},
			[]string{"secretRef.name: is required"}},
		{"webhookSecretRef without name", map[string]any{"ciCdOrchestratorType": "GITHUB", "gitRepositoryType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "webhookSecretRef": map[string]any{"key": "token"}},
			[]string{"webhookSecretRef.name: is required"}},
		{"webhookSecretRef a string", map[string]any{"ciCdOrchestratorType": "GITHUB", "gitRepositoryType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "webhookSecretRef": "hmac"},
			[]string{"webhookSecretRef: must be an object with name and key"}},
		{"webhookSecretRef with an unknown field", map[string]any{"ciCdOrchestratorType": "GITHUB", "gitRepositoryType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "webhookSecretRef": map[string]any{"name": "s", "namespace": "other"}},
			[]string{"webhookSecretRef.namespace: unknown field; webhookSecretRef has name and key"}},
		{"bad status context", map[string]any{"ciCdOrchestratorType": "GITHUB", "gitRepositoryType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x", "statusContext": "dev/../x"},
			[]string{"statusContext: must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := FromSpec("c", "", tt.spec)
			msg := Invalid{Errors: errs}.Message()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("errors %q lack %q", msg, w)
				}
			}
		})
	}
}

func TestFromSpecKeepsUnknownSettingsForPlugins(t *testing.T) {
	c, errs := FromSpec("c", "ns", map[string]any{
		"gitRepositoryType": "gitlab", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "https://app",
		"gitLabUrl": "https://gitlab.example", "environment": "prod", "secretRef": map[string]any{"name": "creds"},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if c.RepositoryType != "GITLAB" || c.Settings["gitLabUrl"] != "https://gitlab.example" || c.StatusContext != "prod" ||
		c.Credentials.Shared.SecretRef == nil || c.Credentials.Shared.SecretRef.Key != "PAT" || c.Key() != "ns/c" {
		t.Fatalf("%+v %+v", c, c.Credentials.Shared.SecretRef)
	}
}

func TestWebhookSecretRefIsReadButNeverReachesPlugins(t *testing.T) {
	spec := map[string]any{"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x",
		"webhookSecretRef": map[string]any{"name": "flux-webhook"}}
	c, errs := FromSpec("c", "apps", spec)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if c.WebhookSecretRef == nil || *c.WebhookSecretRef != (SecretRef{Name: "flux-webhook", Key: DefaultWebhookSecretKey}) || c.Credentials.Shared.SecretRef != nil {
		t.Fatalf("webhookSecretRef %+v, secretRef %+v", c.WebhookSecretRef, c.Credentials.Shared.SecretRef)
	}
	if _, ok := c.Settings[FieldWebhookSecretRef]; ok {
		t.Error("webhookSecretRef is passed to plugins as a setting")
	}
	// Rotating the webhook secret changes the config (a new snapshot is
	// published), not what plugins see (their cached clients stay).
	rotated := c
	c.WebhookSecret, rotated.WebhookSecret = "webhook-secret-before", "webhook-secret-after"
	if c.Equal(rotated) {
		t.Error("a webhook secret rotation leaves the config equal")
	}
	if c.SDK(RoleRepository).Revision != rotated.SDK(RoleRepository).Revision || strings.Contains(fmt.Sprintf("%+v", rotated.SDK(RoleRepository)), "webhook-secret-after") {
		t.Error("plugins see the webhook secret")
	}
}

func TestAConfigFileCannotNameAWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(docs, `  azdoOrgUrl: "https://dev.azure.com/myorg/MyProject"`,
		"  azdoOrgUrl: \"https://dev.azure.com/myorg/MyProject\"\n  webhookSecretRef:\n    name: argo-webhook", 1)
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := FileSource{Path: dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Configs) != 0 {
		t.Fatalf("a config asking for its own webhook secret serves without it: %+v", snap.Configs)
	}
	found := false
	for _, inv := range snap.Invalid {
		found = found || (inv.Key == "my-gitops-repo-stage-dev" && strings.Contains(inv.Message(), "webhookSecretRef: names a Kubernetes Secret"))
	}
	if !found {
		t.Fatalf("invalid %+v, want my-gitops-repo-stage-dev refused for its webhookSecretRef", snap.Invalid)
	}
}

func TestRevisionChangesWithWhatPluginsSee(t *testing.T) {
	a, _ := FromSpec("c", "", map[string]any{"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x"})
	b := a
	b.Credentials.Shared.Credential = TokenCredential("rotated")
	if a.SDK(RoleRepository).Revision == b.SDK(RoleRepository).Revision {
		t.Fatal("a token rotation does not change the revision")
	}
	if a.SDK(RoleRepository).Revision != a.SDK(RoleRepository).Revision || !a.Equal(a) || a.Equal(b) {
		t.Fatal("revision is not stable")
	}
}

func TestFrozenConfigKeepsItsRevision(t *testing.T) {
	a, _ := FromSpec("c", "", map[string]any{"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "x"})
	a.Credentials.Shared.Credential = TokenCredential("ghp_a")
	frozen := a.Frozen()
	if frozen.Revision() != a.Revision() || frozen.SDK(RoleOrchestrator).Revision != a.SDK(RoleOrchestrator).Revision {
		t.Fatalf("frozen revision %s, want %s", frozen.Revision(), a.Revision())
	}
	// A changed config is built anew from its spec: it is not frozen, and
	// its revision is its own.
	b := a
	b.Credentials.Shared.Credential = TokenCredential("ghp_b")
	if b.Frozen().Revision() == frozen.Revision() {
		t.Fatal("two configs with different credentials share a revision")
	}
}

const docs = `
apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: my-gitops-repo-stage-dev
spec:
  gitRepositoryType: "AZDO"
  ciCdOrchestratorType: "AZDO"
  gitOpsOperatorType: "ARGOCD"
  gitOpsAppURL: "https://dev.azure.com/myorg/MyProject/_git/my-gitops-repo"
  azdoGitOpsRepoName: "my-gitops-repo"
  azdoPrRepoName: "my-gitops-repo"
  azdoOrgUrl: "https://dev.azure.com/myorg/MyProject"
---
apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: broken
spec:
  gitRepositoryType: GITHUB
`

func TestParseDocumentsAcceptsTheSeedExample(t *testing.T) {
	configs, invalid, err := ParseDocuments([]byte(docs), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(configs) != 1 || configs[0].Name != "my-gitops-repo-stage-dev" || configs[0].Settings["azdoOrgUrl"] != "https://dev.azure.com/myorg/MyProject" {
		t.Fatalf("configs: %+v", configs)
	}
	if len(invalid) != 1 || invalid[0].Key != "broken" || !strings.Contains(invalid[0].Message(), "gitOpsAppURL: is required") {
		t.Fatalf("invalid: %+v", invalid)
	}
}

func TestParseDocumentsRejectsOtherKinds(t *testing.T) {
	_, _, err := ParseDocuments([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), "cm.yaml")
	if err == nil || !strings.Contains(err.Error(), `kind "ConfigMap", want GitOpsConfig`) {
		t.Fatalf("err = %v", err)
	}
	_, _, err = ParseDocuments([]byte("kind: [unclosed"), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "bad.yaml: document 1") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileSourceReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", docs)
	write("README.md", "not a config")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := make(chan Snapshot, 10)
	src := FileSource{Path: dir, Getenv: env(map[string]string{"PAT": "pat"}), Interval: 10 * time.Millisecond}
	go func() { _ = src.Run(ctx, func(s Snapshot) { snaps <- s }) }()
	first := <-snaps
	if len(first.Configs) != 1 || first.Configs[0].Credentials.Shared.Credential.Value("token") != "pat" {
		t.Fatalf("first snapshot: %+v", first)
	}
	write("b.yml", strings.ReplaceAll(docs, "my-gitops-repo-stage-dev", "second"))
	select {
	case second := <-snaps:
		if len(second.Configs) != 2 {
			t.Fatalf("after adding a file: %d configs", len(second.Configs))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot after a file was added")
	}
	write("c.yaml", docs) // the same names again: reported, not silently merged
	select {
	case third := <-snaps:
		found := false
		for _, inv := range third.Invalid {
			found = found || strings.Contains(inv.Message(), "is defined twice")
		}
		if !found {
			t.Fatalf("duplicate name not reported: %+v", third.Invalid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot after a duplicate was added")
	}
}

func TestRequiredEnvironmentsIncludeTheConfigsOwnAndComeFromAListOrTheEnvironment(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "https://x"}
	}
	spec := base()
	spec["statusContext"] = "dev-east"
	spec["requiredEnvironments"] = []any{"dev-west", "dev-east", "dev-west"}
	c, errs := FromSpec("gatekeeper", "team", spec)
	if len(errs) > 0 || fmt.Sprint(c.RequiredEnvironments) != "[dev-west dev-east]" {
		t.Errorf("list: %v, %v", c.RequiredEnvironments, errs)
	}
	if _, ok := c.Settings["requiredEnvironments"]; ok {
		t.Error("requiredEnvironments reached the plugins' settings")
	}
	spec["statusContext"] = "dev-north"
	c, _ = FromSpec("gatekeeper", "team", spec)
	if fmt.Sprint(c.RequiredEnvironments) != "[dev-west dev-east dev-north]" {
		t.Errorf("own environment not added: %v", c.RequiredEnvironments)
	}
	other, _ := FromSpec("gatekeeper", "team", base())
	if c.Equal(other) || len(other.RequiredEnvironments) != 0 {
		t.Error("a config without required environments equals one with them")
	}

	c, invalid := FromEnv(env(map[string]string{
		"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "GITOPS_OPERATOR_TYPE": "FLUX",
		"GITOPS_APP_URL": "https://x", "STATUS_CONTEXT": "dev-east", "REQUIRED_ENVIRONMENTS": "dev-east, dev-west",
	}))
	if len(invalid) > 0 || fmt.Sprint(c.RequiredEnvironments) != "[dev-east dev-west]" {
		t.Errorf("environment: %v, %+v", c.RequiredEnvironments, invalid)
	}

	for _, tc := range []struct {
		name string
		set  func(map[string]any)
		want string
	}{
		{"no own status context", func(s map[string]any) { s["requiredEnvironments"] = []any{"dev-west"} }, "requiredEnvironments: needs statusContext"},
		{"not a name", func(s map[string]any) { s["statusContext"] = "a"; s["requiredEnvironments"] = []any{"dev/west"} }, `"dev/west" is not an environment name`},
		{"not a string", func(s map[string]any) { s["statusContext"] = "a"; s["requiredEnvironments"] = []any{"b", 3} }, "requiredEnvironments[1]: must be a string"},
		{"not a list", func(s map[string]any) { s["statusContext"] = "a"; s["requiredEnvironments"] = map[string]any{} }, "requiredEnvironments: must be a list"},
		{"statuses only", func(s map[string]any) {
			s["statusContext"], s["ciCdOrchestratorType"], s["requiredEnvironments"] = "a", "NONE", []any{"b"}
		}, "requiredEnvironments: needs ciCdOrchestratorType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			tc.set(spec)
			_, errs := FromSpec("x", "", spec)
			msg := Invalid{Errors: errs}.Message()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("errors %q lack %q", msg, tc.want)
			}
		})
	}
	_, invalid = FromEnv(env(map[string]string{
		"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "GITOPS_OPERATOR_TYPE": "FLUX",
		"GITOPS_APP_URL": "https://x", "REQUIRED_ENVIRONMENTS": "dev-west",
	}))
	if len(invalid) != 1 || !strings.Contains(invalid[0].Message(), "REQUIRED_ENVIRONMENTS: needs statusContext") {
		t.Errorf("environment error: %+v", invalid)
	}
}

func TestSkippedCommitsAreToldUnlessTheConfigIgnoresThem(t *testing.T) {
	spec := func(v string) map[string]any {
		m := map[string]any{FieldRepositoryType: "GITHUB", FieldOrchestratorType: "GITHUB", FieldOperatorType: "FLUX", FieldAppURL: "https://app"}
		if v != "" {
			m[FieldSkippedCommits] = v
		}
		return m
	}
	for v, tells := range map[string]bool{"": true, "notify": true, "ignore": false, "Ignore": false} {
		c, errs := FromSpec("c", "", spec(v))
		if len(errs) > 0 || c.TellsSkippedCommits() != tells {
			t.Errorf("skippedCommits %q: tells %v, errors %v; want %v", v, c.TellsSkippedCommits(), errs, tells)
		}
	}
	if _, errs := FromSpec("c", "", spec("never")); len(errs) != 1 || errs[0].Field != FieldSkippedCommits || !strings.Contains(errs[0].Message, `"ignore"`) {
		t.Errorf("a wrong value: %v", errs)
	}
	c, invalid := FromEnv(env(map[string]string{"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB",
		"GITOPS_OPERATOR_TYPE": "FLUX", "GITOPS_APP_URL": "https://app", "SKIPPED_COMMITS": "ignore"}))
	if len(invalid) > 0 || c.TellsSkippedCommits() {
		t.Errorf("SKIPPED_COMMITS=ignore: %+v, %v", c.Settings, invalid)
	}
	if _, invalid := FromEnv(env(map[string]string{"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB",
		"GITOPS_OPERATOR_TYPE": "FLUX", "GITOPS_APP_URL": "https://app", "SKIPPED_COMMITS": "no"})); len(invalid) != 1 || invalid[0].Errors[0].Field != "SKIPPED_COMMITS" {
		t.Errorf("SKIPPED_COMMITS=no: %+v", invalid)
	}
}
