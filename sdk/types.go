package sdk

import (
	"fmt"
	"strings"
	"time"
)

// Config is one named combination of operator, repository and orchestrator: a
// GitOpsConfig spec, or the single-instance environment. The host passes it
// with every call.
type Config struct {
	// Name of the config: metadata.name of a GitOpsConfig, "default" in
	// single-instance mode.
	Name string
	// Namespace of the GitOpsConfig resource; empty outside Kubernetes.
	Namespace string
	// Settings are the spec fields keyed by their camelCase names
	// (gitRepositoryType, gitHubOrgUrl, azdoOrgUrl, ...). Read them with
	// Setting; report problems from ValidateConfig.
	Settings map[string]string
	// Token is the personal access token of this plugin's integration:
	// Credential's token when its kind is CredentialToken, else "". It must
	// never appear in a log line or an error.
	Token string
	// Credential is the credential of this plugin's integration and of no
	// other: a repository plugin receives the repository's, an orchestrator
	// plugin the orchestrator's, an operator plugin none. Zero when the
	// config gives none. Its values must never appear in a log line or an
	// error.
	Credential Credential
	// StatusContext is an optional environment name. The host already
	// prefixes status names with it; orchestrators use it to keep
	// environments apart.
	StatusContext string
	// Revision changes whenever any other field changes; a plugin may cache
	// clients by it.
	Revision string
}

// Credential kinds. A plugin reports a kind it does not support from
// ValidateConfig.
const (
	// CredentialToken: value "token", a personal access token.
	CredentialToken = "token"
	// CredentialGitHubApp: values "appId", "installationId" (optional: looked
	// up from the repository) and "privateKey" (PEM).
	CredentialGitHubApp = "github_app"
	// CredentialAzureServicePrincipal: values "tenantId", "clientId" and
	// either "clientSecret" or "clientCertificate" (PEM holding the
	// certificate and its private key) with an optional
	// "clientCertificatePassword"; "authorityHost" optional.
	CredentialAzureServicePrincipal = "azure_service_principal"
	// CredentialAzureWorkloadIdentity: values "tenantId", "clientId",
	// "federatedTokenFile" (a path, read again for every new access token)
	// and an optional "authorityHost".
	CredentialAzureWorkloadIdentity = "azure_workload_identity"
	// CredentialAzureManagedIdentity: value "clientId", optional, selects a
	// user-assigned identity.
	CredentialAzureManagedIdentity = "azure_managed_identity"
)

// Credential is how a plugin authenticates to the system it integrates
// with: a kind (CredentialToken, CredentialGitHubApp, ...) and its values.
type Credential struct {
	Kind   string
	Values map[string]string
}

// Value returns the trimmed value of key, or "".
func (c Credential) Value(key string) string {
	return strings.TrimSpace(c.Values[key])
}

// String names the kind only, so that printing a credential never prints a
// secret.
func (c Credential) String() string {
	if c.Kind == "" {
		return "none"
	}
	return c.Kind
}

// GoString is String, for %#v.
func (c Credential) GoString() string { return c.String() }

// Setting returns the trimmed value of a spec field, or "".
func (c Config) Setting(key string) string {
	return strings.TrimSpace(c.Settings[key])
}

// FieldError is one problem with one field of a Config.
type FieldError struct {
	// Field is the camelCase spec field, e.g. "gitHubOrgUrl".
	Field string `json:"field"`
	// Message says what is wrong and what is expected.
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// State is the normalized state of a commit status. Repository plugins map
// only this state to their own; the raw operator state is informational.
type State int

// The normalized states.
const (
	StateUnspecified State = iota
	StatePending
	StateSucceeded
	StateFailed
	StateError
	StateNotApplicable
)

var stateNames = [...]string{"unspecified", "pending", "succeeded", "failed", "error", "not_applicable"}

// String returns the state's name: pending, succeeded, failed, error,
// not_applicable (or unspecified).
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return stateNames[0]
	}
	return stateNames[s]
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// Status is one commit status: a named context and its state.
type Status struct {
	// Name is the context, e.g. "Status", "Health".
	Name string `json:"name"`
	// State is the normalized state.
	State State `json:"state"`
	// RawState is the operator's own state, e.g. "ReconciliationSucceeded".
	RawState string `json:"raw_state"`
	// Description is a human-readable description.
	Description string `json:"description"`
	// Genre is the Flux object kind ("Kustomization") or "ArgoCD".
	Genre string `json:"genre"`
	// Operator is the operator's display name: "Flux" or "ArgoCD".
	Operator string `json:"operator"`
}

// Commit is a git commit as a repository reports it.
type Commit struct {
	ID string
	// Message is the full commit message (Azure DevOps: the comment).
	Message   string
	ParentIDs []string
	// CommittedAt is the committer date; zero when unknown.
	CommittedAt time.Time
}

// CommitStatus is a commit status as the repository holds it, as
// ListStatuses reports it.
type CommitStatus struct {
	// Name is the context's name as posted: Status.Name, with the host's
	// "<statusContext>/" prefix.
	Name string
	// Genre is the context's genre where the repository has one (Azure
	// DevOps), else "".
	Genre string
	// State is the normalized state.
	State       State
	Description string
	// UpdatedAt is when the status was posted.
	UpdatedAt time.Time
}

// PullRequestState is the state of a pull request.
type PullRequestState int

// Pull request states.
const (
	PullRequestStateUnspecified PullRequestState = iota
	PullRequestActive
	PullRequestCompleted
	PullRequestAbandoned
)

// PullRequest is a pull request of a repository.
type PullRequest struct {
	Number int64
	State  PullRequestState
	Title  string
	// MergeCommitID is the commit that merged the pull request, when completed.
	MergeCommitID string
	// ClosedAt is when the pull request was completed or abandoned.
	ClosedAt time.Time
	// Repository is the repository the pull request belongs to.
	Repository string
}
