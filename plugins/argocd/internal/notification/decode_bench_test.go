package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The benchmarks of this file measure what the plugin spends on one
// notification body: a sync that succeeded, one that is running, one that
// failed, and an Application of 500 resources (status.resources is the
// bulk of a large body). The gRPC call around it is not included.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/notification | tee new.txt
//	benchstat old.txt new.txt

var benchFiles = []struct{ name, file string }{
	{"succeeded", "succeeded-synced-healthy.json"},
	{"running", "running-progressing.json"},
	{"failed", "failed.json"},
}

// benchBodies are the benchmarked bodies by name, in order.
func benchBodies(b *testing.B) ([]string, map[string][]byte) {
	b.Helper()
	names := []string{}
	out := map[string][]byte{}
	for _, f := range benchFiles {
		body, err := os.ReadFile(filepath.Join(testdata, f.file))
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, f.name)
		out[f.name] = body
	}
	// A succeeded sync of an Application with 500 resources.
	var large map[string]any
	if err := json.Unmarshal(out["succeeded"], &large); err != nil {
		b.Fatal(err)
	}
	resources := make([]any, 500)
	for i := range resources {
		resources[i] = map[string]any{"group": "apps", "kind": "Deployment", "name": fmt.Sprintf("web-%d", i),
			"namespace": "shop", "status": "Synced", "version": "v1", "health": map[string]any{"status": "Healthy"}}
	}
	large["resources"] = resources
	body, err := json.Marshal(large)
	if err != nil {
		b.Fatal(err)
	}
	names = append(names, "500-resources")
	out["500-resources"] = body
	return names, out
}

// BenchmarkDecode measures reading the body into a Notification.
func BenchmarkDecode(b *testing.B) {
	names, bodies := benchBodies(b)
	for _, name := range names {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseEvent measures the whole of the operator's work on a body:
// decode, statuses, outcome.
func BenchmarkParseEvent(b *testing.B) {
	names, bodies := benchBodies(b)
	op := New(nil)
	ctx := context.Background()
	for _, name := range names {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: body})
				if err != nil || !res.Handled {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
	}
}
