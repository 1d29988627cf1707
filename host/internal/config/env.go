package config

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
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
	// EnvRepositoryPAT and EnvOrchestratorPAT give one integration its own
	// token; PAT serves both only as Credentials.For allows.
	EnvRepositoryPAT   = "GIT_REPOSITORY_PAT"
	EnvOrchestratorPAT = "CICD_ORCHESTRATOR_PAT"
	// A GitHub App for the integrations of type GITHUB without their own
	// token. The private key is given as a value or as a file.
	EnvGitHubAppID             = "GITHUB_APP_ID"
	EnvGitHubAppInstallationID = "GITHUB_APP_INSTALLATION_ID"
	EnvGitHubAppPrivateKey     = "GITHUB_APP_PRIVATE_KEY"
	EnvGitHubAppPrivateKeyFile = "GITHUB_APP_PRIVATE_KEY_FILE"
	// Microsoft Entra ID for the integrations of type AZDO without their
	// own token: a service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID and
	// AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), workload
	// identity (AZURE_FEDERATED_TOKEN_FILE, set by the Azure Workload
	// Identity webhook) or, with AZURE_IDENTITY=managed, a managed identity.
	EnvAzureClientSecret        = "AZURE_CLIENT_SECRET"
	EnvAzureClientCertPath      = "AZURE_CLIENT_CERTIFICATE_PATH"
	EnvAzureClientCertPassword  = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	EnvAzureIdentity            = "AZURE_IDENTITY"
	typeGitHub, typeAzureDevOps = "GITHUB", "AZDO"
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
	errs = append(errs, credentialsFromEnv(&c, getenv)...)
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Field = EnvName(errs[i].Field)
		}
		return c, []Invalid{{Key: SingleInstanceName, Errors: errs}}
	}
	return c, nil
}

// credentialsFromEnv sets the single instance's credentials: PAT for the
// config, then per integration its own token or the GitHub App or Entra ID
// credential its type takes.
func credentialsFromEnv(c *Config, getenv func(string) string) []sdk.FieldError {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c.Credentials.SetGlobalTokens(getenv)
	var errs []sdk.FieldError
	for _, r := range []struct {
		typ string
		src *CredentialSource
	}{
		{c.RepositoryType, &c.Credentials.Repository},
		{c.OrchestratorType, &c.Credentials.Orchestrator},
	} {
		if r.src.Credential.Kind != "" { // its own PAT
			continue
		}
		var cred sdk.Credential
		var err *sdk.FieldError
		switch r.typ {
		case typeGitHub:
			cred, err = gitHubAppFromEnv(get)
		case typeAzureDevOps:
			cred, err = entraIDFromEnv(get)
		}
		if err != nil {
			errs = append(errs, *err)
		}
		r.src.Credential = cred
	}
	return errs
}

func gitHubAppFromEnv(get func(string) string) (sdk.Credential, *sdk.FieldError) {
	id := get(EnvGitHubAppID)
	if id == "" {
		return sdk.Credential{}, nil
	}
	key := get(EnvGitHubAppPrivateKey)
	switch path := get(EnvGitHubAppPrivateKeyFile); {
	case path != "" && key != "":
		return sdk.Credential{}, &sdk.FieldError{Field: EnvGitHubAppPrivateKey, Message: "set either it or " + EnvGitHubAppPrivateKeyFile + ", not both"}
	case path != "":
		b, err := readFile(EnvGitHubAppPrivateKeyFile, path)
		if err != nil {
			return sdk.Credential{}, &sdk.FieldError{Field: EnvGitHubAppPrivateKeyFile, Message: err.Error()}
		}
		key = b
	case key == "":
		return sdk.Credential{}, &sdk.FieldError{Field: EnvGitHubAppPrivateKey, Message: "is required with " + EnvGitHubAppID + ": the app's private key (PEM), or its file in " + EnvGitHubAppPrivateKeyFile}
	}
	values := map[string]string{"appId": id, "privateKey": key}
	if inst := get(EnvGitHubAppInstallationID); inst != "" {
		values["installationId"] = inst
	}
	return sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: values}, nil
}

func entraIDFromEnv(get func(string) string) (sdk.Credential, *sdk.FieldError) {
	secret, certPath := get(EnvAzureClientSecret), get(EnvAzureClientCertPath)
	switch {
	case secret != "" || certPath != "":
		values := map[string]string{SecretKeyTenantID: get(EnvAzureTenantID), SecretKeyClientID: get(EnvAzureClientID)}
		for k, env := range map[string]string{SecretKeyTenantID: EnvAzureTenantID, SecretKeyClientID: EnvAzureClientID} {
			if values[k] == "" {
				return sdk.Credential{}, &sdk.FieldError{Field: env, Message: "is required for a service principal"}
			}
		}
		if secret != "" && certPath != "" {
			return sdk.Credential{}, &sdk.FieldError{Field: EnvAzureClientSecret, Message: "set either it or " + EnvAzureClientCertPath + ", not both"}
		}
		if secret != "" {
			values[SecretKeyClientSecret] = secret
		} else {
			pem, err := readFile(EnvAzureClientCertPath, certPath)
			if err != nil {
				return sdk.Credential{}, &sdk.FieldError{Field: EnvAzureClientCertPath, Message: err.Error()}
			}
			values[SecretKeyClientCertificate] = pem
			if p := get(EnvAzureClientCertPassword); p != "" {
				values[SecretKeyClientCertificatePass] = p
			}
		}
		if h := get(EnvAzureAuthorityHost); h != "" {
			values[SecretKeyAuthorityHost] = h
		}
		return sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: values}, nil
	case get(EnvAzureFederatedTokenFile) != "":
		cred, err := AzureIdentityCredential(AzureIdentityWorkload, get)
		if err != nil {
			return sdk.Credential{}, &sdk.FieldError{Field: EnvAzureFederatedTokenFile, Message: err.Error()}
		}
		return cred, nil
	case get(EnvAzureIdentity) != "":
		if v := get(EnvAzureIdentity); v != AzureIdentityManaged && v != AzureIdentityWorkload {
			return sdk.Credential{}, &sdk.FieldError{Field: EnvAzureIdentity, Message: fmt.Sprintf("unknown Azure identity %q: use %q or %q", v, AzureIdentityWorkload, AzureIdentityManaged)}
		}
		cred, err := AzureIdentityCredential(get(EnvAzureIdentity), get)
		if err != nil {
			return sdk.Credential{}, &sdk.FieldError{Field: EnvAzureIdentity, Message: err.Error()}
		}
		return cred, nil
	}
	return sdk.Credential{}, nil
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
