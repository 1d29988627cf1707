// Package event reads the events Flux's notification-controller posts to a
// "generic" Provider and turns them into the connector's commit statuses.
//
// The body is a Flux event (type Event of github.com/fluxcd/pkg/apis/event):
//
//	involvedObject       {kind, name, namespace, ...} of the reconciled object
//	reason               e.g. ReconciliationSucceeded, Progressing, HealthCheckFailed
//	message              what happened; for Kustomizations also the applied change set
//	severity, timestamp, reportingController, reportingInstance
//	metadata             revision, the Alert's spec.eventMetadata
//	                     (gitops_connector_config_name), ...
//
// Depending on the notification-controller version the revision arrives as
// metadata.revision (prefix stripped, current) or under the object's API
// group (kustomize.toolkit.fluxcd.io/revision,
// source.toolkit.fluxcd.io/revision); both are read.
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
//   - A JSON object without an involvedObject that has a kind is not a Flux
//     event (perhaps another operator's): ignored with a reason.
//   - Only Kustomization and GitRepository events are handled, and not the
//     GitRepository's NewArtifact event; other kinds are ignored.
//   - An event without a reason, or without a revision that names a git
//     commit, is ignored with a reason (see CommitID).
//
// Everything else is handled: the statuses are described in Parse. The
// result depends only on the body, so a re-sent event gives the same result.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Kinds of the Flux objects the connector handles.
const (
	KindKustomization = "Kustomization"
	KindGitRepository = "GitRepository"
)

// Metadata keys the connector reads.
const (
	// MetaConfigName routes the event to a config: Flux copies the Alert's
	// spec.eventMetadata into the event's metadata.
	MetaConfigName = "gitops_connector_config_name"
	// MetaRevision is the revision key as current notification-controllers
	// send it, the API group prefix stripped.
	MetaRevision = "revision"
	// MetaKustomizeRevision and MetaSourceRevision are the revision keys as
	// the controllers write them; some notification-controller versions
	// forward them unchanged.
	MetaKustomizeRevision = "kustomize.toolkit.fluxcd.io/revision"
	MetaSourceRevision    = "source.toolkit.fluxcd.io/revision"
	// MetaMessage carries "Fetched revision: <branch>/<sha>" in an early
	// form of the GitRepository event.
	MetaMessage = "message"
)

// Event is one decoded Flux event. String fields are trimmed of surrounding
// white space, except Message (its lines matter); a field that is absent,
// null or of the wrong JSON type is "".
type Event struct {
	// IsFlux is true when the body has an involvedObject object with a kind:
	// without it, the body is not a Flux event.
	IsFlux bool
	// Kind is the kind of the reconciled object (involvedObject).
	Kind    string
	Reason  string
	Message string
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
	obj, ok := ev.object(top, "involvedObject")
	if !ok {
		return ev, nil
	}
	ev.Kind = strings.TrimSpace(ev.string(obj, "involvedObject.kind", "kind"))
	if ev.Kind == "" {
		return ev, nil
	}
	ev.IsFlux = true
	ev.Reason = strings.TrimSpace(ev.string(top, "reason", "reason"))
	ev.Message = ev.string(top, "message", "message")
	meta, _ := ev.object(top, "metadata")
	ev.Metadata = make(map[string]string, len(meta))
	for key, raw := range meta {
		if s, ok := ev.stringValue("metadata."+key, raw, isReadKey(key)); ok {
			ev.Metadata[key] = s
		}
	}
	return ev, nil
}

// isReadKey reports whether the connector reads a metadata key, so that a
// mistyped value under it is worth reporting.
func isReadKey(key string) bool {
	switch key {
	case MetaConfigName, MetaRevision, MetaKustomizeRevision, MetaSourceRevision, MetaMessage:
		return true
	}
	return false
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
