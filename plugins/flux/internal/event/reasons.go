package event

import "github.com/gitops-connector/gitops-connector/sdk"

// Flux reasons and raw states the connector treats specially.
const (
	ReasonReconciliationSucceeded = "ReconciliationSucceeded"
	ReasonProgressing             = "Progressing"
	ReasonHealthCheckFailed       = "HealthCheckFailed"
	ReasonValidationFailed        = "ValidationFailed"
	ReasonDependencyNotReady      = "DependencyNotReady"
	ReasonNewArtifact             = "NewArtifact"

	// RawNotApplicable is the raw state of the progress summaries and of
	// the Info status: applying is over before the reconciliation is, so
	// they must not sway the commit's overall state.
	RawNotApplicable = "NotApplicable"
	// RawInfo is the reason the early controllers of Flux 2 sent for their
	// informational events (the severity).
	RawInfo = "info"
	// RawError is the raw state of the status of a resource that failed its
	// health check.
	RawError = "error"
)

// states maps the Flux reasons of Kustomizations and sources (and the raw
// states this package gives its own statuses) to normalized states: the
// Flux rows of the old connector's state table, plus the generic Succeeded
// and Failed reasons of Flux's source-controller. The early controllers of
// Flux 2 sent the severity ("info", "error") as the reason.
var states = map[string]sdk.State{
	ReasonReconciliationSucceeded: sdk.StateSucceeded,
	"Succeeded":                   sdk.StateSucceeded,

	"ReconciliationFailed":  sdk.StateFailed,
	"PruneFailed":           sdk.StateFailed,
	"ArtifactFailed":        sdk.StateFailed,
	"BuildFailed":           sdk.StateFailed,
	ReasonHealthCheckFailed: sdk.StateFailed,
	ReasonValidationFailed:  sdk.StateFailed,
	"Failed":                sdk.StateFailed,
	RawError:                sdk.StateFailed,

	"Error":     sdk.StateError,
	"Degraded":  sdk.StateError,
	"Suspended": sdk.StateError,

	ReasonProgressing:        sdk.StatePending,
	ReasonDependencyNotReady: sdk.StatePending,
	RawInfo:                  sdk.StatePending,

	RawNotApplicable: sdk.StateNotApplicable,
	"Unknown":        sdk.StateNotApplicable,
}

// StateOf returns the normalized state of a Flux reason of a Kustomization
// or a source, and whether the reason is known. Flux adds reasons in new
// releases: an unknown one is pending, so that it neither fails nor
// completes a deployment.
func StateOf(reason string) (state sdk.State, known bool) {
	state, known = states[reason]
	if !known {
		return sdk.StatePending, false
	}
	return state, true
}

// meaning is what one helm-controller reason means for the deployment
// of the HelmRelease's commit.
type meaning struct {
	state                sdk.State
	finished, successful bool
	// ignored, when set, says why events of the reason are not handled.
	ignored string
}

// helmReasons are the reasons helm-controller (API v2, the Event reasons
// of github.com/fluxcd/helm-controller/api/v2 and the literals of its
// reconcilers) gives its events, and what each means for the release's
// commit. docs/design.md has the same table.
//
//   - Install, upgrade and test succeeded: the release of the commit is
//     deployed (with tests enabled, UpgradeSucceeded comes before the
//     tests; a TestFailed afterwards turns the commit failed).
//   - Install, upgrade and test failed: the deployment failed.
//   - RollbackSucceeded and RollbackFailed follow a failed upgrade: the
//     commit's release was rolled back, which is no success of the commit.
//   - ArtifactFailed: the chart could not be fetched, as for a
//     Kustomization.
//   - DependencyNotReady: pending; helm-controller retries.
//   - Uninstall events remove a release: a remediation after a failed
//     install (already reported by InstallFailed) or the HelmRelease's
//     deletion, which carries the commit it was last deployed from.
//     Drift events report changes made in the cluster, not a deployment.
//     Neither is about the commit: they are ignored.
//
// Any other reason is pending and never finishes.
var helmReasons = map[string]meaning{
	"InstallSucceeded": {state: sdk.StateSucceeded, finished: true, successful: true},
	"UpgradeSucceeded": {state: sdk.StateSucceeded, finished: true, successful: true},
	"TestSucceeded":    {state: sdk.StateSucceeded, finished: true, successful: true},

	"InstallFailed":     {state: sdk.StateFailed, finished: true},
	"UpgradeFailed":     {state: sdk.StateFailed, finished: true},
	"TestFailed":        {state: sdk.StateFailed, finished: true},
	"RollbackSucceeded": {state: sdk.StateFailed, finished: true},
	"RollbackFailed":    {state: sdk.StateFailed, finished: true},
	"ArtifactFailed":    {state: sdk.StateFailed, finished: true},

	ReasonDependencyNotReady: {state: sdk.StatePending},

	"UninstallSucceeded":    {ignored: "an uninstall deploys no revision"},
	"UninstallFailed":       {ignored: "an uninstall deploys no revision"},
	"DriftDetected":         {ignored: "drift is a change in the cluster, not a deployment"},
	"NoDriftDetected":       {ignored: "drift is a change in the cluster, not a deployment"},
	"DriftCorrected":        {ignored: "drift is a change in the cluster, not a deployment"},
	"DriftCorrectionFailed": {ignored: "drift is a change in the cluster, not a deployment"},
}

// verdict is what an event's reason means for its commit: the state of the
// event's main status, whether the deployment finished and succeeded, and
// whether the reason is known. ignored, when set, says why the event is
// not handled.
//
//   - Kustomization: the state of StateOf. It finishes with
//     ReconciliationSucceeded, or with a known reason whose state is failed
//     or error. Progressing, DependencyNotReady (Flux retries, and usually
//     succeeds), info, the not-applicable reasons and unknown reasons do not
//     finish it.
//   - GitRepository, OCIRepository: a source never finishes a deployment
//     (the Kustomization or HelmRelease built from it does), so nothing
//     would resolve a pending status of its own: a reason whose state is
//     pending is posted not applicable. NewArtifact is ignored.
//   - HelmRelease: helmReasons.
func verdict(kind, reason string) (v meaning, known bool) {
	switch kind {
	case KindHelmRelease:
		v, known = helmReasons[reason]
		if !known {
			v.state = sdk.StatePending
		}
		return v, known
	case KindGitRepository, KindOCIRepository:
		if reason == ReasonNewArtifact {
			return meaning{ignored: "the Kustomization or HelmRelease built from the artifact reports the deployment"}, true
		}
		v.state, known = StateOf(reason)
		if v.state == sdk.StatePending {
			v.state = sdk.StateNotApplicable
		}
		return v, known
	}
	v.state, known = StateOf(reason)
	switch {
	case reason == ReasonReconciliationSucceeded:
		v.finished, v.successful = true, true
	case known && (v.state == sdk.StateFailed || v.state == sdk.StateError):
		v.finished = true
	}
	return v, known
}
