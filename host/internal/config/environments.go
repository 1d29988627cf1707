package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// FieldRequiredEnvironments lists the environments (status contexts) that
// must all have deployed a commit before the config's orchestrator is told
// of it (package gate). A list in a GitOpsConfig; a comma-separated string
// in the single-instance environment (REQUIRED_ENVIRONMENTS).
const FieldRequiredEnvironments = "requiredEnvironments"

// EnvRequiredEnvironments is the single-instance variable of
// FieldRequiredEnvironments.
const EnvRequiredEnvironments = "REQUIRED_ENVIRONMENTS"

// requiredFromSpec reads requiredEnvironments: a list of strings, or one
// string of names separated by commas or spaces.
func requiredFromSpec(v any) ([]string, *sdk.FieldError) {
	var names []string
	switch l := v.(type) {
	case nil:
		return nil, nil
	case string:
		names = strings.FieldsFunc(l, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	case []any:
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, &sdk.FieldError{Field: fmt.Sprintf("%s[%d]", FieldRequiredEnvironments, i), Message: fmt.Sprintf("must be a string, got %T", e)}
			}
			names = append(names, strings.TrimSpace(s))
		}
	case []string:
		names = l
	default:
		return nil, &sdk.FieldError{Field: FieldRequiredEnvironments, Message: fmt.Sprintf("must be a list of environment names, got %T", v)}
	}
	var out []string
	for _, n := range names {
		if !contextRE.MatchString(n) {
			return nil, &sdk.FieldError{Field: FieldRequiredEnvironments, Message: fmt.Sprintf("%q is not an environment name (a statusContext: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit)", n)}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// withOwnEnvironment completes the required environments of c: its own
// status context is one of them. A gate needs the config's own status
// context, or its statuses could not be told from the others'.
func withOwnEnvironment(c *Config) *sdk.FieldError {
	if len(c.RequiredEnvironments) == 0 {
		return nil
	}
	if c.StatusContext == "" {
		return &sdk.FieldError{Field: FieldRequiredEnvironments, Message: "needs statusContext: the config's own environment is one of the required ones"}
	}
	if c.OrchestratorType == "" {
		return &sdk.FieldError{Field: FieldRequiredEnvironments, Message: "needs ciCdOrchestratorType: a config without an orchestrator tells no pipeline; name the required environments on the config that does"}
	}
	if !slices.Contains(c.RequiredEnvironments, c.StatusContext) {
		c.RequiredEnvironments = append(c.RequiredEnvironments, c.StatusContext)
	}
	return nil
}
