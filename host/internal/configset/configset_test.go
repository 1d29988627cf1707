package configset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// validator rejects a config whose "owner" setting is "bad" and fails to
// validate one whose "owner" is "down".
type validator struct {
	sdk.UnimplementedRepository
	sdk.UnimplementedOrchestrator
}

func (validator) ParseEvent(context.Context, sdk.ParseRequest) (sdk.ParseResult, error) {
	return sdk.ParseResult{}, nil
}

func (validator) ValidateConfig(_ context.Context, c sdk.Config) ([]sdk.FieldError, error) {
	switch c.Settings["owner"] {
	case "bad":
		return []sdk.FieldError{{Field: "owner", Message: "is not an organization"}}, nil
	case "down":
		return nil, errors.New("the API did not answer")
	}
	return nil, nil
}

// plugins knows FLUX and ARGOCD operators and GITHUB repositories and
// orchestrators.
type plugins struct{}

func lookup(typ string, known ...string) (validator, error) {
	if !slices.Contains(known, typ) {
		return validator{}, fmt.Errorf("no plugin for %q (have %s)", typ, strings.Join(known, ", "))
	}
	return validator{}, nil
}

func (plugins) Operator(typ string) (sdk.Operator, error)         { return lookup(typ, "FLUX", "ARGOCD") }
func (plugins) Repository(typ string) (sdk.Repository, error)     { return lookup(typ, "GITHUB") }
func (plugins) Orchestrator(typ string) (sdk.Orchestrator, error) { return lookup(typ, "GITHUB") }

func cfg(namespace, name, operator, owner string) config.Config {
	return config.Config{Namespace: namespace, Name: name, OperatorType: operator, RepositoryType: "GITHUB",
		OrchestratorType: "GITHUB", Settings: map[string]string{"owner": owner, config.FieldOperatorType: operator}}
}

func build(t *testing.T, snap config.Snapshot) (*Set, map[string]Result) {
	t.Helper()
	set, results := Build(context.Background(), snap, plugins{}, false)
	byKey := map[string]Result{}
	for _, r := range results {
		byKey[r.Key] = r
	}
	return set, byKey
}

func TestBuildValidatesEveryConfigAndSaysWhy(t *testing.T) {
	set, results := build(t, config.Snapshot{
		Configs: []config.Config{
			cfg("team-b", "flux", "FLUX", "kaizentm"),
			cfg("team-a", "argo", "ARGOCD", "kaizentm"),
			cfg("team-a", "tekton", "TEKTON", "kaizentm"),
			cfg("team-a", "rejected", "FLUX", "bad"),
			cfg("team-a", "unvalidated", "FLUX", "down"),
		},
		Invalid: []config.Invalid{{Key: "team-a/broken", Errors: []sdk.FieldError{{Field: "gitHubOrgUrl", Message: "is required"}}}},
	})
	for key, want := range map[string]struct{ reason, message string }{
		"team-b/flux":        {"Valid", "receives events"},
		"team-a/argo":        {"Valid", "receives events"},
		"team-a/tekton":      {"UnknownType", `gitOpsOperatorType: no plugin for "TEKTON"`},
		"team-a/rejected":    {"PluginRejected", "owner: is not an organization"},
		"team-a/unvalidated": {"ValidationFailed", "the FLUX plugin could not validate the config: the API did not answer"},
		"team-a/broken":      {"InvalidSpec", "is required"},
	} {
		r := results[key]
		if r.Reason != want.reason || !strings.Contains(r.Message, want.message) || r.Valid != (want.reason == "Valid") {
			t.Errorf("%s: %+v, want %s with %q", key, r, want.reason, want.message)
		}
	}
	var keys []string
	for _, c := range set.Valid() {
		keys = append(keys, c.Key())
	}
	if !slices.Equal(keys, []string{"team-a/argo", "team-b/flux"}) {
		t.Errorf("valid configs %v, want the two valid ones sorted by key", keys)
	}
	if got := set.OperatorTypes(); !slices.Equal(got, []string{"ARGOCD", "FLUX"}) {
		t.Errorf("operator types %v", got)
	}
}

func TestASingleInstanceNamesTheEnvironmentVariables(t *testing.T) {
	c := cfg("", config.SingleInstanceName, "TEKTON", "kaizentm")
	set, results := Build(context.Background(), config.Snapshot{Configs: []config.Config{c}}, plugins{}, true)
	if msg := results[0].Message; !strings.HasPrefix(msg, config.EnvName(config.FieldOperatorType)+": ") {
		t.Errorf("message %q does not name the environment variable", msg)
	}
	if _, err := set.Lookup("", ""); err == nil {
		t.Error("an invalid single-instance config was found")
	}
}

func TestLookupFindsByNameOrKeyAndSaysWhyNot(t *testing.T) {
	set, _ := build(t, config.Snapshot{
		Configs: []config.Config{
			cfg("team-a", "shared", "FLUX", "kaizentm"),
			cfg("team-b", "shared", "FLUX", "kaizentm"),
			cfg("team-a", "only", "FLUX", "kaizentm"),
			cfg("team-a", "rejected", "FLUX", "bad"),
		},
	})
	for _, tt := range []struct{ namespace, name, want, err string }{
		{"", "only", "team-a/only", ""},
		{"team-b", "shared", "team-b/shared", ""},
		{"", "shared", "", "is ambiguous: it exists in team-a/shared, team-b/shared"},
		{"team-a", "rejected", "", `config "team-a/rejected" is invalid: owner: is not an organization`},
		{"", "rejected", "", `config "team-a/rejected" is invalid`},
		{"team-c", "only", "", `no config named "team-c/only"`},
		{"", "nope", "", `no config named "nope"`},
	} {
		c, err := set.Lookup(tt.namespace, tt.name)
		switch {
		case tt.err == "" && (err != nil || c.Key() != tt.want):
			t.Errorf("Lookup(%q, %q) = %s, %v; want %s", tt.namespace, tt.name, c.Key(), err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Lookup(%q, %q) error %v, want %q", tt.namespace, tt.name, err, tt.err)
		}
	}
}

// pluginsByName serves GITEA and FORGEJO with one plugin and GITHUB with
// another.
type pluginsByName struct{}

func (pluginsByName) Operator(typ string) (sdk.Operator, error) { return lookup(typ, "FLUX") }
func (pluginsByName) Repository(typ string) (sdk.Repository, error) {
	return lookup(typ, "GITHUB", "GITEA", "FORGEJO")
}
func (pluginsByName) Orchestrator(typ string) (sdk.Orchestrator, error) {
	return lookup(typ, "GITHUB", "GITEA", "FORGEJO")
}
func (pluginsByName) PluginName(_ sdk.Capability, typ string) string {
	if typ == "GITHUB" {
		return "github"
	}
	return "gitea"
}

func TestOneCredentialServesBothIntegrationsOnlyOfOnePlugin(t *testing.T) {
	withPAT := func(name, repo, orch string) config.Config {
		c := config.Config{Name: name, OperatorType: "FLUX", RepositoryType: repo, OrchestratorType: orch, Settings: map[string]string{}}
		c.Credentials.Shared.Credential = config.TokenCredential("one-pat")
		return c
	}
	set, results := Build(context.Background(), config.Snapshot{Configs: []config.Config{
		withPAT("gitea-forgejo", "GITEA", "FORGEJO"), withPAT("gitea-github", "GITEA", "GITHUB"),
	}}, pluginsByName{}, false)
	byKey := map[string]Result{}
	for _, r := range results {
		byKey[r.Key] = r
	}
	if r := byKey["gitea-forgejo"]; !r.Valid {
		t.Errorf("gitea-forgejo: %+v", r)
	} else if c, _ := set.Lookup("", "gitea-forgejo"); c.SDK(config.RoleOrchestrator).Token != "one-pat" || c.SDK(config.RoleRepository).Token != "one-pat" {
		t.Error("the PAT does not serve both integrations of one plugin")
	}
	if r := byKey["gitea-github"]; r.Valid || r.Reason != "InvalidCredential" || !strings.Contains(r.Message, "repositorySecretRef") || strings.Contains(r.Message, "one-pat") {
		t.Errorf("gitea-github: %+v", r)
	}
}
