package notification

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Display names of the statuses this operator produces.
const (
	// Operator is the operator's display name, and the genre of every status.
	Operator = "ArgoCD"

	StatusPhase  = "Phase"
	StatusSync   = "Sync"
	StatusHealth = "Health"
)

// OperatorType is the gitOpsOperatorType this plugin serves.
const OperatorType = "ARGOCD"

// maxReported bounds how many distinct unexpected values Argo is remembered
// to have logged, so that a sender of random values cannot grow the memory.
const maxReported = 256

// Argo implements sdk.Operator for Argo CD notifications. It is safe for
// concurrent use.
type Argo struct {
	warned sdk.OnceLogger
}

// New returns an Argo CD operator that logs to log (nil: no logs).
func New(log *slog.Logger) *Argo {
	return &Argo{warned: sdk.OnceLogger{Logger: log, Max: maxReported}}
}

var _ sdk.Operator = (*Argo)(nil)

// ValidateConfig accepts every config: the operator needs no setting. It
// only reports a gitOpsOperatorType that names another operator, which
// means the host routed the config to the wrong plugin.
func (a *Argo) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return sdk.CheckType(cfg, "gitOpsOperatorType", OperatorType), nil
}

// ParseEvent turns an Argo CD notification into three statuses — Phase,
// Sync, Health — for the commit Argo CD synced. On a notification that
// finishes the deployment none of them is pending (see settle).
//
// It ignores (Handled false, with a Reason) a JSON object without commitid
// and phase (another operator's event), a notification without a git
// commit id ("<no value>", empty, a Helm chart version, a branch name) and
// one whose resources are null, as the old connector did. A body that is
// not a JSON object, or whose commitid or resources have the wrong JSON
// type, is an sdk.InvalidInput error. The result depends only on the body.
func (a *Argo) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	n, err := Decode(req.Body)
	if err != nil {
		return sdk.ParseResult{}, fmt.Errorf("argocd: %w", err)
	}
	if !n.IsArgo {
		return sdk.Ignored("not an Argo CD event: the body has neither commitid nor phase"), nil
	}
	for _, m := range n.Mistyped {
		a.warned.Warn("mistyped:"+m, "Argo CD notification field has the wrong JSON type; read as absent", "field", m)
	}
	commit, reason := commitID(n.CommitID)
	if reason != "" {
		return withConfig(sdk.Ignored(reason), n), nil
	}
	if !n.HasResources {
		return withConfig(sdk.Ignored("resources is null: Argo CD has not reported the Application's resources"), n), nil
	}

	finished, successful := outcome(n.Phase, n.Health)
	statuses := []sdk.Status{
		a.status(StatusPhase, fieldPhase, n.Phase, phaseDescription(n.Phase, n.Message)),
		a.status(StatusSync, fieldSyncStatus, n.SyncStatus, summarize(n.Resources, func(r Resource) string { return r.Sync }, "no resources")),
		a.status(StatusHealth, fieldHealth, n.Health, summarize(n.Resources, func(r Resource) string { return r.Health }, "no resource reports its health")),
	}
	if finished {
		settle(statuses)
	}
	return sdk.ParseResult{
		Handled:    true,
		ConfigName: n.ConfigName,
		CommitID:   commit,
		Statuses:   statuses,
		Finished:   finished,
		Successful: successful,
	}, nil
}

// settle posts the pending statuses of a notification that finishes the
// deployment as not applicable: once it finished, no later notification
// resolves them, and a pending context would hold the commit's combined
// state pending for good. Only Sync can be pending then (a final phase and
// a settled health are not): the Application's sync status compares the
// cluster with the newest target revision, which may already be a later
// commit, so it says nothing about this one. The raw state is kept.
func settle(statuses []sdk.Status) {
	for i := range statuses {
		if statuses[i].State == sdk.StatePending {
			statuses[i].State = sdk.StateNotApplicable
		}
	}
}

// withConfig names the config an ignored notification addressed, so that
// the host can log it with the reason.
func withConfig(res sdk.ParseResult, n Notification) sdk.ParseResult {
	res.ConfigName = n.ConfigName
	return res
}

// status builds one status from a raw Argo CD value of field.
func (a *Argo) status(name, field, raw, description string) sdk.Status {
	state, unknown := stateOf(raw)
	if unknown {
		a.warned.Warn("state:"+field+":"+clip(raw), "unknown Argo CD state; treated as pending", "field", field, "value", clip(raw))
	}
	return sdk.Status{
		Name:        name,
		State:       state,
		RawState:    raw,
		Description: description,
		Genre:       Operator,
		Operator:    Operator,
	}
}

// commitID returns the lower-case commit id of a sync revision, or why the
// revision is none.
func commitID(revision string) (id, reason string) {
	switch {
	case revision == "":
		return "", "commitid is empty: the Application has no sync revision"
	case revision == noValue:
		return "", `commitid is "<no value>": the Application has not synced yet, or syncs several sources`
	case !sdk.ValidCommitID(revision):
		return "", fmt.Sprintf("commitid %q is not a git commit id (a Helm chart version or a branch name); only git revisions are reported", clip(revision))
	}
	return strings.ToLower(revision), ""
}

// phaseDescription is "<phase>: <message>", or whichever of the two exists.
func phaseDescription(phase, message string) string {
	switch {
	case phase == "":
		return message
	case message == "":
		return phase
	}
	return phase + ": " + message
}

// summarize counts the resources by one of their values, in the order the
// values first appear: "3/4 Synced, 1/4 OutOfSync". Resources without the
// value are left out of the counts and of the total, so that kinds Argo CD
// assesses no health for (ConfigMaps, Secrets, RBAC objects) do not read as
// unhealthy. none is the description when no resource has the value.
func summarize(resources []Resource, value func(Resource) string, none string) string {
	var order []string
	counts := map[string]int{}
	total := 0
	for _, r := range resources {
		v := value(r)
		if v == "" {
			continue
		}
		if counts[v] == 0 {
			order = append(order, v)
		}
		counts[v]++
		total++
	}
	if total == 0 {
		return none
	}
	parts := make([]string, len(order))
	for i, v := range order {
		parts[i] = fmt.Sprintf("%d/%d %s", counts[v], total, v)
	}
	return strings.Join(parts, ", ")
}

// clip shortens a value quoted in a reason or a log line.
func clip(s string) string {
	const max = 64
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
