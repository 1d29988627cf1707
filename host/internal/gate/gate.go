// Package gate decides when the pipeline of a config that names required
// environments is told of a commit: only once every one of those
// environments has deployed it. Each environment is a status context
// ("dev-east", "dev-west": the statusContext of its config, in this
// connector or in another one), and the commit's statuses on the git host
// are the shared record of their results, so connectors never talk to each
// other.
//
// The package has two parts: Decide reads an environment's result from the
// latest statuses of a commit and decides the gate; Waits keeps the gates
// that are still open and says when each is read again (with backoff, or at
// once when another event of the commit arrives). The pipeline keeps the
// open gate's job in its store, so an open gate survives a restart like any
// accepted work.
package gate

import (
	"fmt"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Outcome is what a gate decided.
type Outcome int

// Outcomes of Decide.
const (
	// Open: some environment has not finished yet; read again later.
	Open Outcome = iota
	// Success: every required environment succeeded.
	Success
	// Failure: some required environment failed or errored.
	Failure
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "open"
}

// Status names of the operators' outcome statuses, after the environment's
// "<env>/" prefix: Flux reports a deployment in "Status", Argo CD in
// "Phase" and "Health".
const (
	fluxStatus = "Status"
	argoPhase  = "Phase"
	argoHealth = "Health"
)

// Environment is one required environment's result as the statuses show
// it.
type Environment struct {
	Name string
	// State is succeeded, failed (failed or errored), or pending (still
	// deploying, or no status yet: see Reported).
	State sdk.State
	// Reported is false when the commit has no outcome status of the
	// environment.
	Reported bool
}

// String says the environment and its state for logs: "dev-west
// (pending)", "dev-west (no status)".
func (e Environment) String() string {
	if !e.Reported {
		return e.Name + " (no status)"
	}
	return fmt.Sprintf("%s (%s)", e.Name, e.State)
}

// Result is a gate's decision with the environments behind it.
type Result struct {
	Outcome Outcome
	// Failed are the environments that failed (Failure).
	Failed []Environment
	// Missing are the environments that have not succeeded yet and have
	// not failed (Open).
	Missing []Environment
}

// Describe says what the result waits for or failed on, for logs and
// give-up messages: "dev-west (pending), dev-south (no status)".
func Describe(envs []Environment) string {
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// Decide decides a gate from the latest statuses of a commit (as
// sdk.Repository.ListStatuses reports them): Failure as soon as one
// required environment failed, Success when every one succeeded, Open
// otherwise.
//
// An environment's result is its "<env>/Status" (Flux) or, without one,
// its "<env>/Phase" and "<env>/Health" (Argo CD: succeeded when both did,
// failed when either failed or errored while the other is no longer
// pending). When a name appears more than once (Azure Repos contexts with
// different genres), the newest status counts, as GitHub shows it.
func Decide(required []string, statuses []sdk.CommitStatus) Result {
	latest := map[string]sdk.CommitStatus{}
	for _, st := range statuses {
		if cur, ok := latest[st.Name]; !ok || st.UpdatedAt.After(cur.UpdatedAt) {
			latest[st.Name] = st
		}
	}
	var res Result
	for _, name := range required {
		env := environment(name, latest)
		switch env.State {
		case sdk.StateSucceeded:
		case sdk.StateFailed:
			res.Failed = append(res.Failed, env)
		default:
			res.Missing = append(res.Missing, env)
		}
	}
	switch {
	case len(res.Failed) > 0:
		res.Outcome = Failure
	case len(res.Missing) > 0:
		res.Outcome = Open
	default:
		res.Outcome = Success
	}
	return res
}

// environment reads one environment's result from the latest status of
// each name.
func environment(name string, latest map[string]sdk.CommitStatus) Environment {
	env := Environment{Name: name, State: sdk.StatePending}
	if st, ok := latest[name+"/"+fluxStatus]; ok {
		env.Reported = true
		env.State = settled(st.State)
		return env
	}
	phase, hasPhase := latest[name+"/"+argoPhase]
	health, hasHealth := latest[name+"/"+argoHealth]
	if !hasPhase && !hasHealth {
		return env
	}
	env.Reported = true
	p, h := sdk.StatePending, sdk.StatePending
	if hasPhase {
		p = settled(phase.State)
	}
	if hasHealth {
		h = settled(health.State)
	}
	switch {
	case p == sdk.StateSucceeded && h == sdk.StateSucceeded:
		env.State = sdk.StateSucceeded
	case (p == sdk.StateFailed && h != sdk.StatePending) || (h == sdk.StateFailed && p != sdk.StatePending):
		env.State = sdk.StateFailed
	}
	return env
}

// settled folds a status state into succeeded, failed (failed or error)
// or pending (pending, not applicable, unknown).
func settled(s sdk.State) sdk.State {
	switch s {
	case sdk.StateSucceeded:
		return sdk.StateSucceeded
	case sdk.StateFailed, sdk.StateError:
		return sdk.StateFailed
	}
	return sdk.StatePending
}
