package chart

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
)

// The chart's example values install; every object they render decodes
// strictly into its Kubernetes type (render fails the test otherwise).
func TestExampleValuesRenderExactlyTheseObjects(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{
			name:  "GitHub repository, GitHub Actions, Flux, subscribers, inline PAT",
			files: []string{githubValues},
			want: []string{
				"ServiceAccount/gitops-connector", "Secret/gitops-connector",
				"ConfigMap/gitops-connector", "ConfigMap/gitops-connector-subscribers",
				"Service/gitops-connector", "Deployment/gitops-connector",
			},
		},
		{
			name:  "Azure Repos, Azure Pipelines, Argo CD, PAT in an existing Secret",
			files: []string{azdoValues},
			want: []string{
				"ServiceAccount/gitops-connector", "ConfigMap/gitops-connector",
				"Service/gitops-connector", "Deployment/gitops-connector",
			},
		},
		{
			name:  "multiple instances",
			files: []string{multiInstanceValues},
			want: []string{
				"ServiceAccount/gitops-connector", "Secret/gitops-connector",
				"ConfigMap/gitops-connector", "Service/gitops-connector", "Deployment/gitops-connector",
				"CustomResourceDefinition/gitopsconfigs.example.com",
				"ClusterRole/gitops:gitops-connector", "ClusterRoleBinding/gitops:gitops-connector",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, install{files: tt.files})
			got := r.kinds()
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("objects:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// The connector's environment is the old program's (behavior §2) plus the
// host's settings, and nothing else.
func TestEnvironmentOfTheConnector(t *testing.T) {
	// githubExample and azdoExample are the single-instance settings of the
	// example values files.
	githubExample := map[string]string{
		"GIT_REPOSITORY_TYPE":              "GITHUB",
		"CICD_ORCHESTRATOR_TYPE":           "GITHUB",
		"GITOPS_OPERATOR_TYPE":             "FLUX",
		"GITOPS_APP_URL":                   "https://github.com/kaizentm/gitops-manifests/commit",
		"GITHUB_ORG_URL":                   "https://api.github.com/repos/kaizentm",
		"GITHUB_GITOPS_MANIFEST_REPO_NAME": "gitops-manifests",
		"GITHUB_GITOPS_REPO_NAME":          "gitops-connector",
	}
	azdoExample := map[string]string{
		"GIT_REPOSITORY_TYPE":    "AZDO",
		"CICD_ORCHESTRATOR_TYPE": "AZDO",
		"GITOPS_OPERATOR_TYPE":   "ARGOCD",
		"GITOPS_APP_URL":         "https://dev.azure.com/myorg/MyProject/_git/my-gitops-repo",
		"AZDO_ORG_URL":           "https://dev.azure.com/myorg/MyProject",
		"AZDO_GITOPS_REPO_NAME":  "my-gitops-repo",
	}
	// env is the host's settings with their chart defaults, then each of
	// sets in order.
	env := func(sets ...map[string]string) map[string]string {
		out := map[string]string{
			"PREDICTIVE_UNIT_SERVICE_PORT":    "8080",
			"GITOPS_CONNECTOR_DATA_DIR":       "/var/lib/gitops-connector",
			"GITOPS_CONNECTOR_SHUTDOWN_GRACE": "25s",
			"GITOPS_CONNECTOR_LOG_LEVEL":      "info",
		}
		for _, s := range sets {
			maps.Copy(out, s)
		}
		return out
	}
	tests := []struct {
		name   string
		files  []string
		values string
		want   map[string]string
	}{
		{
			name:  "GitHub example",
			files: []string{githubValues},
			want: env(githubExample, map[string]string{
				"GITOPS_CONNECTOR_SUBSCRIBERS_DIR": "/subscribers",
				"PAT":                              "secret:gitops-connector/PAT",
			}),
		},
		{
			name:  "Azure DevOps example",
			files: []string{azdoValues},
			want: env(azdoExample, map[string]string{
				"AZDO_PR_REPO_NAME": "my-gitops-repo",
				"PAT":               "secret:azdo-pat/PAT",
			}),
		},
		{
			name:   "status context of a single instance",
			files:  []string{azdoValues},
			values: "singleInstance: {statusContext: dev, azdoPrRepoName: ''}\nexistingSecretKey: token\n",
			want: env(azdoExample, map[string]string{
				"STATUS_CONTEXT": "dev",
				"PAT":            "secret:azdo-pat/token",
			}),
		},
		{
			name:   "required environments of a gatekeeper",
			files:  []string{azdoValues},
			values: "singleInstance: {statusContext: dev-east, requiredEnvironments: [dev-east, dev-west], azdoPrRepoName: ''}\n",
			want: env(azdoExample, map[string]string{
				"STATUS_CONTEXT":        "dev-east",
				"REQUIRED_ENVIRONMENTS": "dev-east,dev-west",
				"PAT":                   "secret:azdo-pat/PAT",
			}),
		},
		{
			name:   "statuses only",
			files:  []string{githubValues},
			values: "singleInstance: {ciCdOrchestratorType: '', gitHubGitOpsRepoName: '', subscribers: null}\n",
			// No CICD_ORCHESTRATOR_TYPE: the connector posts statuses only.
			want: without(env(githubExample, map[string]string{"PAT": "secret:gitops-connector/PAT"}),
				"CICD_ORCHESTRATOR_TYPE", "GITHUB_GITOPS_REPO_NAME"),
		},
		{
			name:   "skipped commits ignored",
			files:  []string{azdoValues},
			values: "singleInstance: {skippedCommits: ignore}\n",
			want: env(azdoExample, map[string]string{
				"SKIPPED_COMMITS":   "ignore",
				"AZDO_PR_REPO_NAME": "my-gitops-repo",
				"PAT":               "secret:azdo-pat/PAT",
			}),
		},
		{
			name: "Gitea single instance",
			values: `singleInstance:
  gitRepositoryType: GITEA
  ciCdOrchestratorType: FORGEJO
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://gitea.example.com/platform/gitops-manifests/commit
  giteaUrl: https://gitea.example.com
  giteaOwner: platform
  giteaGitOpsManifestsRepoName: gitops-manifests
  giteaGitOpsAppRepoName: app-src
  giteaWorkflow: sync-success.yaml
  giteaWorkflowRef: release
existingSecret: gitea-token
`,
			want: env(map[string]string{
				"GIT_REPOSITORY_TYPE":             "GITEA",
				"CICD_ORCHESTRATOR_TYPE":          "FORGEJO",
				"GITOPS_OPERATOR_TYPE":            "FLUX",
				"GITOPS_APP_URL":                  "https://gitea.example.com/platform/gitops-manifests/commit",
				"GITEA_URL":                       "https://gitea.example.com",
				"GITEA_OWNER":                     "platform",
				"GITEA_GITOPS_MANIFEST_REPO_NAME": "gitops-manifests",
				"GITEA_GITOPS_APP_REPO_NAME":      "app-src",
				"GITEA_WORKFLOW":                  "sync-success.yaml",
				"GITEA_WORKFLOW_REF":              "release",
				"PAT":                             "secret:gitea-token/PAT",
			}),
		},
		{
			name:  "multiple instances watch the CRD's group in every namespace",
			files: []string{multiInstanceValues},
			want: env(map[string]string{
				"CLUSTER_DOMAIN": "example.com",
				"PAT":            "secret:gitops-connector/PAT",
			}),
		},
		{
			name:   "multiple instances in listed namespaces of another group",
			files:  []string{multiInstanceValues},
			values: "orchestratorPAT: ''\nmultipleInstances: {clusterDomain: gitops.acme.io, namespaces: [team-a, team-b]}\n",
			want: env(map[string]string{
				"CLUSTER_DOMAIN":              "gitops.acme.io",
				"GITOPS_CONNECTOR_NAMESPACES": "team-a,team-b",
			}),
		},
		{
			name:   "port, termination grace and user env override",
			files:  []string{githubValues},
			values: "service: {port: 9090}\nterminationGracePeriodSeconds: 60\nlogLevel: debug\nsingleInstance: {subscribers: null}\nenv: [{name: PAT, value: from-env}]\n",
			want: env(githubExample, map[string]string{
				"PREDICTIVE_UNIT_SERVICE_PORT":    "9090",
				"GITOPS_CONNECTOR_SHUTDOWN_GRACE": "55s",
				"GITOPS_CONNECTOR_LOG_LEVEL":      "debug",
				"PAT":                             "from-env",
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, install{files: tt.files, values: tt.values})
			got := r.environment(t)
			if !maps.Equal(got, tt.want) {
				t.Errorf("environment:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// without returns env without the keys.
func without(env map[string]string, keys ...string) map[string]string {
	out := maps.Clone(env)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// The token is only in the Secret, never in a ConfigMap or the pod spec.
func TestTokenStaysInTheSecret(t *testing.T) {
	const token = "ghp_exampleexampleexampleexample0000"
	r := render(t, install{files: []string{githubValues}})
	secret := find[*corev1.Secret](t, r, "gitops-connector")
	if got := string(secret.Data["PAT"]); got != token {
		t.Errorf("Secret PAT = %q, want the orchestratorPAT", got)
	}
	for _, o := range r.objects {
		if _, isSecret := o.obj.(*corev1.Secret); isSecret {
			continue
		}
		if strings.Contains(string(o.raw), token) {
			t.Errorf("%s contains the token", o.source)
		}
	}
}

// Values that cannot work fail the install with a message naming the value.
func TestInvalidValuesFailNamingTheValue(t *testing.T) {
	tests := []struct {
		name   string
		files  []string
		values string
		want   []string
	}{
		{
			name: "chart defaults",
			want: []string{
				"singleInstance.gitRepositoryType is required",
				"singleInstance.gitOpsOperatorType is required",
				"singleInstance.gitOpsAppURL is required",
				"set singleInstance: null",
			},
		},
		{
			name:   "required environments without the cluster's own",
			files:  []string{githubValues},
			values: "singleInstance: {requiredEnvironments: [dev-east, dev-west]}\n",
			want:   []string{"singleInstance.statusContext is required when requiredEnvironments is set"},
		},
		{
			name: "Azure repository without organization URL",
			values: `singleInstance:
  gitRepositoryType: AZDO
  ciCdOrchestratorType: AZDO
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://dev.azure.com/myorg/MyProject/_git/manifests
  azdoGitOpsRepoName: manifests
`,
			want: []string{"singleInstance.azdoOrgUrl is required when gitRepositoryType is AZDO"},
		},
		{
			name: "Azure Pipelines with a GitHub repository, without organization URL",
			values: `singleInstance:
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: azdo
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://github.com/kaizentm/gitops-manifests/commit
  gitHubGitOpsManifestsRepoName: gitops-manifests
  gitHubOrgUrl: https://api.github.com/repos/kaizentm
`,
			want: []string{"singleInstance.azdoOrgUrl is required when ciCdOrchestratorType is AZDO"},
		},
		{
			name: "GitHub Actions without the dispatch repository",
			values: `singleInstance:
  gitRepositoryType: AZDO
  ciCdOrchestratorType: GITHUB
  gitOpsOperatorType: ARGOCD
  gitOpsAppURL: https://dev.azure.com/myorg/MyProject/_git/manifests
  azdoGitOpsRepoName: manifests
  azdoOrgUrl: https://dev.azure.com/myorg/MyProject
`,
			want: []string{
				"singleInstance.gitHubOrgUrl is required when ciCdOrchestratorType is GITHUB",
				"singleInstance.gitHubGitOpsRepoName is required when ciCdOrchestratorType is GITHUB",
			},
		},
		{
			name: "Forgejo Actions with a Gitea repository, without the workflow",
			values: `singleInstance:
  gitRepositoryType: gitea
  ciCdOrchestratorType: FORGEJO
  gitOpsOperatorType: ARGOCD
  gitOpsAppURL: https://gitea.example.com/platform/gitops-manifests
  giteaUrl: https://gitea.example.com
  giteaGitOpsManifestsRepoName: gitops-manifests
`,
			want: []string{
				"singleInstance.giteaOwner is required when gitRepositoryType is GITEA",
				"singleInstance.giteaGitOpsAppRepoName is required when ciCdOrchestratorType is FORGEJO",
				"singleInstance.giteaWorkflow is required when ciCdOrchestratorType is FORGEJO",
			},
		},
		{
			name:   "GitHub repository without manifests repository",
			files:  []string{githubValues},
			values: "singleInstance: {gitHubGitOpsManifestsRepoName: ''}\n",
			want:   []string{"singleInstance.gitHubGitOpsManifestsRepoName is required when gitRepositoryType is GITHUB"},
		},
		{
			name:   "PAT inline and in an existing Secret",
			files:  []string{githubValues},
			values: "existingSecret: my-pat\n",
			want:   []string{"orchestratorPAT and existingSecret are both set"},
		},
		{
			name:   "webhook secrets inline and in an existing Secret",
			files:  []string{githubValues},
			values: "webhookAuth: {hmacSecret: s3cret, existingSecret: hooks}\n",
			want:   []string{"webhookAuth.existingSecret is set together with webhookAuth.hmacSecret"},
		},
		{
			name:   "two extra plugins with one name",
			files:  []string{githubValues},
			values: "plugins: {extra: [{name: gitlab, image: a:1}, {name: gitlab, image: b:1}]}\n",
			want:   []string{`plugins.extra[1].name "gitlab" is used twice`},
		},
		{
			name:   "extra plugin without image",
			files:  []string{githubValues},
			values: "plugins: {extra: [{name: gitlab}]}\n",
			want:   []string{"at '/plugins/extra/0': missing property 'image'"},
		},
		{
			name:   "plugin checksum that is not a SHA-256",
			files:  []string{githubValues},
			values: "plugins: {checksums: {gitlab: abc}}\n",
			want:   []string{"at '/plugins/checksums/gitlab'"},
		},
		{
			name:   "persistent claim without size",
			files:  []string{githubValues},
			values: "persistence: {enabled: true, size: ''}\n",
			want:   []string{"persistence.size is required when persistence.enabled is true"},
		},
		{
			name:   "unknown top-level value",
			files:  []string{githubValues},
			values: "replicas: 2\n",
			want:   []string{"additional properties 'replicas' not allowed"},
		},
		{
			name:   "misspelt single-instance value",
			files:  []string{githubValues},
			values: "singleInstance: {gitHubOrgURL: https://api.github.com/repos/kaizentm}\n",
			want:   []string{"at '/singleInstance': additional properties 'gitHubOrgURL' not allowed"},
		},
		{
			name:   "port as a string",
			files:  []string{githubValues},
			values: "service: {port: http}\n",
			want:   []string{"at '/service/port': got string, want integer"},
		},
		{
			name:   "status context with a space",
			files:  []string{githubValues},
			values: "singleInstance: {statusContext: dev cluster}\n",
			want:   []string{"at '/singleInstance/statusContext'"},
		},
		{
			name:   "CRD group without a dot",
			files:  []string{multiInstanceValues},
			values: "multipleInstances: {clusterDomain: gitops}\n",
			want:   []string{"at '/multipleInstances/clusterDomain'"},
		},
		{
			name:   "subscriber that is not an http URL",
			files:  []string{githubValues},
			values: "singleInstance: {subscribers: {spektate: spektate-server:5000}}\n",
			want:   []string{"at '/singleInstance/subscribers/spektate'"},
		},
		{
			name:   "subscriber name that is not a file name",
			files:  []string{githubValues},
			values: "singleInstance: {subscribers: {'../etc': 'http://x'}}\n",
			want:   []string{"invalid propertyName '../etc'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			installFails(t, install{files: tt.files, values: tt.values}, tt.want...)
		})
	}
}

// installFails renders an install that must fail and checks that the error
// says each of want; it returns the error.
func installFails(t *testing.T, in install, want ...string) error {
	t.Helper()
	_, err := renderErr(t, in)
	if err == nil {
		t.Fatal("install succeeded, want an error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	return err
}

// helm lint passes with each example values file and with the defaults,
// with informational messages only.
func TestLint(t *testing.T) {
	for _, file := range []string{githubValues, azdoValues, multiInstanceValues, natsReplicasValues} {
		t.Run(file, func(t *testing.T) {
			vals := mustMergeValues(t, install{files: []string{file}})
			linter := lint.All(chartDir, vals, "gitops", false)
			for _, m := range linter.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("lint: %v", m)
				}
			}
		})
	}
	// Helm's lint mode turns the chart's own checks into informational
	// messages, so `helm lint` passes on the chart as packaged.
	t.Run("defaults", func(t *testing.T) {
		linter := lint.All(chartDir, nil, "gitops", false)
		for _, m := range linter.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("lint: %v", m)
			}
		}
	})
}

// mustMergeValues reads an install's values as the helm command line does.
func mustMergeValues(t *testing.T, in install) map[string]any {
	t.Helper()
	vals, err := valueOptions(t, in).MergeValues(nil)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}
