// Package config defines a connector configuration — one named combination of
// GitOps operator, git repository and CI/CD orchestrator — and the sources it
// comes from: the single-instance environment, GitOpsConfig documents in
// files, and (package kubesource) GitOpsConfig resources in Kubernetes.
//
// Every source produces configs through FromSpec, so the three accept the
// same spec schema and report the same field errors.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Spec field names (camelCase, as in a GitOpsConfig spec).
const (
	FieldRepositoryType   = "gitRepositoryType"
	FieldOrchestratorType = "ciCdOrchestratorType"
	FieldOperatorType     = "gitOpsOperatorType"
	FieldAppURL           = "gitOpsAppURL"
	FieldStatusContext    = "statusContext"
	FieldEnvironment      = "environment"
	FieldSecretRef        = "secretRef"
	// FieldSkippedCommits says what becomes of the commits the operator
	// skipped: SkippedNotify (the default) or SkippedIgnore.
	FieldSkippedCommits = "skippedCommits"
	// FieldRepositorySecretRef and FieldOrchestratorSecretRef name the
	// Secret of one integration's credential (see credential.go).
	FieldRepositorySecretRef   = "repositorySecretRef"
	FieldOrchestratorSecretRef = "orchestratorSecretRef"
	// FieldAzureIdentity (config-wide) and its per-integration forms take
	// an Azure identity of the connector's pod instead of a Secret:
	// "workload" or "managed".
	FieldAzureIdentity             = "azureIdentity"
	FieldRepositoryAzureIdentity   = "repositoryAzureIdentity"
	FieldOrchestratorAzureIdentity = "orchestratorAzureIdentity"
	// FieldWebhookSecretRef names the Secret holding the config's own
	// webhook secret (see package webhookauth).
	FieldWebhookSecretRef = "webhookSecretRef"
)

// Values of FieldSkippedCommits.
const (
	// SkippedNotify tells each skipped commit's pipeline the outcome of the
	// deployment that contained it.
	SkippedNotify = "notify"
	// SkippedIgnore tells only the commits the operator reported.
	SkippedIgnore = "ignore"
)

// Default keys of the Secrets a config names.
const (
	DefaultSecretKey        = "PAT"
	DefaultWebhookSecretKey = "token"
)

// SecretRef names a Secret in the config's namespace and the key of a value
// in it.
type SecretRef struct {
	Name string
	// Key in the Secret's data; DefaultSecretKey (secretRef) or
	// DefaultWebhookSecretKey (webhookSecretRef) when unset.
	Key string
	// KeyGiven is whether the spec named the key. A credential Secret
	// referenced without a key may hold a GitHub App or an Azure service
	// principal instead of a token (CredentialFromSecret).
	KeyGiven bool
}

// Config is one named combination of operator, repository and orchestrator.
type Config struct {
	// Name is metadata.name of a GitOpsConfig, or "default" for the
	// single-instance environment.
	Name string
	// Namespace is the GitOpsConfig's namespace; empty outside Kubernetes.
	Namespace string
	// Generation is metadata.generation of a GitOpsConfig resource.
	Generation int64

	OperatorType   string
	RepositoryType string
	// OrchestratorType is "" for a config that only posts statuses
	// (ciCdOrchestratorType left out or NONE).
	OrchestratorType string

	// Settings are all string fields of the spec, the four types included,
	// passed to plugins as they are.
	Settings map[string]string
	// Credentials are where the integrations' credentials come from and,
	// once a source resolved them, the credentials themselves.
	Credentials Credentials
	// StatusContext prefixes every status context ("dev" → "dev/Status").
	StatusContext string
	// WebhookSecretRef names the Secret holding the config's own webhook
	// secret; nil means the global webhook credentials apply.
	WebhookSecretRef *SecretRef
	// WebhookSecret is the resolved webhook secret. Plugins never see it.
	WebhookSecret string
	// RequiredEnvironments are the environments (status contexts, its own
	// included) that must all have deployed a commit before the
	// orchestrator is told of it; none means the config tells its
	// orchestrator of its own deployments (package gate).
	RequiredEnvironments []string

	// revision is Revision computed once by Frozen; "" until then.
	revision string
}

// TellsSkippedCommits reports whether the pipelines of the commits the
// operator skipped are told (skippedCommits is not "ignore").
func (c Config) TellsSkippedCommits() bool {
	return !strings.EqualFold(c.Settings[FieldSkippedCommits], SkippedIgnore)
}

// Key identifies a config: "namespace/name", or "name" outside Kubernetes.
func (c Config) Key() string {
	if c.Namespace == "" {
		return c.Name
	}
	return c.Namespace + "/" + c.Name
}

// Role is the part a plugin plays for a config; it decides the credential
// the plugin receives.
type Role int

// The roles.
const (
	RoleOperator Role = iota
	RoleRepository
	RoleOrchestrator
)

// SDK returns the config as the plugin of role receives it: with the
// credential of its own integration and no other (none for the operator).
func (c Config) SDK(role Role) sdk.Config {
	cred := c.Credentials.For(role, c.RepositoryType, c.OrchestratorType)
	sc := sdk.Config{
		Name:          c.Name,
		Namespace:     c.Namespace,
		Settings:      c.Settings,
		StatusContext: c.StatusContext,
		Revision:      c.Revision(),
		Credential:    cred,
	}
	if cred.Kind == sdk.CredentialToken {
		sc.Token = cred.Value("token")
	}
	return sc
}

// Revision hashes everything a plugin sees, so plugins can cache by it.
// Every plugin call carries it: a config from a config set (Frozen) has it
// computed already, any other computes it on each call.
func (c Config) Revision() string {
	if c.revision != "" {
		return c.revision
	}
	return c.computeRevision()
}

// Frozen returns c with its revision computed once, for a config complete
// with its credentials that is served from now on (configset.Build does
// it): the host then hashes a config once per change, not on every plugin
// call of every event. The copy's settings and credentials must not change
// afterwards; a changed config is a new one, frozen again.
func (c Config) Frozen() Config {
	c.revision = c.computeRevision()
	return c
}

func (c Config) computeRevision() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Name, c.Namespace, c.StatusContext)
	c.Credentials.hash(h)
	keys := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, c.Settings[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Equal reports whether two configs would behave the same.
func (c Config) Equal(o Config) bool {
	return c.Revision() == o.Revision() && c.Generation == o.Generation && c.WebhookSecret == o.WebhookSecret &&
		c.OperatorType == o.OperatorType && c.RepositoryType == o.RepositoryType &&
		c.OrchestratorType == o.OrchestratorType && slices.Equal(c.RequiredEnvironments, o.RequiredEnvironments)
}

var contextRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// FromSpec builds a config from a GitOpsConfig spec (decoded JSON or YAML) and
// reports every problem with its field. Values other than strings are errors,
// except secretRef and webhookSecretRef ({name, key}).
func FromSpec(name, namespace string, spec map[string]any) (Config, []sdk.FieldError) {
	c := Config{Name: name, Namespace: namespace, Settings: map[string]string{}}
	var errs []sdk.FieldError
	if strings.TrimSpace(name) == "" {
		errs = append(errs, sdk.FieldError{Field: "metadata.name", Message: "is required"})
	}
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := spec[k]
		switch k {
		case FieldSecretRef, FieldRepositorySecretRef, FieldOrchestratorSecretRef, FieldWebhookSecretRef:
			defaultKey := DefaultSecretKey
			if k == FieldWebhookSecretRef {
				defaultKey = DefaultWebhookSecretKey
			}
			ref, err := secretRefFromSpec(k, defaultKey, v)
			if err != nil {
				errs = append(errs, *err)
			}
			switch k {
			case FieldSecretRef:
				c.Credentials.Shared.SecretRef = ref
			case FieldRepositorySecretRef:
				c.Credentials.Repository.SecretRef = ref
			case FieldOrchestratorSecretRef:
				c.Credentials.Orchestrator.SecretRef = ref
			default:
				c.WebhookSecretRef = ref
			}
			continue
		case FieldRequiredEnvironments:
			var err *sdk.FieldError
			if c.RequiredEnvironments, err = requiredFromSpec(v); err != nil {
				errs = append(errs, *err)
			}
			continue
		}
		switch s := v.(type) {
		case string:
			c.Settings[k] = strings.TrimSpace(s)
		case nil:
		default:
			errs = append(errs, sdk.FieldError{Field: k, Message: fmt.Sprintf("must be a string, got %T", v)})
		}
	}
	c.OperatorType = strings.ToUpper(c.Settings[FieldOperatorType])
	c.RepositoryType = strings.ToUpper(c.Settings[FieldRepositoryType])
	c.OrchestratorType = strings.ToUpper(c.Settings[FieldOrchestratorType])
	if c.OrchestratorType == NoOrchestrator {
		c.OrchestratorType = ""
	}
	for _, f := range []string{FieldRepositoryType, FieldOperatorType, FieldAppURL} {
		if c.Settings[f] == "" {
			errs = append(errs, sdk.FieldError{Field: f, Message: "is required"})
		}
	}
	c.StatusContext = c.Settings[FieldStatusContext]
	if c.StatusContext == "" {
		c.StatusContext = c.Settings[FieldEnvironment]
	}
	if v := c.Settings[FieldSkippedCommits]; v != "" && !strings.EqualFold(v, SkippedNotify) && !strings.EqualFold(v, SkippedIgnore) {
		errs = append(errs, sdk.FieldError{Field: FieldSkippedCommits, Message: fmt.Sprintf("must be %q (the default) or %q, got %q", SkippedNotify, SkippedIgnore, v)})
	}
	if c.StatusContext != "" && !contextRE.MatchString(c.StatusContext) {
		errs = append(errs, sdk.FieldError{Field: FieldStatusContext, Message: "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	if err := withOwnEnvironment(&c); err != nil {
		errs = append(errs, *err)
	}
	errs = append(errs, c.Credentials.fromSpec(c.Settings)...)
	return c, errs
}

// NoOrchestrator as ciCdOrchestratorType (or leaving it out) makes a config
// that posts commit statuses and tells no pipeline.
const NoOrchestrator = "NONE"

// secretRefFromSpec reads the {name, key} object of field.
func secretRefFromSpec(field, defaultKey string, v any) (*SecretRef, *sdk.FieldError) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &sdk.FieldError{Field: field, Message: "must be an object with name and key"}
	}
	ref := &SecretRef{Key: defaultKey}
	for k, val := range m {
		s, ok := val.(string)
		if !ok {
			return nil, &sdk.FieldError{Field: field + "." + k, Message: "must be a string"}
		}
		switch k {
		case "name":
			ref.Name = strings.TrimSpace(s)
		case "key":
			if strings.TrimSpace(s) != "" {
				ref.Key = strings.TrimSpace(s)
				ref.KeyGiven = true
			}
		default:
			return nil, &sdk.FieldError{Field: field + "." + k, Message: "unknown field; " + field + " has name and key"}
		}
	}
	if ref.Name == "" {
		return nil, &sdk.FieldError{Field: field + ".name", Message: "is required"}
	}
	return ref, nil
}

// Invalid is a config document that could not be used, and why.
type Invalid struct {
	// Key is the config's key ("namespace/name" or "name"), or the document's
	// location when it has no name.
	Key        string
	Generation int64
	Errors     []sdk.FieldError
}

// Message joins the field errors into one sentence.
func (i Invalid) Message() string {
	parts := make([]string, 0, len(i.Errors))
	for _, e := range i.Errors {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// Snapshot is the complete set of configs a source holds at one moment.
type Snapshot struct {
	Configs []Config
	Invalid []Invalid
}
