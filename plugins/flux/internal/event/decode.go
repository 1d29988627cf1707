package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk/jsonfields"
)

// Decode reads a request body. It fails only when the body is not a JSON
// object; any JSON object decodes, whatever its fields hold.
//
// Every event of a Flux installation passes here, most of them repeats:
// the body is read in one pass (sdk/jsonfields), keeping only the fields
// and metadata entries the connector reads. It accepts and reads what
// encoding/json did (FuzzDecodeMatchesReference compares the two): of a
// name given twice in an object the last counts, and invalid UTF-8 reads
// as U+FFFD.
func Decode(body []byte) (Event, error) {
	d := jsonfields.New(body)
	defer d.Release()
	var b eventBody
	if err := d.Body(b.member(d)); err != nil {
		return Event{}, notAnObject(body, jsonfields.Refused(body, err))
	}
	return b.event(), nil
}

// metaEntry is a metadata entry the connector reads (see isReadKey).
type metaEntry struct {
	key string
	jsonfields.Field
}

// eventBody is what Decode reads of a body; of a name given twice, the
// last value counts.
type eventBody struct {
	reason, message jsonfields.Field
	// metadataKind and involvedKind are the kinds of metadata and
	// involvedObject: their members are read only when they are objects.
	metadataKind, involvedKind jsonfields.Kind
	metadata                   []metaEntry
	kind, namespace, name      jsonfields.Field
}

// member reads a member of the body.
func (b *eventBody) member(d *jsonfields.Decoder) func(name []byte) error {
	return func(name []byte) error {
		switch string(name) {
		case "metadata":
			return b.readMetadata(d)
		case "involvedObject":
			return b.readInvolvedObject(d)
		case "reason":
			return d.Field(&b.reason)
		case "message":
			return d.Field(&b.message)
		}
		return d.Skip()
	}
}

// readMetadata reads the metadata object's entries that the connector reads.
func (b *eventBody) readMetadata(d *jsonfields.Decoder) error {
	b.metadataKind, b.metadata = d.PeekKind(), b.metadata[:0]
	if b.metadataKind != '{' {
		return d.Skip()
	}
	return d.Object(func(name []byte) error {
		if !isReadKey(name) {
			return d.Skip()
		}
		i := slices.IndexFunc(b.metadata, func(e metaEntry) bool { return e.key == string(name) })
		if i < 0 {
			i = len(b.metadata)
			b.metadata = append(b.metadata, metaEntry{key: string(name)})
		}
		return d.Field(&b.metadata[i].Field)
	})
}

// readInvolvedObject reads the kind, namespace and name of involvedObject.
func (b *eventBody) readInvolvedObject(d *jsonfields.Decoder) error {
	b.involvedKind = d.PeekKind()
	b.kind, b.namespace, b.name = jsonfields.Field{}, jsonfields.Field{}, jsonfields.Field{}
	if b.involvedKind != '{' {
		return d.Skip()
	}
	return d.Object(func(name []byte) error {
		switch string(name) {
		case "kind":
			return d.Field(&b.kind)
		case "namespace":
			return d.Field(&b.namespace)
		case "name":
			return d.Field(&b.name)
		}
		return d.Skip()
	})
}

// event turns what was read into an Event, noting mistyped fields in the
// order they are read: metadata, involvedObject and its fields, reason,
// message.
func (b *eventBody) event() Event {
	var ev Event
	ev.Metadata = make(map[string]string, len(b.metadata))
	switch b.metadataKind {
	case 0, 'n', '{':
	default:
		ev.Mistyped = append(ev.Mistyped, "metadata: "+jsonfields.KindName(b.metadataKind))
	}
	for _, e := range b.metadata {
		if e.Kind == '"' {
			ev.Metadata[e.key] = e.Str
		} else {
			ev.string(e.Field, "metadata."+e.key)
		}
	}
	switch b.involvedKind {
	case '{':
	case 0, 'n':
		ev.NotFlux = "the body has no involvedObject"
		return ev
	default:
		ev.Mistyped = append(ev.Mistyped, "involvedObject: "+jsonfields.KindName(b.involvedKind))
		ev.NotFlux = "involvedObject is a JSON " + jsonfields.KindName(b.involvedKind) + ", want an object"
		return ev
	}
	ev.Kind = strings.TrimSpace(ev.string(b.kind, "involvedObject.kind"))
	if ev.Kind == "" {
		ev.NotFlux = "involvedObject has no kind"
		return ev
	}
	ev.Namespace = strings.TrimSpace(ev.string(b.namespace, "involvedObject.namespace"))
	ev.Name = strings.TrimSpace(ev.string(b.name, "involvedObject.name"))
	ev.IsFlux = true
	ev.Reason = strings.TrimSpace(ev.string(b.reason, "reason"))
	ev.Message = ev.string(b.message, "message")
	return ev
}

// string returns a string field's value: "" when the field is absent, null
// or of another kind, which is then noted under name.
func (ev *Event) string(f jsonfields.Field, name string) string {
	switch f.Kind {
	case 0, 'n':
	case '"':
		return f.Str
	default:
		ev.Mistyped = append(ev.Mistyped, name+": "+jsonfields.KindName(f.Kind))
	}
	return ""
}

// isReadKey reports whether the connector reads a metadata key: the others
// are not kept.
func isReadKey(key []byte) bool {
	switch string(key) {
	case MetaConfigName, MetaMessage:
		return true
	}
	if group, k, ok := bytes.Cut(key, []byte("/")); ok && bytes.HasSuffix(group, []byte(".toolkit.fluxcd.io")) {
		key = k
	}
	return slices.Contains(revisionKeys, string(key))
}

// jsonType names the JSON type of a valid JSON value.
func jsonType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	return jsonfields.KindName(jsonfields.Kind(raw[0]))
}

// notAnObject says why a body, which encoding/json failed to decode into an
// object with err (nil: it is null), is not a JSON object.
func notAnObject(body []byte, err error) error {
	const want = "want a Flux event (a JSON object)"
	var (
		syntax   *json.SyntaxError
		mistyped *json.UnmarshalTypeError
	)
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return fmt.Errorf("body is empty, %s", want)
	case errors.As(err, &syntax):
		return fmt.Errorf("body is not valid JSON (at byte %d: %s), %s", syntax.Offset, syntax, want)
	case err == nil || errors.As(err, &mistyped):
		return fmt.Errorf("body is a JSON %s, %s", jsonType(body), want)
	}
	return fmt.Errorf("%w, %s", err, want)
}
