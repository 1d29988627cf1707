package config

import (
	"fmt"
	"hash"
	"os"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Keys of a credential Secret referenced without a key. The GitHub App keys
// are those of Flux's notification-controller and Argo CD; the Azure keys
// those of Flux's Azure Secrets.
const (
	SecretKeyGitHubAppID             = "githubAppID"
	SecretKeyGitHubAppInstallationID = "githubAppInstallationID"
	SecretKeyGitHubAppPrivateKey     = "githubAppPrivateKey"
	SecretKeyTenantID                = "tenantId"
	SecretKeyClientID                = "clientId"
	SecretKeyClientSecret            = "clientSecret"
	SecretKeyClientCertificate       = "clientCertificate"
	SecretKeyClientCertificatePass   = "clientCertificatePassword"
	SecretKeyAuthorityHost           = "authorityHost"
)

// Azure identities of the connector's pod (azureIdentity fields).
const (
	AzureIdentityWorkload = "workload"
	AzureIdentityManaged  = "managed"
)

// Environment variables of the Azure SDK, as the Azure Workload Identity
// webhook injects them; the connector passes them on to the plugin of the
// integration that uses the identity.
const (
	EnvAzureClientID           = "AZURE_CLIENT_ID"
	EnvAzureTenantID           = "AZURE_TENANT_ID"
	EnvAzureFederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
	EnvAzureAuthorityHost      = "AZURE_AUTHORITY_HOST"
)

// Credentials are the credential sources of a config: one for the whole
// config (secretRef, PAT) and one per integration.
type Credentials struct {
	Shared, Repository, Orchestrator CredentialSource
	// OneHost is set when one plugin serves both integrations' types
	// (e.g. GITEA and FORGEJO): the shared credential may serve both.
	OneHost bool
}

// CredentialSource is where one credential comes from, and the credential
// once resolved.
type CredentialSource struct {
	// SecretRef names a Secret (Kubernetes only).
	SecretRef *SecretRef
	// AzureIdentity is AzureIdentityWorkload or AzureIdentityManaged.
	AzureIdentity string
	// Credential is the resolved credential; zero when none.
	Credential sdk.Credential
}

// TokenCredential is a personal access token as a credential; zero for "".
func TokenCredential(token string) sdk.Credential {
	token = strings.TrimSpace(token)
	if token == "" {
		return sdk.Credential{}
	}
	return sdk.Credential{Kind: sdk.CredentialToken, Values: map[string]string{"token": token}}
}

// For returns the credential the plugin of role receives. An integration's
// own credential comes first. The shared one serves an integration without
// its own only when it cannot reach a plugin of another kind of host: the
// config has no orchestrator, both integrations are of one type, or the
// other integration has its own. The operator receives none.
func (cs Credentials) For(role Role, repositoryType, orchestratorType string) sdk.Credential {
	var own, other sdk.Credential
	switch role {
	case RoleRepository:
		own, other = cs.Repository.Credential, cs.Orchestrator.Credential
	case RoleOrchestrator:
		if orchestratorType == "" {
			return sdk.Credential{}
		}
		own, other = cs.Orchestrator.Credential, cs.Repository.Credential
	default:
		return sdk.Credential{}
	}
	if own.Kind != "" {
		return own
	}
	if cs.sharedServesBoth(repositoryType, orchestratorType) || other.Kind != "" {
		return cs.Shared.Credential
	}
	return sdk.Credential{}
}

func (cs Credentials) sharedServesBoth(repositoryType, orchestratorType string) bool {
	return cs.OneHost || orchestratorType == "" || strings.EqualFold(repositoryType, orchestratorType)
}

// Errors reports a shared credential that no integration may receive: the
// integrations are of two types and neither has its own. shared names the
// field or variable that gave it.
func (cs Credentials) Errors(repositoryType, orchestratorType, shared, repository, orchestrator string) []sdk.FieldError {
	if cs.Shared.Credential.Kind == "" || cs.sharedServesBoth(repositoryType, orchestratorType) ||
		cs.Repository.Credential.Kind != "" || cs.Orchestrator.Credential.Kind != "" {
		return nil
	}
	return []sdk.FieldError{{Field: shared, Message: fmt.Sprintf(
		"serves the repository and the orchestrator only when both are of one type, and they are %s and %s: "+
			"give the repository its own credential (%s) or the orchestrator its own (%s), so that neither plugin receives the other's",
		repositoryType, orchestratorType, repository, orchestrator)}}
}

// CredentialErrors reports a shared credential that no integration may
// receive (Credentials.Errors), with the names of the spec fields or, in
// single-instance mode, of the environment variables.
func (c Config) CredentialErrors(single bool) []sdk.FieldError {
	if single {
		return c.Credentials.Errors(c.RepositoryType, c.OrchestratorType, EnvPAT, EnvRepositoryPAT, EnvOrchestratorPAT)
	}
	return c.Credentials.Errors(c.RepositoryType, c.OrchestratorType, FieldSecretRef+" (or the PAT)", FieldRepositorySecretRef, FieldOrchestratorSecretRef)
}

func (cs Credentials) hash(h hash.Hash) {
	for _, s := range []CredentialSource{cs.Shared, cs.Repository, cs.Orchestrator} {
		fmt.Fprintf(h, "%s\x00", s.Credential.Kind)
		keys := make([]string, 0, len(s.Credential.Values))
		for k := range s.Credential.Values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%s\x00", k, s.Credential.Values[k])
		}
	}
}

// fromSpec reads the azureIdentity fields and checks that no source is
// given twice.
func (cs *Credentials) fromSpec(settings map[string]string) []sdk.FieldError {
	var errs []sdk.FieldError
	for _, f := range []struct {
		field, refField string
		src             *CredentialSource
	}{
		{FieldAzureIdentity, FieldSecretRef, &cs.Shared},
		{FieldRepositoryAzureIdentity, FieldRepositorySecretRef, &cs.Repository},
		{FieldOrchestratorAzureIdentity, FieldOrchestratorSecretRef, &cs.Orchestrator},
	} {
		v := settings[f.field]
		switch v {
		case "":
			continue
		case AzureIdentityWorkload, AzureIdentityManaged:
			f.src.AzureIdentity = v
		default:
			errs = append(errs, sdk.FieldError{Field: f.field, Message: fmt.Sprintf("unknown Azure identity %q: use %q (Azure Workload Identity) or %q (a managed identity)",
				v, AzureIdentityWorkload, AzureIdentityManaged)})
			continue
		}
		if f.src.SecretRef != nil {
			errs = append(errs, sdk.FieldError{Field: f.field, Message: "cannot be given with " + f.refField + ": choose one credential"})
		}
	}
	return errs
}

// SetGlobalTokens gives every credential source without a Secret or an
// identity the connector's global token of its kind: PAT for the config,
// GIT_REPOSITORY_PAT and CICD_ORCHESTRATOR_PAT for one integration.
func (cs *Credentials) SetGlobalTokens(getenv func(string) string) {
	for _, g := range []struct {
		env string
		src *CredentialSource
	}{{EnvPAT, &cs.Shared}, {EnvRepositoryPAT, &cs.Repository}, {EnvOrchestratorPAT, &cs.Orchestrator}} {
		if g.src.SecretRef == nil && g.src.AzureIdentity == "" {
			g.src.Credential = TokenCredential(getenv(g.env))
		}
	}
}

// ResolveAzureIdentities turns the azureIdentity fields into credentials
// from the connector's environment (getenv).
func (cs *Credentials) ResolveAzureIdentities(getenv func(string) string) []sdk.FieldError {
	var errs []sdk.FieldError
	for _, f := range []struct {
		field string
		src   *CredentialSource
	}{
		{FieldAzureIdentity, &cs.Shared},
		{FieldRepositoryAzureIdentity, &cs.Repository},
		{FieldOrchestratorAzureIdentity, &cs.Orchestrator},
	} {
		if f.src.AzureIdentity == "" {
			continue
		}
		cred, err := AzureIdentityCredential(f.src.AzureIdentity, getenv)
		if err != nil {
			errs = append(errs, sdk.FieldError{Field: f.field, Message: err.Error()})
			continue
		}
		f.src.Credential = cred
	}
	return errs
}

// AzureIdentityCredential is the credential of the pod's Azure identity:
// workload identity from the variables the Azure Workload Identity webhook
// injects, or a managed identity (AZURE_CLIENT_ID selects a user-assigned
// one).
func AzureIdentityCredential(identity string, getenv func(string) string) (sdk.Credential, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	switch identity {
	case AzureIdentityWorkload:
		var missing []string
		for _, k := range []string{EnvAzureClientID, EnvAzureTenantID, EnvAzureFederatedTokenFile} {
			if get(k) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return sdk.Credential{}, fmt.Errorf("workload identity needs %s in the connector's environment, as the Azure Workload Identity webhook sets them: "+
				"label the pod azure.workload.identity/use: \"true\" and annotate its service account with azure.workload.identity/client-id", strings.Join(missing, ", "))
		}
		values := map[string]string{
			"clientId": get(EnvAzureClientID), "tenantId": get(EnvAzureTenantID), "federatedTokenFile": get(EnvAzureFederatedTokenFile),
		}
		if h := get(EnvAzureAuthorityHost); h != "" {
			values["authorityHost"] = h
		}
		return sdk.Credential{Kind: sdk.CredentialAzureWorkloadIdentity, Values: values}, nil
	case AzureIdentityManaged:
		values := map[string]string{}
		if id := get(EnvAzureClientID); id != "" {
			values["clientId"] = id
		}
		return sdk.Credential{Kind: sdk.CredentialAzureManagedIdentity, Values: values}, nil
	}
	return sdk.Credential{}, fmt.Errorf("unknown Azure identity %q", identity)
}

// CredentialFromSecret reads the credential a Secret holds; get returns the
// value of one of its keys. A key named in the reference is a token.
// Otherwise the Secret holds a token under PAT, a GitHub App
// (githubAppID, githubAppInstallationID, githubAppPrivateKey) or an Azure
// service principal (tenantId, clientId, clientSecret or
// clientCertificate). Errors name keys, never values.
func CredentialFromSecret(ref SecretRef, get func(key string) (string, bool)) (sdk.Credential, error) {
	value := func(k string) string {
		v, _ := get(k)
		return strings.TrimSpace(v)
	}
	if v, ok := get(ref.Key); ok || ref.KeyGiven {
		if !ok {
			return sdk.Credential{}, fmt.Errorf("the Secret %q has no key %q", ref.Name, ref.Key)
		}
		if strings.TrimSpace(v) == "" {
			return sdk.Credential{}, fmt.Errorf("key %q of the Secret %q is empty", ref.Key, ref.Name)
		}
		return TokenCredential(v), nil
	}
	if _, ok := get(SecretKeyGitHubAppID); ok {
		values := map[string]string{"appId": value(SecretKeyGitHubAppID), "privateKey": value(SecretKeyGitHubAppPrivateKey)}
		if id := value(SecretKeyGitHubAppInstallationID); id != "" {
			values["installationId"] = id
		}
		for k, key := range map[string]string{"appId": SecretKeyGitHubAppID, "privateKey": SecretKeyGitHubAppPrivateKey} {
			if values[k] == "" {
				return sdk.Credential{}, fmt.Errorf("the Secret %q holds a GitHub App but its key %q is missing or empty", ref.Name, key)
			}
		}
		return sdk.Credential{Kind: sdk.CredentialGitHubApp, Values: values}, nil
	}
	if _, ok := get(SecretKeyClientID); ok {
		values := map[string]string{}
		for _, k := range []string{SecretKeyTenantID, SecretKeyClientID, SecretKeyClientSecret, SecretKeyClientCertificate, SecretKeyClientCertificatePass, SecretKeyAuthorityHost} {
			if v := value(k); v != "" {
				values[k] = v
			}
		}
		for _, k := range []string{SecretKeyTenantID, SecretKeyClientID} {
			if values[k] == "" {
				return sdk.Credential{}, fmt.Errorf("the Secret %q holds an Azure service principal but its key %q is missing or empty", ref.Name, k)
			}
		}
		if (values[SecretKeyClientSecret] == "") == (values[SecretKeyClientCertificate] == "") {
			return sdk.Credential{}, fmt.Errorf("the Secret %q holds an Azure service principal: it needs exactly one of the keys %q and %q",
				ref.Name, SecretKeyClientSecret, SecretKeyClientCertificate)
		}
		return sdk.Credential{Kind: sdk.CredentialAzureServicePrincipal, Values: values}, nil
	}
	return sdk.Credential{}, fmt.Errorf("the Secret %q has no key %q (a token), %q (a GitHub App) or %q (an Azure service principal)",
		ref.Name, ref.Key, SecretKeyGitHubAppID, SecretKeyClientID)
}

// readFile reads a credential file named by an environment variable.
func readFile(env, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read the file: %w", env, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("%s: the file is empty", env)
	}
	return string(b), nil
}
