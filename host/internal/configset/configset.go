// Package configset holds the validated configs the host serves at one
// moment, and finds the config an event is for.
//
// A Set is immutable: a new snapshot from a config source becomes a new Set
// that replaces the old one atomically, so an update never leaves two
// versions of one config serving at once.
package configset

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Plugins gives the capabilities of a type, or an error that lists the
// types available.
type Plugins interface {
	Operator(typ string) (sdk.Operator, error)
	Repository(typ string) (sdk.Repository, error)
	Orchestrator(typ string) (sdk.Orchestrator, error)
}

// PluginNames is implemented by Plugins that can tell which plugin serves a
// type; configs whose two integrations one plugin serves may share one
// credential.
type PluginNames interface {
	PluginName(c sdk.Capability, typ string) string
}

// Set is an immutable set of configs.
type Set struct {
	single  bool
	byKey   map[string]config.Config
	byName  map[string][]string // name → keys
	invalid map[string]string   // key → why
}

// Valid lists the valid configs, sorted by key.
func (s *Set) Valid() []config.Config {
	out := make([]config.Config, 0, len(s.byKey))
	for _, c := range s.byKey {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b config.Config) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// Single reports whether the set is the single-instance environment.
func (s *Set) Single() bool { return s.single }

// Lookup finds a config by namespace and name, or by name alone when the
// namespace is empty. The error says why no config is found: none by that
// name, the config is invalid, or the name is ambiguous.
func (s *Set) Lookup(namespace, name string) (config.Config, error) {
	if s.single && namespace == "" && (name == "" || name == config.SingleInstanceName) {
		for _, c := range s.byKey {
			return c, nil
		}
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	} else if keys := s.byName[name]; len(keys) == 1 {
		key = keys[0]
	} else if len(keys) > 1 {
		return config.Config{}, fmt.Errorf("config name %q is ambiguous: it exists in %s; route with /gitopsphase/{namespace}/{name}",
			name, strings.Join(keys, ", "))
	}
	if c, ok := s.byKey[key]; ok {
		return c, nil
	}
	if why, ok := s.invalid[key]; ok {
		return config.Config{}, fmt.Errorf("config %q is invalid: %s", key, why)
	}
	if invalidKeys := s.invalidByName(name); namespace == "" && len(invalidKeys) > 0 {
		return config.Config{}, fmt.Errorf("config %q is invalid: %s", invalidKeys[0], s.invalid[invalidKeys[0]])
	}
	return config.Config{}, fmt.Errorf("no config named %q", key)
}

func (s *Set) invalidByName(name string) []string {
	var keys []string
	for k := range s.invalid {
		if k == name || strings.HasSuffix(k, "/"+name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// OperatorTypes lists the operator types of the valid configs, sorted.
func (s *Set) OperatorTypes() []string {
	var types []string
	for _, c := range s.byKey {
		if !slices.Contains(types, c.OperatorType) {
			types = append(types, c.OperatorType)
		}
	}
	slices.Sort(types)
	return types
}

// Result is the outcome of validating one config.
type Result struct {
	Key        string
	Generation int64
	Valid      bool
	// Reason is CamelCase: Valid, InvalidSpec, UnknownType, PluginRejected,
	// ValidationFailed.
	Reason  string
	Message string
}

// Build validates a snapshot and returns the Set of its valid configs with
// the result for each config. In single-instance mode, field names in
// messages are the environment variables the user set.
func Build(ctx context.Context, snap config.Snapshot, plugins Plugins, single bool) (*Set, []Result) {
	s := &Set{single: single, byKey: map[string]config.Config{}, byName: map[string][]string{}, invalid: map[string]string{}}
	var results []Result
	for _, inv := range snap.Invalid {
		msg := inv.Message()
		s.invalid[inv.Key] = msg
		results = append(results, Result{Key: inv.Key, Generation: inv.Generation, Reason: "InvalidSpec", Message: msg})
	}
	for _, c := range snap.Configs {
		if p, ok := plugins.(PluginNames); ok && c.OrchestratorType != "" {
			repo, orch := p.PluginName(sdk.CapabilityRepository, c.RepositoryType), p.PluginName(sdk.CapabilityOrchestrator, c.OrchestratorType)
			c.Credentials.OneHost = repo != "" && repo == orch
		}
		res := validate(ctx, c, plugins, single)
		results = append(results, res)
		if !res.Valid {
			s.invalid[c.Key()] = res.Message
			continue
		}
		s.byKey[c.Key()] = c.Frozen()
		s.byName[c.Name] = append(s.byName[c.Name], c.Key())
	}
	for _, keys := range s.byName {
		slices.Sort(keys)
	}
	return s, results
}

func validate(ctx context.Context, c config.Config, plugins Plugins, single bool) Result {
	res := Result{Key: c.Key(), Generation: c.Generation}
	type check struct {
		field     string
		role      config.Role
		validator interface {
			ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error)
		}
	}
	var checks []check
	var unknown []string
	if op, err := plugins.Operator(c.OperatorType); err != nil {
		unknown = append(unknown, fieldName(config.FieldOperatorType, single)+": "+err.Error())
	} else {
		checks = append(checks, check{config.FieldOperatorType, config.RoleOperator, op})
	}
	if repo, err := plugins.Repository(c.RepositoryType); err != nil {
		unknown = append(unknown, fieldName(config.FieldRepositoryType, single)+": "+err.Error())
	} else {
		checks = append(checks, check{config.FieldRepositoryType, config.RoleRepository, repo})
	}
	if c.OrchestratorType != "" { // else statuses only: no pipeline to tell
		if orch, err := plugins.Orchestrator(c.OrchestratorType); err != nil {
			unknown = append(unknown, fieldName(config.FieldOrchestratorType, single)+": "+err.Error())
		} else {
			checks = append(checks, check{config.FieldOrchestratorType, config.RoleOrchestrator, orch})
		}
	}
	if len(unknown) > 0 {
		res.Reason, res.Message = "UnknownType", strings.Join(unknown, "; ")
		return res
	}
	// A credential is judged against the plugins that serve the types, so
	// only once every type is known.
	if errs := c.CredentialErrors(single); len(errs) > 0 {
		res.Reason, res.Message = "InvalidCredential", config.Invalid{Errors: errs}.Message()
		return res
	}
	var msgs []string
	seen := map[string]bool{}
	for _, ch := range checks {
		errs, err := ch.validator.ValidateConfig(ctx, c.SDK(ch.role))
		if err != nil {
			res.Reason, res.Message = "ValidationFailed", fmt.Sprintf("the %s plugin could not validate the config: %v", c.Settings[ch.field], err)
			return res
		}
		for _, e := range errs {
			msg := fieldName(e.Field, single) + ": " + e.Message
			if !seen[msg] {
				seen[msg] = true
				msgs = append(msgs, msg)
			}
		}
	}
	if len(msgs) > 0 {
		res.Reason, res.Message = "PluginRejected", strings.Join(msgs, "; ")
		return res
	}
	res.Valid, res.Reason, res.Message = true, "Valid", "the config is valid and receives events"
	return res
}

func fieldName(field string, single bool) string {
	if single {
		return config.EnvName(field)
	}
	return field
}
