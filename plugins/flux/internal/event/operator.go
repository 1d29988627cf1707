package event

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Operator is the operator's display name in every status.
const Operator = "Flux"

// OperatorType is the gitOpsOperatorType this plugin serves.
const OperatorType = "FLUX"

// Names of the statuses this operator produces besides the per-kind progress
// groups and the per-resource health checks.
const (
	StatusStatus   = "Status"
	StatusWarnings = "warnings"
	StatusInfo     = "Info"
)

// Descriptions that replace the event's message.
const (
	DescriptionProgressing      = "Reconciliation underway."
	DescriptionHealthCheck      = "Health Check Failed"
	DescriptionValidationFailed = "Manifests validation failed."
)

// maxReported bounds how many distinct unknown reasons and mistyped fields
// Flux remembers having logged, so that a sender of random values cannot
// grow the memory.
const maxReported = 256

// Flux implements sdk.Operator for Flux events. It is safe for concurrent
// use.
type Flux struct {
	warned sdk.OnceLogger
}

// New returns a Flux operator that logs to log (nil: no logs).
func New(log *slog.Logger) *Flux {
	return &Flux{warned: sdk.OnceLogger{Logger: log, Max: maxReported}}
}

var _ sdk.Operator = (*Flux)(nil)

// ValidateConfig accepts every config: the operator needs no setting. It
// only reports a gitOpsOperatorType that names another operator, which
// means the host routed the config to the wrong plugin.
func (f *Flux) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return sdk.CheckType(cfg, "gitOpsOperatorType", OperatorType), nil
}

// ParseEvent turns a Flux event into commit statuses (see Parse). A body
// that is not a JSON object is an sdk.InvalidInput error, and so is one
// without an involvedObject object with a kind when it is parsed for a
// config (the host knows the config is Flux's) or names one in
// metadata.gitops_connector_config_name; anything else is a result,
// handled or ignored with a reason. The first time it meets an unknown
// reason or a mistyped field, it logs a warning.
func (f *Flux) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	ev, err := Decode(req.Body)
	if err != nil {
		return sdk.ParseResult{}, sdk.InvalidInput(fmt.Errorf("flux: %w", err))
	}
	if !ev.IsFlux && (req.Config != nil || ev.ConfigName() != "") {
		return sdk.ParseResult{}, sdk.InvalidInput(fmt.Errorf("flux: not a Flux event: %s", ev.NotFlux))
	}
	for _, m := range ev.Mistyped {
		f.warned.Warn("mistyped:"+m, "Flux event field has the wrong JSON type; read as absent", "field", clip(m))
	}
	res := Parse(ev)
	if _, known := verdict(ev.Kind, ev.Reason); res.Handled && !known {
		f.warned.Warn("reason:"+clip(ev.Kind)+":"+clip(ev.Reason), "unknown Flux reason; treated as pending, not finished", "reason", clip(ev.Reason), "kind", clip(ev.Kind))
	}
	return res, nil
}

// Parse turns a decoded event into the connector's result.
//
// A handled event gives these statuses, genre = the object's kind:
//
//   - Kustomization, GitRepository, OCIRepository: Status, raw state = the
//     reason; description = the message, except for Progressing
//     ("Reconciliation underway."), HealthCheckFailed ("Health Check
//     Failed") and ValidationFailed ("Manifests validation failed.").
//   - Kustomization, Progressing: one status per kind of the change set,
//     named after the kind, raw state NotApplicable, description like
//     "2 configured, 1 created"; then "warnings" ("Warnings: N") when lines
//     start with "Warning". A message that is no change set gives one "Info"
//     status holding it instead, not applicable like the groups it stands
//     for. Then Status again, last, so that the commit's overall state
//     stays pending.
//   - Kustomization, HealthCheckFailed: one status per listed resource,
//     named after it ("Deployment/default/podinfo"), raw state error.
//   - HelmRelease: one status named after the release,
//     "HelmRelease/<namespace>/<name>", raw state = the reason, description
//     = the message.
//
// The states, and whether the event finishes the deployment, follow
// verdict. At most 50 progress groups and 50 resources are reported.
func Parse(ev Event) sdk.ParseResult {
	ignored := func(format string, args ...any) sdk.ParseResult {
		res := sdk.Ignored(fmt.Sprintf(format, args...))
		res.ConfigName = ev.ConfigName()
		return res
	}
	if !ev.IsFlux {
		return ignored("not a Flux event: %s", ev.NotFlux)
	}
	if kindGroups[ev.Kind] == "" {
		return ignored("Flux %s events are not handled, only %s, %s, %s and %s", clip(ev.Kind), KindKustomization, KindGitRepository, KindOCIRepository, KindHelmRelease)
	}
	if ev.Reason == "" {
		return ignored("Flux %s event has no reason", ev.Kind)
	}
	v, _ := verdict(ev.Kind, ev.Reason)
	if v.ignored != "" {
		return ignored("Flux %s %s events are not handled: %s", ev.Kind, ev.Reason, v.ignored)
	}
	commit, _, why := Commit(ev)
	switch {
	case commit != "":
	case len(why) == 0:
		return ignored("Flux %s %s event carries no revision", ev.Kind, clip(ev.Reason))
	default:
		return ignored("Flux %s %s event names no git commit: %s", ev.Kind, clip(ev.Reason), strings.Join(why, "; "))
	}

	var statuses []sdk.Status
	if ev.Kind == KindHelmRelease {
		statuses = []sdk.Status{newStatus(ev.Kind, releaseName(ev), v.state, ev.Reason, strings.TrimSpace(ev.Message))}
	} else {
		status := newStatus(ev.Kind, StatusStatus, v.state, ev.Reason, description(ev.Reason, ev.Message))
		statuses = append(statuses, status)
		if ev.Kind == KindKustomization {
			switch ev.Reason {
			case ReasonProgressing:
				statuses = append(statuses, progressStatuses(ev.Kind, ev.Message)...)
				statuses = append(statuses, status)
			case ReasonHealthCheckFailed:
				statuses = append(statuses, healthStatuses(ev.Kind, ev.Message)...)
			}
		}
	}
	return sdk.ParseResult{
		Handled:    true,
		ConfigName: ev.ConfigName(),
		CommitID:   commit,
		Statuses:   statuses,
		Finished:   v.finished,
		Successful: v.successful,
	}
}

// releaseName names the status of a HelmRelease after the object:
// "HelmRelease/<namespace>/<name>", as Flux names objects in its messages;
// the parts the event lacks are left out.
func releaseName(ev Event) string {
	parts := []string{KindHelmRelease}
	for _, p := range []string{ev.Namespace, ev.Name} {
		if p != "" {
			parts = append(parts, clip(p))
		}
	}
	return strings.Join(parts, "/")
}

// description is the description of the Status status.
func description(reason, message string) string {
	switch reason {
	case ReasonProgressing:
		return DescriptionProgressing
	case ReasonHealthCheckFailed:
		return DescriptionHealthCheck
	case ReasonValidationFailed:
		return DescriptionValidationFailed
	}
	return strings.TrimSpace(message)
}

// progressStatuses are the statuses of a Progressing Kustomization's change
// set.
func progressStatuses(kind, message string) []sdk.Status {
	if strings.TrimSpace(message) == "" {
		return nil
	}
	p := ParseProgress(message)
	if !p.Parsed {
		return []sdk.Status{newStatus(kind, StatusInfo, sdk.StateNotApplicable, RawNotApplicable, strings.TrimSpace(message))}
	}
	var out []sdk.Status
	for _, g := range p.Groups[:min(len(p.Groups), maxDetailStatuses)] {
		out = append(out, newStatus(kind, g.Kind, sdk.StateNotApplicable, RawNotApplicable, g.Summary))
	}
	if p.Warnings > 0 {
		out = append(out, newStatus(kind, StatusWarnings, sdk.StateNotApplicable, RawNotApplicable, fmt.Sprintf("Warnings: %d", p.Warnings)))
	}
	return out
}

// healthStatuses are the statuses of the resources a HealthCheckFailed
// Kustomization lists.
func healthStatuses(kind, message string) []sdk.Status {
	resources := ParseHealthCheck(message)
	var out []sdk.Status
	for _, r := range resources[:min(len(resources), maxDetailStatuses)] {
		desc := DescriptionHealthCheck
		if r.Status != "" {
			desc = fmt.Sprintf("%s (status: '%s')", DescriptionHealthCheck, r.Status)
		}
		out = append(out, newStatus(kind, r.Ref, sdk.StateFailed, RawError, desc))
	}
	return out
}

func newStatus(kind, name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{
		Name:        name,
		State:       state,
		RawState:    raw,
		Description: description,
		Genre:       kind,
		Operator:    Operator,
	}
}
