package notification

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/sdk/plugintest"
	"github.com/google/go-cmp/cmp"
)

// referenceDecode is Decode as it was written on encoding/json (a map of
// raw messages, each decoded again), kept as the oracle of
// FuzzDecodeMatchesReference: the streaming Decode must accept the same
// bodies, with the same errors, and read them into the same Notification.
func referenceDecode(body []byte) (Notification, error) {
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

	commit, wrong := refStringOf(fields[fieldCommitID])
	if wrong != "" {
		return Notification{}, sdk.InvalidInputf("commitid is a JSON %s; it must be a string holding the git commit id", wrong)
	}
	n.CommitID = commit

	switch raw := fields[fieldResources]; refKindOf(raw) {
	case "", kindNull:
	case kindArray:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return Notification{}, sdk.InvalidInputf("resources: %w", err)
		}
		n.HasResources = true
		n.Resources = make([]Resource, 0, len(items))
		for _, item := range items {
			if r, ok := refDecodeResource(item); ok {
				n.Resources = append(n.Resources, r)
			}
		}
	default:
		return Notification{}, sdk.InvalidInputf("resources is a JSON %s; it must be the Application's status.resources array (rendered with toJson)", refKindOf(raw))
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
		v, wrong := refStringOf(fields[f.name])
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

// refDecodeResource reads one status.resources entry; ok is false when the
// entry is not an object.
func refDecodeResource(raw json.RawMessage) (r Resource, ok bool) {
	if refKindOf(raw) != kindObject {
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
	r.Sync, _ = refStringOf(fields.Status)
	if refKindOf(fields.Health) == kindObject {
		var health struct {
			Status json.RawMessage `json:"status"`
		}
		if json.Unmarshal(fields.Health, &health) == nil {
			r.Health, _ = refStringOf(health.Status)
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

// refKindOf returns the kind of a valid JSON value, "" for an absent one.
func refKindOf(raw json.RawMessage) string {
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

// refStringOf returns a JSON string's trimmed value. An absent or null value
// reads as ""; so does a value of another kind, which wrong then names.
func refStringOf(raw json.RawMessage) (value, wrong string) {
	switch kind := refKindOf(raw); kind {
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

// decodeSeeds are bodies on the edges of what Decode reads: names given
// twice, escaped names and names in another case, invalid UTF-8 and
// escapes, values of every kind where strings, arrays and objects are read,
// and what may follow the object.
var decodeSeeds = []string{
	`{"commitid":"abc","commitid":"abcdef0","phase":1,"phase":"Running","resources":[],"resources":null}`,
	`{"phase":null}`, `{"commitid":null}`, `{"commitid":[]}`, `{"commitid":"x","resources":{}}`, `{"commitid":true,"resources":1}`,
	`{"commitid":"abcdef0","resources":[{"status":"Synced","Status":"OutOfSync","STATUS":null,"health":{"status":"Healthy","Status":" Degraded "}}]}`,
	`{"commitid":"abcdef0","resources":[{"\u017ftatus":"Synced","HEALTH":{"\u017fTATUS":"Healthy"},"health":1},{"health":{"status":"Healthy"},"health":{}}]}`,
	`{"commitid":"abcdef0","resources":[{"st\u0061tus":"Synced","health":{"status":["Healthy"]}},[],"x",null,1.5,{}]}`,
	`{"commitid":"abcdef0","resources":[{"status":"\ud800","health":{"status":"\ud83d\ude00"}}],"message":"\ud800\u0041"}`,
	"{\"commitid\":\"abcdef0\xff\",\"phase\":\"Run\xc3\",\"resources\":[{\"stat\xffus\":\"x\"}]}",
	`{"commitid":"abcdef0","phase":"Succeeded","health":"Healthy","sync_status":"Synced","message":{"a":1},"gitops_connector_config_name":"<no value>","resources":[]}`,
	`{"commitid":"abcdef0","gitops_connector_config_name":7,"sync_status":false,"health":[]}`,
	`{"Commitid":"abcdef0","PHASE":"Running"}`, `{"c\u006fmmitid":"abcdef0"}`,
	`{} `, "\t{}\r\n", `{}{}`, `{} x`, `{}]`, `{"a":1,}`, `{"a" 1}`, `{"resources":[1,]}`, `{"resources":[1 2]}`, "{\"a\":\"\x01\"}",
	`{"commitid":"abcdef0","message":"line "quoted" here","resources":[]}`,
	"\xef\xbb\xbf{}", `  null  `, `[{}]`, `"{}"`, `{"resources":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
	`{"commitid":"a","resources":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"commitid":"a","resources":[` + strings.Repeat(`{"health":`, 9998) + "1" + strings.Repeat("}", 9998) + `]}`,
}

// FuzzDecodeMatchesReference checks that Decode accepts and refuses the
// bodies encoding/json did, with the same error, and reads the same
// Notification.
//
// Run it with: go test -fuzz=FuzzDecodeMatchesReference -fuzztime=60s ./internal/notification
func FuzzDecodeMatchesReference(f *testing.F) {
	plugintest.Seed(f, filepath.Join(testdata, "*.json"), decodeSeeds...)
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		got, err := Decode(body)
		want, wantErr := referenceDecode(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("Decode changed the body")
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("Decode error %v, want %v", err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Decode differs from encoding/json (-want +got):\n%s", diff)
		}
	})
}
