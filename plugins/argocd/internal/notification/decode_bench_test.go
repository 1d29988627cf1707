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

// benchBody is one benchmarked notification body.
type benchBody struct {
	name string
	body []byte
}

// benchBodies are the benchmarked bodies, in the order they are reported.
func benchBodies(b *testing.B) []benchBody {
	b.Helper()
	var out []benchBody
	for _, f := range []struct{ name, file string }{
		{"succeeded", "succeeded-synced-healthy.json"},
		{"running", "running-progressing.json"},
		{"failed", "failed.json"},
	} {
		body, err := os.ReadFile(filepath.Join(testdata, f.file))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, benchBody{f.name, body})
	}
	// A succeeded sync of an Application with 500 resources.
	var large map[string]any
	if err := json.Unmarshal(out[0].body, &large); err != nil {
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
	return append(out, benchBody{"500-resources", body})
}

// benchEach runs one sub-benchmark of do per benchmarked body.
func benchEach(b *testing.B, do func(body []byte) error) {
	for _, c := range benchBodies(b) {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := do(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode measures reading the body into a Notification.
func BenchmarkDecode(b *testing.B) {
	benchEach(b, func(body []byte) error {
		_, err := Decode(body)
		return err
	})
}

// BenchmarkParseEvent measures the whole of the operator's work on a body:
// decode, statuses, outcome.
func BenchmarkParseEvent(b *testing.B) {
	op := New(nil)
	ctx := context.Background()
	benchEach(b, func(body []byte) error {
		res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: body})
		if err == nil && !res.Handled {
			err = fmt.Errorf("ignored: %s", res.Reason)
		}
		return err
	})
}
