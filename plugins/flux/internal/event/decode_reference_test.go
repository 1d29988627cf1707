package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// referenceDecode is Decode as it was written on encoding/json (a map of
// raw messages, each decoded again), kept as the oracle of
// FuzzDecodeMatchesReference: the streaming Decode must accept the same
// bodies and read them into the same Event. It differs in one respect the
// result does not show: it keeps every string metadata entry, Decode those
// the connector reads.
func referenceDecode(body []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return Event{}, notAnObject(body, err)
	}
	var ev Event
	meta, _ := ev.refObject(top, "metadata")
	ev.Metadata = make(map[string]string, len(meta))
	for key, raw := range meta {
		if s, ok := ev.refStringValue("metadata."+key, raw, isReadKey([]byte(key))); ok {
			ev.Metadata[key] = s
		}
	}
	obj, ok := ev.refObject(top, "involvedObject")
	switch {
	case ok:
	case top["involvedObject"] == nil || refIsNull(top["involvedObject"]):
		ev.NotFlux = "the body has no involvedObject"
		return ev, nil
	default:
		ev.NotFlux = "involvedObject is a JSON " + jsonType(top["involvedObject"]) + ", want an object"
		return ev, nil
	}
	ev.Kind = strings.TrimSpace(ev.refString(obj, "involvedObject.kind", "kind"))
	if ev.Kind == "" {
		ev.NotFlux = "involvedObject has no kind"
		return ev, nil
	}
	ev.Namespace = strings.TrimSpace(ev.refString(obj, "involvedObject.namespace", "namespace"))
	ev.Name = strings.TrimSpace(ev.refString(obj, "involvedObject.name", "name"))
	ev.IsFlux = true
	ev.Reason = strings.TrimSpace(ev.refString(top, "reason", "reason"))
	ev.Message = ev.refString(top, "message", "message")
	return ev, nil
}

// refObject returns the JSON object under key, noting a value of another type.
func (ev *Event) refObject(from map[string]json.RawMessage, key string) (map[string]json.RawMessage, bool) {
	raw, ok := from[key]
	if !ok || refIsNull(raw) {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		ev.Mistyped = append(ev.Mistyped, key+": "+jsonType(raw))
		return nil, false
	}
	return obj, true
}

// refString returns the string under key ("" when absent), noting a value of
// another type under the field's name.
func (ev *Event) refString(from map[string]json.RawMessage, field, key string) string {
	raw, ok := from[key]
	if !ok {
		return ""
	}
	s, _ := ev.refStringValue(field, raw, true)
	return s
}

// refStringValue decodes a JSON string; null and other types give false, and
// other types are noted when report is set.
func (ev *Event) refStringValue(field string, raw json.RawMessage, report bool) (string, bool) {
	if refIsNull(raw) {
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

func refIsNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// decodeSeeds are bodies on the edges of what Decode reads: names given
// twice, escaped names, invalid UTF-8 and escapes, values of every kind
// where strings and objects are read, and what may follow the object.
var decodeSeeds = []string{
	`{"reason":"A","reason":"B","message":1,"message":"m"}`,
	`{"metadata":{"revision":"main@sha1:` + strings.Repeat("a", 40) + `"},"metadata":null,"involvedObject":{"kind":"Kustomization"}}`,
	`{"metadata":{"revision":1,"revision":"x","commit":"y","commit":null},"involvedObject":{"kind":"K","kind":null}}`,
	`{"metadata":"text","involvedObject":{"kind":"HelmRelease","name":["x"],"namespace":{}},"reason":true,"message":null}`,
	`{"involvedObject":{"kind":"Kustomization"},"involvedObject":[1]}`,
	`{"involvedObject":{"kind":" "},"reason":"Progressing"}`,
	`{"involvedObject":{"kind":"Kustomization"},"reason":"Progressing","metadata":{"kustomize.toolkit.fluxcd.io/revision":false,"event.toolkit.fluxcd.io/commit":0,"gitops_connector_config_name":[],"message":{},"other":1}}`,
	`{"\u0072eason":"R","m\u0065ssage":"a\u00e9\ud83d\ude00\n","involvedObject":{"\u006bind":"K"}}`,
	"{\"reason\":\"\xff\xfe\",\"involvedObject\":{\"kind\":\"K\xc3\"},\"re\xffson\":\"x\"}",
	`{"reason":"\ud800","message":"\ud800\u0041\udc00x\ud83d","involvedObject":{"kind":"\uDFFF"}}`,
	`{"Reason":"r","REASON":"r","involvedObject":{"Kind":"K"}}`,
	`{} `, "\t{}\r\n", `{}{}`, `{} x`, `{}]`, `{"a":1,}`, `{"a" 1}`, `{'a':1}`, "{\"a\":\"\x01\"}",
	`{"a":[1,2,{"b":[]}],"b":-0.5e+10,"c":true,"d":false,"e":null}`, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`,
	"\xef\xbb\xbf{}", `{"a":"\u12"}`, `  null  `, `[{}]`, `"{}"`,
	`{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 9999) + "1" + strings.Repeat("}", 9999) + `}`,
}

// FuzzDecodeMatchesReference checks that Decode accepts and refuses the
// bodies encoding/json did, with the same error, and reads the same Event:
// the same fields, the same mistyped ones (in any order: the reference
// listed metadata's in map order), and the same metadata entries of the
// keys the connector reads.
//
// Run it with: go test -fuzz=FuzzDecodeMatchesReference -fuzztime=60s ./internal/event
func FuzzDecodeMatchesReference(f *testing.F) {
	plugintest.Seed(f, filepath.Join(testdata, "*.json"), decodeSeeds...)
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := slices.Clone(body)
		got, err := Decode(body)
		want, wantErr := referenceDecode(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Decode changed the body")
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("Decode error %v, want %v", err, wantErr)
		}
		maps.DeleteFunc(want.Metadata, func(key, _ string) bool { return !isReadKey([]byte(key)) })
		slices.Sort(got.Mistyped)
		slices.Sort(want.Mistyped)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Decode differs from encoding/json (-want +got):\n%s", diff)
		}
	})
}
