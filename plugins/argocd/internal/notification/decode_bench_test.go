package notification

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/parsebench"
)

// The benchmarks of this file measure what the plugin spends on one
// notification body: a sync that succeeded, one that is running, one that
// failed, and an Application of 500 resources (status.resources is the
// bulk of a large body). The gRPC call around it is not included.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/notification | tee new.txt
//	benchstat old.txt new.txt

// benchBodies are the benchmarked bodies, in the order they are reported.
func benchBodies(b *testing.B) []parsebench.Body {
	b.Helper()
	out := parsebench.Read(b, testdata,
		parsebench.Fixture{Name: "succeeded", File: "succeeded-synced-healthy.json"},
		parsebench.Fixture{Name: "running", File: "running-progressing.json"},
		parsebench.Fixture{Name: "failed", File: "failed.json"},
	)
	// A succeeded sync of an Application with 500 resources.
	var large map[string]any
	if err := json.Unmarshal(out[0].Data, &large); err != nil {
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
	return append(out, parsebench.Body{Name: "500-resources", Data: body})
}

// BenchmarkDecode measures reading the body into a Notification.
func BenchmarkDecode(b *testing.B) {
	parsebench.Each(b, benchBodies(b), func(body []byte) error {
		_, err := Decode(body)
		return err
	})
}

// BenchmarkParseEvent measures the whole of the operator's work on a body:
// decode, statuses, outcome.
func BenchmarkParseEvent(b *testing.B) {
	parsebench.ParseEvent(b, New(nil), benchBodies(b))
}
