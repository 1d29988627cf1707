// Package sdk is what a gitops-connector plugin author imports.
//
// A plugin is a separate binary that the connector (the host) starts and talks
// to over gRPC through hashicorp/go-plugin. Authors never see gRPC or
// protobuf: they implement one or more of the capability interfaces in this
// package — Operator, Repository, Orchestrator — with plain Go types, and call
// Serve from main:
//
//	func main() {
//		sdk.Serve(sdk.Plugin{
//			Name:     "gitlab",
//			Types:    []string{"GITLAB"},
//			Repository: &gitlab.Repository{},
//		})
//	}
//
// The host discovers the binary in its plugin directory, runs it with the
// argument "describe" to learn its name, types and capabilities, and then
// starts it as a plugin. Every call carries the Config it serves, so a plugin
// needs no start-up configuration and may be restarted at any time.
//
// Delivery is at least once: any call may be repeated with the same input and
// must be safe to repeat. Errors tell the host whether to retry: wrap them
// with Retryable, Permanent, InvalidInput, NotFound or PermissionDenied. An
// unclassified error is retried with backoff; a panic is recovered and
// reported as a permanent plugin error.
//
// Package plugintest checks a plugin binary against this contract over a real
// go-plugin connection.
package sdk
