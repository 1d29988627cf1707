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

	// RawNotApplicable is the raw state of the progress summaries: applying
	// is over before the reconciliation is, so they must not sway the
	// commit's overall state.
	RawNotApplicable = "NotApplicable"
	// RawInfo is the raw state of the Info status that holds a progress
	// message that is no change set.
	RawInfo = "info"
	// RawError is the raw state of the status of a resource that failed its
	// health check.
	RawError = "error"
)

// states maps the Flux reasons (and the raw states this package gives its
// own statuses) to normalized states: the Flux rows of the old connector's
// state table, plus the generic Succeeded and Failed reasons of Flux's
// source-controller. The early controllers of Flux 2 sent the severity
// ("info", "error") as the reason.
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

// StateOf returns the normalized state of a Flux reason, and whether the
// reason is known. Flux adds reasons in new releases: an unknown one is
// pending, so that it neither fails nor completes a deployment.
func StateOf(reason string) (state sdk.State, known bool) {
	state, known = states[reason]
	if !known {
		return sdk.StatePending, false
	}
	return state, true
}

// outcome says whether an event reports a finished deployment, and whether
// it succeeded. Only a Kustomization finishes: with
// ReconciliationSucceeded, or with a known reason whose state is failed or
// error. Progressing, DependencyNotReady (Flux retries, and usually
// succeeds), info, the not-applicable reasons and unknown reasons do not
// finish it.
func outcome(kind, reason string) (finished, successful bool) {
	if kind != KindKustomization {
		return false, false
	}
	if reason == ReasonReconciliationSucceeded {
		return true, true
	}
	state, known := StateOf(reason)
	return known && (state == sdk.StateFailed || state == sdk.StateError), false
}
