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
	"github.com/gitops-connector/gitops-connector/sdk/jsonfields"
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
//
// The body is read in one pass (sdk/jsonfields), keeping only the fields
// the connector reads. It accepts and reads what encoding/json did
// (FuzzDecodeMatchesReference compares the two): of a name given twice in
// an object the last counts, invalid UTF-8 reads as U+FFFD, and in a
// resource the names status and health match in any case, as they did
// encoding/json's struct fields.
func Decode(body []byte) (Notification, error) {
	d := jsonfields.New(body)
	defer d.Release()
	var b notificationBody
	if err := d.Body(b.member(d)); err != nil {
		return Notification{}, refused(body, err)
	}
	return b.notification()
}

// refused says why a body that is no JSON object is invalid input.
func refused(body []byte, err error) error {
	if err := jsonfields.Refused(body, err); err != nil {
		return notAnObject(body, err)
	}
	return sdk.InvalidInputf("body is JSON null, not an object")
}

// notificationBody is what Decode reads of a body; of a name given twice,
// the last value counts.
type notificationBody struct {
	hasCommit, hasPhase                                  bool
	commitID, phase, syncStatus, health, message, config jsonfields.Field
	// resourcesKind is the kind of resources: its elements are read only
	// when it is an array.
	resourcesKind jsonfields.Kind
	resources     []Resource
}

// member reads a member of the body.
func (b *notificationBody) member(d *jsonfields.Decoder) func(name []byte) error {
	return func(name []byte) error {
		switch string(name) {
		case fieldCommitID:
			b.hasCommit = true
			return d.Field(&b.commitID)
		case fieldPhase:
			b.hasPhase = true
			return d.Field(&b.phase)
		case fieldSyncStatus:
			return d.Field(&b.syncStatus)
		case fieldHealth:
			return d.Field(&b.health)
		case fieldMessage:
			return d.Field(&b.message)
		case fieldConfigName:
			return d.Field(&b.config)
		case fieldResources:
			return b.readResources(d)
		}
		return d.Skip()
	}
}

// readResources reads status.resources: the entries that are objects.
func (b *notificationBody) readResources(d *jsonfields.Decoder) error {
	b.resourcesKind, b.resources = d.PeekKind(), b.resources[:0]
	if b.resourcesKind != '[' {
		return d.Skip()
	}
	return d.Array(func() error {
		if d.PeekKind() != '{' {
			return d.Skip()
		}
		var r Resource
		if err := readResource(d, &r); err != nil {
			return err
		}
		b.resources = append(b.resources, r)
		return nil
	})
}

// readResource reads the sync status and health.status of a resource.
// Only these two fields are read: for an application with hundreds of
// resources they are most of the body.
func readResource(d *jsonfields.Decoder, r *Resource) error {
	return d.Object(func(name []byte) error {
		switch {
		case bytes.EqualFold(name, []byte("status")):
			var f jsonfields.Field
			err := d.Field(&f)
			r.Sync = trimmed(f)
			return err
		case bytes.EqualFold(name, []byte("health")):
			r.Health = ""
			if d.PeekKind() != '{' {
				return d.Skip()
			}
			return d.Object(func(name []byte) error {
				if !bytes.EqualFold(name, []byte("status")) {
					return d.Skip()
				}
				var f jsonfields.Field
				err := d.Field(&f)
				r.Health = trimmed(f)
				return err
			})
		}
		return d.Skip()
	})
}

// notification checks what was read and turns it into a Notification.
func (b *notificationBody) notification() (Notification, error) {
	n := Notification{IsArgo: b.hasCommit || b.hasPhase}
	if !n.IsArgo {
		return n, nil
	}
	commit, wrong := stringOf(b.commitID)
	if wrong != "" {
		return Notification{}, sdk.InvalidInputf("commitid is a JSON %s; it must be a string holding the git commit id", wrong)
	}
	n.CommitID = commit

	switch b.resourcesKind {
	case 0, 'n':
	case '[':
		n.HasResources = true
		n.Resources = b.resources
		if n.Resources == nil {
			n.Resources = []Resource{}
		}
	default:
		return Notification{}, sdk.InvalidInputf("resources is a JSON %s; it must be the Application's status.resources array (rendered with toJson)", jsonfields.KindName(b.resourcesKind))
	}

	for _, f := range []struct {
		name  string
		field jsonfields.Field
		dst   *string
	}{
		{fieldPhase, b.phase, &n.Phase},
		{fieldSyncStatus, b.syncStatus, &n.SyncStatus},
		{fieldHealth, b.health, &n.Health},
		{fieldMessage, b.message, &n.Message},
		{fieldConfigName, b.config, &n.ConfigName},
	} {
		v, wrong := stringOf(f.field)
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

// stringOf returns a string field's trimmed value. An absent or null value
// reads as ""; so does a value of another kind, which wrong then names.
func stringOf(f jsonfields.Field) (value, wrong string) {
	switch f.Kind {
	case 0, 'n':
		return "", ""
	case '"':
		return strings.TrimSpace(f.Str), ""
	}
	return "", jsonfields.KindName(f.Kind)
}

// trimmed is a string field's trimmed value, "" for any other.
func trimmed(f jsonfields.Field) string {
	s, _ := stringOf(f)
	return s
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
