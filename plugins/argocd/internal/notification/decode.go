// Package notification reads the webhook body that Argo CD's notification
// controller posts with the gitops-connector template and turns it into the
// connector's commit statuses.
//
// The template (see the Helm chart's README) renders these top-level fields
// from the Application:
//
//	commitid                      status.operationState.operation.sync.revision
//	phase                         status.operationState.phase
//	sync_status                   status.sync.status
//	health                        status.health.status
//	message                       status.operationState.message
//	resources                     status.resources (toJson)
//	gitops_connector_config_name  metadata.annotations["gitops-connector-config-name"]
//
// Every field except resources is a quoted template expression, so a field
// the Application lacks arrives as the text "<no value>", and the message is
// inserted without JSON escaping.
package notification

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Body field names, as the template writes them.
const (
	fieldCommitID   = "commitid"
	fieldPhase      = "phase"
	fieldSyncStatus = "sync_status"
	fieldHealth     = "health"
	fieldMessage    = "message"
	fieldResources  = "resources"
	fieldConfigName = "gitops_connector_config_name"
)

// noValue is what Argo CD's template engine renders for a field the
// Application does not have.
const noValue = "<no value>"

// Notification is one decoded Argo CD notification. String fields are
// trimmed; a field that is absent, null or of the wrong JSON type is "".
type Notification struct {
	// IsArgo is true when the body has a commitid or a phase key: without
	// both, it is some other operator's event.
	IsArgo bool
	// CommitID is the sync revision as sent, trimmed. It is a git commit id
	// only for git sources; see commitID.
	CommitID   string
	Phase      string
	SyncStatus string
	Health     string
	Message    string
	// ConfigName is gitops_connector_config_name, "" when absent or
	// "<no value>" (the Application lacks the annotation).
	ConfigName string
	// Resources is status.resources; entries that are not objects are left
	// out.
	Resources []Resource
	// HasResources is false when resources is null or absent.
	HasResources bool
	// Mistyped names the optional fields that had the wrong JSON type (and
	// were read as absent), with the type they had: "phase: number".
	Mistyped []string
}

// Resource is one entry of the Application's status.resources.
type Resource struct {
	// Sync is the resource's sync status (its "status" field), e.g. Synced.
	Sync string
	// Health is health.status, e.g. Healthy; "" when Argo CD assesses no
	// health for the resource.
	Health string
}

// Decode decodes a notification body.
//
// It returns an sdk.InvalidInput error when the body is not a JSON object —
// nothing any operator could act on — or when commitid or resources, which
// the connector cannot act without, have the wrong JSON type. Any other
// field of the wrong type reads as absent and is listed in Mistyped.
func Decode(body []byte) (Notification, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Notification{}, notAnObject(body, err)
	}
	if fields == nil {
		return Notification{}, sdk.InvalidInputf("body is JSON null, not an object")
	}
	_, hasCommit := fields[fieldCommitID]
	_, hasPhase := fields[fieldPhase]
	n := Notification{IsArgo: hasCommit || hasPhase}
	if !n.IsArgo {
		return n, nil
	}

	commit, wrong := stringOf(fields[fieldCommitID])
	if wrong != "" {
		return Notification{}, sdk.InvalidInputf("commitid is a JSON %s; it must be a string holding the git commit id", wrong)
	}
	n.CommitID = commit

	switch raw := fields[fieldResources]; kindOf(raw) {
	case "", kindNull:
	case kindArray:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return Notification{}, sdk.InvalidInputf("resources: %w", err)
		}
		n.HasResources = true
		n.Resources = make([]Resource, 0, len(items))
		for _, item := range items {
			if r, ok := decodeResource(item); ok {
				n.Resources = append(n.Resources, r)
			}
		}
	default:
		return Notification{}, sdk.InvalidInputf("resources is a JSON %s; it must be the Application's status.resources array (rendered with toJson)", kindOf(raw))
	}

	for _, f := range []struct {
		name string
		dst  *string
	}{
		{fieldPhase, &n.Phase},
		{fieldSyncStatus, &n.SyncStatus},
		{fieldHealth, &n.Health},
		{fieldMessage, &n.Message},
		{fieldConfigName, &n.ConfigName},
	} {
		v, wrong := stringOf(fields[f.name])
		if wrong != "" {
			n.Mistyped = append(n.Mistyped, f.name+": "+wrong)
		}
		*f.dst = v
	}
	if n.ConfigName == noValue {
		n.ConfigName = ""
	}
	return n, nil
}

// notAnObject explains why a body that did not decode into an object is
// invalid input.
func notAnObject(body []byte, err error) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return sdk.InvalidInputf("body is empty; want a JSON object")
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return sdk.InvalidInputf("body is a JSON %s; want a JSON object", typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	where := ""
	if errors.As(err, &syntaxErr) {
		where = fmt.Sprintf(" at byte %d", syntaxErr.Offset)
	}
	hint := ""
	if bytes.Contains(body, []byte(`"`+fieldCommitID+`"`)) {
		// The seed template quotes the message without escaping it.
		hint = `; Argo CD's template inserts the message without escaping, so quotes or line breaks in it break the JSON: render it with toJson, "message": {{toJson .app.status.operationState.message}}`
	}
	return sdk.InvalidInputf("body is not valid JSON%s: %w%s", where, err, hint)
}

// decodeResource reads one status.resources entry; ok is false when the
// entry is not an object.
func decodeResource(raw json.RawMessage) (r Resource, ok bool) {
	if kindOf(raw) != kindObject {
		return Resource{}, false
	}
	// Only the two fields read are decoded, not a map of every field: for
	// an application with hundreds of resources this is most of the work.
	var fields struct {
		Status json.RawMessage `json:"status"`
		Health json.RawMessage `json:"health"`
	}
	if json.Unmarshal(raw, &fields) != nil {
		return Resource{}, false
	}
	r.Sync, _ = stringOf(fields.Status)
	if kindOf(fields.Health) == kindObject {
		var health struct {
			Status json.RawMessage `json:"status"`
		}
		if json.Unmarshal(fields.Health, &health) == nil {
			r.Health, _ = stringOf(health.Status)
		}
	}
	return r, true
}

// JSON value kinds, as named in messages.
const (
	kindNull   = "null"
	kindString = "string"
	kindNumber = "number"
	kindBool   = "boolean"
	kindArray  = "array"
	kindObject = "object"
)

// kindOf returns the kind of a valid JSON value, "" for an absent one.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case 'n':
		return kindNull
	case '"':
		return kindString
	case 't', 'f':
		return kindBool
	case '[':
		return kindArray
	case '{':
		return kindObject
	default:
		return kindNumber
	}
}

// stringOf returns a JSON string's trimmed value. An absent or null value
// reads as ""; so does a value of another kind, which wrong then names.
func stringOf(raw json.RawMessage) (value, wrong string) {
	switch kind := kindOf(raw); kind {
	case "", kindNull:
		return "", ""
	case kindString:
		// raw is a valid JSON string: Decode validated the whole body.
		var s string
		_ = json.Unmarshal(raw, &s)
		return strings.TrimSpace(s), ""
	default:
		return "", kind
	}
}
