// Package events builds the webhook bodies the GitOps operators post to the
// connector, for the tests and the benchmark that drive the host over HTTP:
// a Flux notification-controller event as its generic provider sends it,
// and an Argo CD notification as the seed template (see the Helm chart's
// README) renders it.
//
// The builders fill in what a real body carries but the connector does not
// act on (the involved object's name, namespace, uid and apiVersion, the
// severity, timestamp and reporting controller) with fixed, realistic
// values, so that a test states only what the operator plugins act on.
package events

import (
	"encoding/json"
	"strings"
)

// Flux returns the body notification-controller's generic provider posts
// for an event of a Kustomization or a source (kind) with reason and message.
// The metadata holds revision ("main@sha1:<commit>" for a git source) and
// configName under gitops_connector_config_name, each only when not "" (Flux
// sends no revision with some events, and the config name only when the
// Alert's eventMetadata sets it).
func Flux(kind, reason, message, revision, configName string) []byte {
	meta := map[string]string{}
	if revision != "" {
		meta["revision"] = revision
	}
	if configName != "" {
		meta["gitops_connector_config_name"] = configName
	}
	return FluxObject(FluxRef{Kind: kind, Namespace: "flux-system", Name: "apps"}, reason, message, meta)
}

// FluxRef names the object a Flux event is about.
type FluxRef struct {
	Kind, Namespace, Name string
}

// fluxControllers are the API version and the reporting controller of each
// kind's events.
var fluxControllers = map[string][2]string{
	"Kustomization": {"kustomize.toolkit.fluxcd.io/v1", "kustomize-controller"},
	"GitRepository": {"source.toolkit.fluxcd.io/v1", "source-controller"},
	"OCIRepository": {"source.toolkit.fluxcd.io/v1", "source-controller"},
	"HelmRelease":   {"helm.toolkit.fluxcd.io/v2", "helm-controller"},
}

// FluxObject returns the body notification-controller's generic provider
// posts for an event of obj with reason, message and metadata as given:
// the keys as the controllers write them (kustomize.toolkit.fluxcd.io/revision,
// event.toolkit.fluxcd.io/commit) or as notification-controller v1.5 and
// later forward them (revision, commit).
func FluxObject(obj FluxRef, reason, message string, metadata map[string]string) []byte {
	ctrl, ok := fluxControllers[obj.Kind]
	if !ok {
		ctrl = fluxControllers["Kustomization"]
	}
	return marshal(map[string]any{
		"involvedObject": map[string]string{
			"kind": obj.Kind, "namespace": obj.Namespace, "name": obj.Name,
			"apiVersion": ctrl[0], "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
		},
		"severity":            "info",
		"timestamp":           "2026-11-24T10:15:42Z",
		"message":             message,
		"reason":              reason,
		"metadata":            metadata,
		"reportingController": ctrl[1],
		"reportingInstance":   ctrl[1] + "-7f5c6b7d9-x2x5q",
	})
}

// Argo returns the body the seed Argo CD notification template renders for
// an Application whose sync of commit is in phase (Running, Succeeded,
// Failed, ...), with the Application's sync status and health, the
// operation's message and its status.resources (built with Resource; none
// renders as null, as toJson does for an Application without resources).
// configName is the Application's gitops-connector-config-name annotation;
// the field is always present, "" when the annotation is absent.
func Argo(commit, phase, syncStatus, health, message, configName string, resources ...map[string]any) []byte {
	return marshal(map[string]any{
		"commitid":                     commit,
		"phase":                        phase,
		"sync_status":                  syncStatus,
		"health":                       health,
		"message":                      message,
		"resources":                    resources,
		"gitops_connector_config_name": configName,
	})
}

// Resource returns one entry of an Application's status.resources: the
// object groupKind and name in namespace default, with its sync status and
// its health ("" for an object Argo CD assesses no health for, which then
// has no health field). groupKind is written as Argo CD writes it in its
// messages: "apps/Deployment" for a group's kind, "Service" for a core one.
func Resource(groupKind, name, status, health string) map[string]any {
	r := map[string]any{"version": "v1", "namespace": "default", "name": name, "status": status}
	if group, kind, ok := strings.Cut(groupKind, "/"); ok {
		r["group"], r["kind"] = group, kind
	} else {
		r["kind"] = groupKind
	}
	if health != "" {
		r["health"] = map[string]string{"status": health}
	}
	return r
}

// marshal encodes a body built of strings, maps and slices, which cannot
// fail.
func marshal(body map[string]any) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		panic("events: encoding a body of strings: " + err.Error())
	}
	return b
}
