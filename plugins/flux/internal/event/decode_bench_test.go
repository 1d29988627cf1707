package event

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// The benchmarks of this file measure what the plugin spends on one event
// body, for the shapes Flux sends most: the repeated
// ReconciliationSucceeded, a Progressing change set, a failed health check,
// and a large change set (200 objects, near the largest a Kustomization
// applies in practice). The gRPC call around it is not included.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/event | tee new.txt
//	benchstat old.txt new.txt

// benchBody is one benchmarked event body.
type benchBody struct {
	name string
	body []byte
}

// benchBodies are the benchmarked bodies, in the order they are reported.
func benchBodies(b *testing.B) []benchBody {
	b.Helper()
	var out []benchBody
	for _, f := range []struct{ name, file string }{
		{"succeeded", "kustomization-reconciliation-succeeded.json"},
		{"progressing", "kustomization-progressing-change-set.json"},
		{"health-check-failed", "kustomization-health-check-failed.json"},
	} {
		body, err := os.ReadFile(filepath.Join(testdata, f.file))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, benchBody{f.name, body})
	}
	return append(out, benchBody{"large-change-set", largeChangeSet(b, out[1].body)})
}

// largeChangeSet is progressing, the change-set fixture, with its message
// replaced by a list of 200 objects of 8 kinds.
func largeChangeSet(b *testing.B, progressing []byte) []byte {
	b.Helper()
	kinds := []string{"Deployment", "Service", "ConfigMap", "Secret", "Ingress", "ServiceAccount", "Role", "RoleBinding"}
	var lines []string
	for i := range 200 {
		action := "configured"
		if i%5 == 0 {
			action = "created"
		}
		lines = append(lines, kinds[i%len(kinds)]+"/shop/app-"+strings.Repeat("x", i%7)+"-"+string(rune('a'+i%26))+" "+action)
	}
	body := strings.Replace(string(progressing),
		`"message": "Deployment/default/podinfo configured\nHorizontalPodAutoscaler/default/podinfo created\nService/default/podinfo configured\nDeployment/default/redis configured\nService/default/redis created"`,
		`"message": "`+strings.Join(lines, `\n`)+`"`, 1)
	if !strings.Contains(body, "app-") {
		b.Fatal("the change-set fixture changed: update largeChangeSet")
	}
	return []byte(body)
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

// BenchmarkDecode measures reading the body into an Event.
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
