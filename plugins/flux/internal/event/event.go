// Package event reads the events Flux's notification-controller posts to a
// "generic" Provider and turns them into the connector's commit statuses.
//
// The body is a Flux event (type Event of github.com/fluxcd/pkg/apis/event):
//
//	involvedObject       {kind, name, namespace, ...} of the reconciled object
//	reason               e.g. ReconciliationSucceeded, Progressing, UpgradeSucceeded
//	message              what happened; for Kustomizations also the applied change set
//	severity, timestamp, reportingController, reportingInstance
//	metadata             commit, originRevision, revision, the Alert's
//	                     spec.eventMetadata (gitops_connector_config_name), ...
//
// The controllers write their metadata keys under their API group
// (kustomize.toolkit.fluxcd.io/revision, helm.toolkit.fluxcd.io/revision)
// and notification-controller copies the event.toolkit.fluxcd.io/<key>
// annotations of the object; notification-controller v1.5 and later strip
// those prefixes before forwarding, earlier versions forward the keys as
// written. Both forms are read: see Commit for the keys and their order.
//
// The body is decoded tolerantly, field by field, instead of into the
// upstream event type: that type pulls in the Kubernetes API modules, and one
// field of the wrong JSON type (a number as reason) would make the whole body
// undecodable. A field of the wrong type is read as absent and logged once.
//
// What is handled and what is ignored:
//
//   - A body that is not a JSON object is an sdk.InvalidInput error (the host
//     answers 400).
//   - A JSON object without an involvedObject object that has a kind is not a
//     Flux event: parsed for a config (the host knows the config is Flux's),
//     or naming one in metadata.gitops_connector_config_name, it is an
//     sdk.InvalidInput error with the reason; otherwise (the host offers
//     the body to each operator to find the config it names) it is ignored
//     with the reason, since it may be another operator's.
//   - Kustomization, GitRepository, OCIRepository and HelmRelease events are
//     handled, except the sources' NewArtifact events and the HelmRelease
//     reasons that deploy no revision (see the table in reasons.go); other
//     kinds are ignored.
//   - An event without a reason, or without a metadata value that names a
//     git commit, is ignored with a reason (see Commit).
//
// Everything else is handled: the statuses are described in Parse. The
// result depends only on the body, so a re-sent event gives the same result.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kinds of the Flux objects the connector handles.
const (
	KindKustomization = "Kustomization"
	KindGitRepository = "GitRepository"
	KindOCIRepository = "OCIRepository"
	KindHelmRelease   = "HelmRelease"
)

// API groups of the Flux controllers, the prefixes of their metadata keys
// (<group>/<key>).
const (
	GroupKustomize = "kustomize.toolkit.fluxcd.io"
	GroupSource    = "source.toolkit.fluxcd.io"
	GroupHelm      = "helm.toolkit.fluxcd.io"
	// GroupEvent prefixes the keys the controllers copy from the object's
	// event.toolkit.fluxcd.io/<key> annotations.
	GroupEvent = "event.toolkit.fluxcd.io"
)

// kindGroups is the API group of each handled kind: the prefix its
// controller writes its metadata keys under.
var kindGroups = map[string]string{
	KindKustomization: GroupKustomize,
	KindGitRepository: GroupSource,
	KindOCIRepository: GroupSource,
	KindHelmRelease:   GroupHelm,
}

// Metadata keys the connector reads, without their group prefix (the key
// constants of fluxcd/pkg/apis/event).
const (
	// MetaConfigName routes the event to a config: Flux copies the Alert's
	// spec.eventMetadata into the event's metadata.
	MetaConfigName = "gitops_connector_config_name"
	// MetaCommit is a git commit id, set by an
	// event.toolkit.fluxcd.io/commit annotation on the object.
	MetaCommit = "commit"
	// MetaOriginRevision is the revision of the git commit a source
	// artifact was built from: kustomize-controller writes it for an OCI
	// artifact's org.opencontainers.image.revision annotation.
	MetaOriginRevision = "originRevision"
	// MetaRevision is the revision of the object's source: a git revision,
	// an OCI digest, a chart version.
	MetaRevision = "revision"
	// MetaMessage carries "Fetched revision: <branch>/<sha>" in an early
	// form of the GitRepository event.
	MetaMessage = "message"
)

// Event is one decoded Flux event. String fields are trimmed of surrounding
// white space, except Message (its lines matter); a field that is absent,
// null or of the wrong JSON type is "".
type Event struct {
	// IsFlux is true when the body has an involvedObject object with a kind:
	// without it, the body is not a Flux event, and NotFlux says why.
	IsFlux  bool
	NotFlux string
	// Kind, Namespace and Name are the reconciled object's (involvedObject).
	Kind      string
	Namespace string
	Name      string
	Reason    string
	Message   string
	// Metadata holds the metadata entries whose value is a string.
	Metadata map[string]string
	// Mistyped names the fields the connector reads that had the wrong JSON
	// type (and were read as absent), with the type they had:
	// "reason: number".
	Mistyped []string
}

// ConfigName is the config the event addresses (metadata
// gitops_connector_config_name), or "".
func (ev Event) ConfigName() string { return strings.TrimSpace(ev.Metadata[MetaConfigName]) }

// Decode reads a request body. It fails only when the body is not a JSON
// object; any JSON object decodes, whatever its fields hold.
func Decode(body []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return Event{}, notAnObject(body, err)
	}
	var ev Event
	meta, _ := ev.object(top, "metadata")
	ev.Metadata = make(map[string]string, len(meta))
	for key, raw := range meta {
		if s, ok := ev.stringValue("metadata."+key, raw, isReadKey(key)); ok {
			ev.Metadata[key] = s
		}
	}
	obj, ok := ev.object(top, "involvedObject")
	switch {
	case ok:
	case top["involvedObject"] == nil || isNull(top["involvedObject"]):
		ev.NotFlux = "the body has no involvedObject"
		return ev, nil
	default:
		ev.NotFlux = "involvedObject is a JSON " + jsonType(top["involvedObject"]) + ", want an object"
		return ev, nil
	}
	ev.Kind = strings.TrimSpace(ev.string(obj, "involvedObject.kind", "kind"))
	if ev.Kind == "" {
		ev.NotFlux = "involvedObject has no kind"
		return ev, nil
	}
	ev.Namespace = strings.TrimSpace(ev.string(obj, "involvedObject.namespace", "namespace"))
	ev.Name = strings.TrimSpace(ev.string(obj, "involvedObject.name", "name"))
	ev.IsFlux = true
	ev.Reason = strings.TrimSpace(ev.string(top, "reason", "reason"))
	ev.Message = ev.string(top, "message", "message")
	return ev, nil
}

// isReadKey reports whether the connector reads a metadata key, so that a
// mistyped value under it is worth reporting.
func isReadKey(key string) bool {
	switch key {
	case MetaConfigName, MetaMessage:
		return true
	}
	return slices.Contains(revisionKeys, unprefixed(key))
}

// object returns the JSON object under key, noting a value of another type.
func (ev *Event) object(from map[string]json.RawMessage, key string) (map[string]json.RawMessage, bool) {
	raw, ok := from[key]
	if !ok || isNull(raw) {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		ev.Mistyped = append(ev.Mistyped, key+": "+jsonType(raw))
		return nil, false
	}
	return obj, true
}

// string returns the string under key ("" when absent), noting a value of
// another type under the field's name.
func (ev *Event) string(from map[string]json.RawMessage, field, key string) string {
	raw, ok := from[key]
	if !ok {
		return ""
	}
	s, _ := ev.stringValue(field, raw, true)
	return s
}

// stringValue decodes a JSON string; null and other types give false, and
// other types are noted when report is set.
func (ev *Event) stringValue(field string, raw json.RawMessage, report bool) (string, bool) {
	if isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if report {
			ev.Mistyped = append(ev.Mistyped, field+": "+jsonType(raw))
		}
		return "", false
	}
	return s, true
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// jsonType names the JSON type of a valid JSON value.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// notAnObject says why a body, which failed to decode into an object with
// err (nil: it is null), is not a JSON object.
func notAnObject(body []byte, err error) error {
	const want = "want a Flux event (a JSON object)"
	var syntax *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return fmt.Errorf("body is empty, %s", want)
	case errors.As(err, &syntax):
		return fmt.Errorf("body is not valid JSON (at byte %d: %s), %s", syntax.Offset, syntax, want)
	}
	return fmt.Errorf("body is a JSON %s, %s", jsonType(body), want)
}
