// Package flux writes the Flux notification-controller events the benchmark
// sends, in the shape of the generic provider's body (the same shape as the
// Flux plugin's test fixtures), and the commit ids they are for.
package flux

import (
	"encoding/json"
	"fmt"
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
	ev := map[string]any{
		"involvedObject": map[string]any{
			"kind":            "Kustomization",
			"namespace":       "flux-system",
			"name":            "podinfo",
			"uid":             "6f1b8a52-3c1e-4d8f-9a47-2b5e0c9d7f13",
			"apiVersion":      "kustomize.toolkit.fluxcd.io/v1",
			"resourceVersion": "418730",
		},
		"severity":            "info",
		"timestamp":           "2024-05-14T09:21:13Z",
		"message":             message,
		"reason":              reason,
		"metadata":            map[string]any{"revision": "main@sha1:" + commit},
		"reportingController": "kustomize-controller",
		"reportingInstance":   "kustomize-controller-7f5c9bd6f4-xq2lm",
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return b
}
