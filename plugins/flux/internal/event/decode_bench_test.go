package event

import (
	"context"
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

var benchBodies = []struct{ name, file string }{
	{"succeeded", "kustomization-reconciliation-succeeded.json"},
	{"progressing", "kustomization-progressing-change-set.json"},
	{"health-check-failed", "kustomization-health-check-failed.json"},
}

// benchBody reads a fixture of testdata.
func benchBody(b *testing.B, file string) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join(testdata, file))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// largeChangeSet is a Progressing event listing 200 objects of 8 kinds.
func largeChangeSet(b *testing.B) []byte {
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
	body := strings.Replace(string(benchBody(b, "kustomization-progressing-change-set.json")),
		`"message": "Deployment/default/podinfo configured\nHorizontalPodAutoscaler/default/podinfo created\nService/default/podinfo configured\nDeployment/default/redis configured\nService/default/redis created"`,
		`"message": "`+strings.Join(lines, `\n`)+`"`, 1)
	if !strings.Contains(body, "app-") {
		b.Fatal("the change-set fixture changed: update largeChangeSet")
	}
	return []byte(body)
}

// bodies are the benchmarked bodies by name.
func bodies(b *testing.B) map[string][]byte {
	out := map[string][]byte{"large-change-set": largeChangeSet(b)}
	for _, c := range benchBodies {
		out[c.name] = benchBody(b, c.file)
	}
	return out
}

var benchOrder = []string{"succeeded", "progressing", "health-check-failed", "large-change-set"}

// BenchmarkDecode measures reading the body into an Event.
func BenchmarkDecode(b *testing.B) {
	all := bodies(b)
	for _, name := range benchOrder {
		body := all[name]
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
	all := bodies(b)
	op := New(nil)
	ctx := context.Background()
	for _, name := range benchOrder {
		body := all[name]
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
