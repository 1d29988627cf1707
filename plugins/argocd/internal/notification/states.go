package notification

import "github.com/gitops-connector/gitops-connector/sdk"

// normalized maps Argo CD's phases, sync statuses and health statuses to the
// connector's states (the state table of the old program). Keys are
// case-sensitive: "Error" is an operation phase, "error" a failure.
var normalized = map[string]sdk.State{
	"Succeeded": sdk.StateSucceeded,
	"Synced":    sdk.StateSucceeded,
	"Healthy":   sdk.StateSucceeded,

	"Failed":  sdk.StateFailed,
	"Missing": sdk.StateFailed,
	"error":   sdk.StateFailed,

	"Error":     sdk.StateError,
	"Degraded":  sdk.StateError,
	"Suspended": sdk.StateError,

	"Running":      sdk.StatePending,
	"Inconclusive": sdk.StatePending,
	"OutOfSync":    sdk.StatePending,
	"Progressing":  sdk.StatePending,
	"Terminating":  sdk.StatePending,

	"Unknown": sdk.StateNotApplicable,
}

// stateOf returns the normalized state of a raw Argo CD value. A value
// outside the table is pending, so that a state a newer Argo CD introduces
// never fails a deployment; unknown reports it, except for a missing value
// ("" or "<no value>"), which is expected and pending too.
func stateOf(raw string) (state sdk.State, unknown bool) {
	if s, ok := normalized[raw]; ok {
		return s, false
	}
	return sdk.StatePending, !missing(raw)
}

// missing reports whether a value is absent from the Application.
func missing(raw string) bool { return raw == "" || raw == noValue }

// finalPhases are the operation phases after which a sync does not change.
// Running, Terminating and Inconclusive are not final, and neither is a
// phase the connector does not know.
var finalPhases = map[string]bool{"Succeeded": true, "Failed": true, "Error": true}

// settledHealth are the application health statuses that end a deployment
// when the phase is final. Progressing is not one of them, and neither is a
// health status the connector does not know or a missing one: deciding on a
// value it cannot read could fail a pipeline that is about to succeed.
var settledHealth = map[string]bool{"Healthy": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// outcome returns whether a deployment in this phase and health has finished
// and whether it succeeded.
func outcome(phase, health string) (finished, successful bool) {
	finished = finalPhases[phase] && settledHealth[health]
	return finished, finished && phase == "Succeeded" && health == "Healthy"
}
