package chart

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// testPEM stands for a private key: the tests look for it where it must not
// be.
const testPEM = "-----BEGIN RSA PRIVATE KEY-----\nTUlJRW93SUJBQUtDQVFFQXRlc3RrZXl0ZXN0a2V5dGVzdGtleQ==\n-----END RSA PRIVATE KEY-----\n"

// azdoOnly is the Azure DevOps example without its shared token, so that
// the environment shows the credential under test alone.
const azdoOnly = "existingSecret: ''\n"

// githubOnly is the GitHub example without its shared token.
const githubOnly = "orchestratorPAT: ''\n"

// credentialEnv is the part of the connector's environment that carries
// credentials.
func credentialEnv(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		if k == "PAT" || strings.HasSuffix(k, "_PAT") || strings.HasPrefix(k, "GITHUB_APP_") || strings.HasPrefix(k, "AZURE_") {
			out[k] = v
		}
	}
	return out
}

// Each way to authenticate sets exactly its variables, Secret references
// and files.
func TestCredentialValues(t *testing.T) {
	const keyDir = "/etc/gitops-connector/github-app"
	const certDir = "/etc/gitops-connector/azure"
	tests := []struct {
		name   string
		files  []string
		values string
		set    []string
		env    map[string]string
		// secret is the data of the chart's Secret; nil: no Secret.
		secret map[string]string
		// volumes maps the credential volumes to "secret/key→path".
		volumes map[string]string
		mounts  map[string]string
	}{
		{
			name:   "a token per integration in the chart's Secret",
			files:  []string{githubValues},
			values: githubOnly + "singleInstance: {gitRepositoryType: GITEA, giteaUrl: 'https://gitea.example.com', giteaOwner: platform, giteaGitOpsManifestsRepoName: manifests}\ngitRepositoryPAT: gitea-token-value\nciCdOrchestratorPAT: ghp_orchestrator\n",
			env: map[string]string{
				"GIT_REPOSITORY_PAT":    "secret:gitops-connector/GIT_REPOSITORY_PAT",
				"CICD_ORCHESTRATOR_PAT": "secret:gitops-connector/CICD_ORCHESTRATOR_PAT",
			},
			secret: map[string]string{"GIT_REPOSITORY_PAT": "gitea-token-value", "CICD_ORCHESTRATOR_PAT": "ghp_orchestrator"},
		},
		{
			name:   "a token per integration in existing Secrets, beside the shared one",
			files:  []string{githubValues},
			values: "orchestratorPAT: ''\nexistingSecret: shared\ngitRepositoryExistingSecret: gitea-token\nciCdOrchestratorExistingSecret: github-token\nciCdOrchestratorExistingSecretKey: token\n",
			env: map[string]string{
				"PAT":                   "secret:shared/PAT",
				"GIT_REPOSITORY_PAT":    "secret:gitea-token/PAT",
				"CICD_ORCHESTRATOR_PAT": "secret:github-token/token",
			},
		},
		{
			name:   "GitHub App with its key in the chart's Secret",
			files:  []string{githubValues},
			values: githubOnly + "githubApp: {appId: '123456', installationId: '7890123', privateKey: " + quoteYAML(testPEM) + "}\n",
			env: map[string]string{
				"GITHUB_APP_ID":               "123456",
				"GITHUB_APP_INSTALLATION_ID":  "7890123",
				"GITHUB_APP_PRIVATE_KEY_FILE": keyDir + "/private-key.pem",
			},
			secret:  map[string]string{"githubAppPrivateKey": testPEM},
			volumes: map[string]string{"github-app-key": "gitops-connector/githubAppPrivateKey→private-key.pem"},
			mounts:  map[string]string{keyDir: "github-app-key"},
		},
		{
			name:   "GitHub App with its key in an existing Secret, ids given as numbers",
			files:  []string{githubValues},
			values: githubOnly,
			set:    []string{"githubApp.appId=123456", "githubApp.existingSecret=github-app"},
			env: map[string]string{
				"GITHUB_APP_ID":               "123456",
				"GITHUB_APP_PRIVATE_KEY_FILE": keyDir + "/private-key.pem",
			},
			volumes: map[string]string{"github-app-key": "github-app/githubAppPrivateKey→private-key.pem"},
			mounts:  map[string]string{keyDir: "github-app-key"},
		},
		{
			name:   "Azure service principal with a client secret in the chart's Secret",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-0000000000c1, clientSecret: sp-secret-value, authorityHost: 'https://login.microsoftonline.us/'}\n",
			env: map[string]string{
				"AZURE_TENANT_ID":      "contoso.onmicrosoft.com",
				"AZURE_CLIENT_ID":      "00000000-0000-0000-0000-0000000000c1",
				"AZURE_CLIENT_SECRET":  "secret:gitops-connector/AZURE_CLIENT_SECRET",
				"AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/",
			},
			secret: map[string]string{"AZURE_CLIENT_SECRET": "sp-secret-value"},
		},
		{
			name:   "Azure service principal with a client secret in an existing Secret",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {tenantId: t1, clientId: 00000000-0000-0000-0000-0000000000c1, existingSecret: azdo-sp}\n",
			env: map[string]string{
				"AZURE_TENANT_ID":     "t1",
				"AZURE_CLIENT_ID":     "00000000-0000-0000-0000-0000000000c1",
				"AZURE_CLIENT_SECRET": "secret:azdo-sp/clientSecret",
			},
		},
		{
			name:   "Azure service principal with a certificate and its password",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {tenantId: t1, clientId: 00000000-0000-0000-0000-0000000000c1, clientCertificateSecret: azdo-cert, clientCertificatePasswordKey: clientCertificatePassword}\n",
			env: map[string]string{
				"AZURE_TENANT_ID":                   "t1",
				"AZURE_CLIENT_ID":                   "00000000-0000-0000-0000-0000000000c1",
				"AZURE_CLIENT_CERTIFICATE_PATH":     certDir + "/client-certificate.pem",
				"AZURE_CLIENT_CERTIFICATE_PASSWORD": "secret:azdo-cert/clientCertificatePassword",
			},
			volumes: map[string]string{"azure-client-certificate": "azdo-cert/clientCertificate→client-certificate.pem"},
			mounts:  map[string]string{certDir: "azure-client-certificate"},
		},
		{
			// The webhook sets AZURE_CLIENT_ID, AZURE_TENANT_ID,
			// AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST.
			name:   "Azure workload identity sets no variable itself",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {tenantId: t1, clientId: 00000000-0000-0000-0000-0000000000c1, workloadIdentity: {enabled: true}}\n",
			env:    map[string]string{},
		},
		{
			name:   "a user-assigned managed identity",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {clientId: 00000000-0000-0000-0000-0000000000c1, managedIdentity: {enabled: true}}\n",
			env:    map[string]string{"AZURE_IDENTITY": "managed", "AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000000c1"},
		},
		{
			name:   "the system-assigned managed identity",
			files:  []string{azdoValues},
			values: azdoOnly + "azure: {managedIdentity: {enabled: true}}\n",
			env:    map[string]string{"AZURE_IDENTITY": "managed"},
		},
		{
			name:   "multiple instances: tokens per integration as fallbacks and a managed identity",
			files:  []string{multiInstanceValues},
			values: "orchestratorPAT: ''\ngitRepositoryExistingSecret: repo-token\nciCdOrchestratorPAT: orchestrator-token\nazure: {managedIdentity: {enabled: true}}\n",
			env: map[string]string{
				"GIT_REPOSITORY_PAT":    "secret:repo-token/PAT",
				"CICD_ORCHESTRATOR_PAT": "secret:gitops-connector/CICD_ORCHESTRATOR_PAT",
				"AZURE_IDENTITY":        "managed",
			},
			secret: map[string]string{"CICD_ORCHESTRATOR_PAT": "orchestrator-token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, install{files: tt.files, values: tt.values, set: tt.set})
			if got := credentialEnv(r.environment(t)); !maps.Equal(got, tt.env) {
				t.Errorf("credential environment:\n got %v\nwant %v", got, tt.env)
			}
			var secret map[string]string
			for _, s := range all[*corev1.Secret](r) {
				secret = map[string]string{}
				for k, v := range s.Data {
					secret[k] = string(v)
				}
			}
			if !maps.Equal(secret, tt.secret) {
				t.Errorf("the chart's Secret holds %v, want %v", secret, tt.secret)
			}
			volumes := map[string]string{}
			for _, v := range r.deployment(t).Spec.Template.Spec.Volumes {
				if v.Secret == nil {
					continue
				}
				for _, item := range v.Secret.Items {
					volumes[v.Name] = v.Secret.SecretName + "/" + item.Key + "→" + item.Path
				}
				if len(v.Secret.Items) != 1 {
					t.Errorf("volume %s projects %d keys, want the one file", v.Name, len(v.Secret.Items))
				}
			}
			if !maps.Equal(volumes, orEmpty(tt.volumes)) {
				t.Errorf("Secret volumes %v, want %v", volumes, tt.volumes)
			}
			mounts := map[string]string{}
			for path, m := range r.mounts(t) {
				if strings.HasPrefix(path, "/etc/gitops-connector/") && path != "/etc/gitops-connector/plugin-checksums" {
					mounts[path] = m.Name
					if !m.ReadOnly {
						t.Errorf("%s is mounted writable", path)
					}
				}
			}
			if !maps.Equal(mounts, orEmpty(tt.mounts)) {
				t.Errorf("credential mounts %v, want %v", mounts, tt.mounts)
			}
			for k, v := range secret {
				for _, o := range r.objects {
					if _, isSecret := o.obj.(*corev1.Secret); !isSecret && strings.Contains(string(o.raw), strings.TrimSpace(v)) {
						t.Errorf("%s holds the value of the Secret's %s", o.source, k)
					}
				}
			}
		})
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// quoteYAML writes s as a double-quoted YAML scalar.
func quoteYAML(s string) string {
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// Workload identity labels the pod and annotates the ServiceAccount as the
// Azure Workload Identity webhook needs, in both modes; the chart's other
// pods and accounts are untouched.
func TestAzureWorkloadIdentity(t *testing.T) {
	const clientID = "00000000-0000-0000-0000-0000000000c1"
	tests := []struct {
		name        string
		files       []string
		values      string
		annotations map[string]string
	}{
		{
			name:        "single instance with tenant",
			files:       []string{azdoValues},
			values:      azdoOnly + "azure: {clientId: " + clientID + ", tenantId: 00000000-0000-0000-0000-0000000000d1, workloadIdentity: {enabled: true}}\n",
			annotations: map[string]string{"azure.workload.identity/client-id": clientID, "azure.workload.identity/tenant-id": "00000000-0000-0000-0000-0000000000d1"},
		},
		{
			name:        "multiple instances, the user's annotations kept",
			files:       []string{multiInstanceValues},
			values:      "azure: {clientId: " + clientID + ", workloadIdentity: {enabled: true}}\nserviceAccount: {annotations: {team: platform}}\n",
			annotations: map[string]string{"azure.workload.identity/client-id": clientID, "team": "platform"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, install{files: tt.files, values: tt.values})
			sa := find[*corev1.ServiceAccount](t, r, "gitops-connector")
			if !maps.Equal(sa.Annotations, tt.annotations) {
				t.Errorf("ServiceAccount annotations %v, want %v", sa.Annotations, tt.annotations)
			}
			pod := r.deployment(t).Spec.Template
			if pod.Labels["azure.workload.identity/use"] != "true" {
				t.Errorf("pod labels %v lack azure.workload.identity/use: \"true\"", pod.Labels)
			}
			if pod.Spec.ServiceAccountName != sa.Name {
				t.Errorf("the pod runs as %q, not the annotated ServiceAccount %q", pod.Spec.ServiceAccountName, sa.Name)
			}
			if sel := r.deployment(t).Spec.Selector.MatchLabels; sel["azure.workload.identity/use"] != "" {
				t.Errorf("selector %v holds the workload identity label: upgrades would fail", sel)
			}
			for k := range credentialEnv(r.environment(t)) {
				if strings.HasPrefix(k, "AZURE_") {
					t.Errorf("the chart sets %s; the webhook sets the workload identity's variables", k)
				}
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		r := render(t, install{files: []string{azdoValues}})
		if _, ok := r.deployment(t).Spec.Template.Labels["azure.workload.identity/use"]; ok {
			t.Error("pod labelled for workload identity without azure.workload.identity.enabled")
		}
		if a := find[*corev1.ServiceAccount](t, r, "gitops-connector").Annotations; len(a) != 0 {
			t.Errorf("ServiceAccount annotations %v, want none", a)
		}
	})
	t.Run("a ServiceAccount the chart does not create is not required to have a client id", func(t *testing.T) {
		r := render(t, install{files: []string{azdoValues}, values: azdoOnly + "serviceAccount: {create: false, name: wi-account}\nazure: {workloadIdentity: {enabled: true}}\n"})
		if got := r.deployment(t).Spec.Template.Spec.ServiceAccountName; got != "wi-account" {
			t.Errorf("serviceAccountName %q", got)
		}
		if len(all[*corev1.ServiceAccount](r)) != 0 {
			t.Error("a ServiceAccount was rendered with serviceAccount.create false")
		}
	})
}

// Credential values that contradict each other or cannot be used fail the
// install, naming the values.
func TestInvalidCredentialValues(t *testing.T) {
	const clientID = "00000000-0000-0000-0000-0000000000c1"
	tests := []struct {
		name   string
		files  []string
		values string
		want   []string
	}{
		{"repository token inline and in a Secret", []string{githubValues}, "gitRepositoryPAT: a\ngitRepositoryExistingSecret: b\n",
			[]string{"gitRepositoryPAT and gitRepositoryExistingSecret are both set"}},
		{"orchestrator token inline and in a Secret", []string{githubValues}, "ciCdOrchestratorPAT: a\nciCdOrchestratorExistingSecret: b\n",
			[]string{"ciCdOrchestratorPAT and ciCdOrchestratorExistingSecret are both set"}},
		{"app id without key", []string{githubValues}, "githubApp: {appId: 123456}\n",
			[]string{"githubApp.appId is set without the app's private key"}},
		{"app key without id", []string{githubValues}, "githubApp: {existingSecret: github-app, installationId: 77}\n",
			[]string{"githubApp.appId is required with githubApp.privateKey, githubApp.existingSecret or githubApp.installationId"}},
		{"app key inline and in a Secret", []string{githubValues}, "githubApp: {appId: 1, existingSecret: s, privateKey: " + quoteYAML(testPEM) + "}\n",
			[]string{"githubApp.privateKey and githubApp.existingSecret are both set"}},
		{"app for a config without GitHub", []string{azdoValues}, "githubApp: {appId: 1, existingSecret: s}\n",
			[]string{"neither singleInstance.gitRepositoryType nor singleInstance.ciCdOrchestratorType is GITHUB"}},
		{"app in multiple-instances mode", []string{multiInstanceValues}, "githubApp: {appId: 1, existingSecret: s}\n",
			[]string{"githubApp is read in single-instance mode only", "spec.secretRef"}},
		{"app id that is not a number", []string{githubValues}, "githubApp: {appId: my-app, existingSecret: s}\n",
			[]string{"at '/githubApp/appId'"}},
		{"app key that is not a PEM", []string{githubValues}, "githubApp: {appId: 1, privateKey: not-a-pem}\n",
			[]string{"at '/githubApp/privateKey'"}},
		{"misspelt app value", []string{githubValues}, "githubApp: {appID: 1}\n",
			[]string{"at '/githubApp': additional properties 'appID' not allowed"}},
		{"service principal without tenant", []string{azdoValues}, "azure: {clientId: " + clientID + ", clientSecret: s}\n",
			[]string{"azure.tenantId and azure.clientId are required with a service principal"}},
		{"client secret inline and in a Secret", []string{azdoValues}, "azure: {tenantId: t, clientId: " + clientID + ", clientSecret: s, existingSecret: e}\n",
			[]string{"azure.clientSecret and azure.existingSecret are both set"}},
		{"client secret and certificate", []string{azdoValues}, "azure: {tenantId: t, clientId: " + clientID + ", existingSecret: e, clientCertificateSecret: c}\n",
			[]string{"azure.clientCertificateSecret is set together with a client secret"}},
		{"service principal and workload identity", []string{azdoValues}, "azure: {tenantId: t, clientId: " + clientID + ", clientSecret: s, workloadIdentity: {enabled: true}}\n",
			[]string{"choose one Azure credential", "azure.workloadIdentity.enabled"}},
		{"workload and managed identity", []string{azdoValues}, "azure: {clientId: " + clientID + ", workloadIdentity: {enabled: true}, managedIdentity: {enabled: true}}\n",
			[]string{"choose one Azure credential; set are: azure.workloadIdentity.enabled, azure.managedIdentity.enabled"}},
		{"workload identity without client id", []string{azdoValues}, "azure: {workloadIdentity: {enabled: true}}\n",
			[]string{"azure.clientId is required with azure.workloadIdentity.enabled"}},
		{"authority host without service principal", []string{azdoValues}, "azure: {authorityHost: 'https://login.microsoftonline.us/', managedIdentity: {enabled: true}}\n",
			[]string{"azure.authorityHost is used with a service principal only"}},
		{"authority host that is not https", []string{azdoValues}, "azure: {tenantId: t, clientId: " + clientID + ", clientSecret: s, authorityHost: 'http://login.example/'}\n",
			[]string{"at '/azure/authorityHost'"}},
		{"client id that is not a GUID", []string{azdoValues}, "azure: {clientId: my-app, managedIdentity: {enabled: true}}\n",
			[]string{"at '/azure/clientId'"}},
		{"service principal in multiple-instances mode", []string{multiInstanceValues}, "azure: {tenantId: t, clientId: " + clientID + ", clientSecret: s}\n",
			[]string{"read in single-instance mode only", "spec.secretRef"}},
		{"Azure credential for a config without Azure DevOps", []string{githubValues}, "azure: {managedIdentity: {enabled: true}}\n",
			[]string{"neither singleInstance.gitRepositoryType nor singleInstance.ciCdOrchestratorType is AZDO"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := installFails(t, install{files: tt.files, values: tt.values}, tt.want...)
			if strings.Contains(err.Error(), "TUlJRW93") {
				t.Errorf("the error shows the private key:\n%v", err)
			}
		})
	}
}
