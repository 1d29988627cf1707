// Package flux writes the Flux notification-controller events the benchmark
// sends, as the generic provider's body (built by testkit/events, as in the
// end-to-end tests), and the commit ids they are for.
package flux

import (
	"fmt"

	"github.com/gitops-connector/gitops-connector/testkit/events"
)

// Reasons of the events the benchmark sends.
const (
	// ReasonSucceeded finishes a deployment: one status, then the
	// orchestrator is told (GitHub: read the commit, repository_dispatch).
	// Flux repeats it every reconciliation interval; a repeat for a
	// finished commit posts nothing.
	ReasonSucceeded = "ReconciliationSucceeded"
	// ReasonProgressing carries the applied change set: with ChangeSet,
	// the statuses Status, Deployment, HorizontalPodAutoscaler, Service,
	// Status.
	ReasonProgressing = "Progressing"
	// ReasonDependencyNotReady posts one pending status whose description
	// is the message, and finishes nothing.
	ReasonDependencyNotReady = "DependencyNotReady"
)

// ChangeSet is the message of a Progressing event: a kustomize-controller
// change set of three kinds.
const ChangeSet = "Deployment/default/podinfo configured\nHorizontalPodAutoscaler/default/podinfo created\n" +
	"Service/default/podinfo configured\nDeployment/default/redis configured\nService/default/redis created"

// ProgressingContexts are the status contexts a Progressing event with
// ChangeSet posts, in order.
var ProgressingContexts = []string{"Status", "Deployment", "HorizontalPodAutoscaler", "Service", "Status"}

// Commit returns the i-th commit id of a phase: 40 hex digits, distinct for
// every (phase, i) with phase < 2^32 and i < 2^64.
func Commit(phase uint32, i int) string {
	return fmt.Sprintf("%08x%016x%016x", phase, 0xbe9c4, uint64(i))
}

// Event returns the body of a Kustomization event with reason and message
// for a commit of the main branch.
func Event(reason, message, commit string) []byte {
	return events.Flux("Kustomization", reason, message, "main@sha1:"+commit, "")
}
