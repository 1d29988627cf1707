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

// ReasonArtifactStored is the reason of the GitRepository event the
// source-controller sends when it stored the artifact of a new commit: one
// status, finishes nothing.
const ReasonArtifactStored = "Succeeded"

// GitRepositoryEvent returns the body of a GitRepository event with reason
// for a commit of the main branch.
func GitRepositoryEvent(reason, commit string) []byte {
	return events.Flux("GitRepository", reason, "stored artifact for commit 'Deploy podinfo'", "main@sha1:"+commit, "")
}

// Mixed is one event of the new-commit mix and what it causes.
type Mixed struct {
	Body []byte
	// Statuses is the number of statuses the event posts; Dispatches the
	// repository_dispatch calls (one for a finished, successful
	// deployment).
	Statuses, Dispatches int
}

// Mix returns the i-th event of the realistic mix of new commits, each event
// for a commit of its own: Kustomization Progressing with ChangeSet,
// Progressing, ReconciliationSucceeded, GitRepository Succeeded — 2 : 1 : 1,
// 3 statuses per event on average.
func Mix(commit string, i int) Mixed {
	switch i % 4 {
	case 0, 1:
		return Mixed{Body: Event(ReasonProgressing, ChangeSet, commit), Statuses: len(ProgressingContexts)}
	case 2:
		return Mixed{Body: Event(ReasonSucceeded, "Applied revision: main@sha1:"+commit, commit), Statuses: 1, Dispatches: 1}
	}
	return Mixed{Body: GitRepositoryEvent(ReasonArtifactStored, commit), Statuses: 1}
}
