package event

import (
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/parsebench"
)

// The benchmarks of this file measure what the plugin spends on one event
// body, for the shapes Flux sends most: the repeated
// ReconciliationSucceeded, a Progressing change set, a failed health check,
// and a large change set (200 objects, near the largest a Kustomization
// applies in practice). The gRPC call around it is not included.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/event | tee new.txt
//	benchstat old.txt new.txt

// benchBodies are the benchmarked bodies, in the order they are reported.
func benchBodies(b *testing.B) []parsebench.Body {
	b.Helper()
	out := parsebench.Read(b, testdata,
		parsebench.Fixture{Name: "succeeded", File: "kustomization-reconciliation-succeeded.json"},
		parsebench.Fixture{Name: "progressing", File: "kustomization-progressing-change-set.json"},
		parsebench.Fixture{Name: "health-check-failed", File: "kustomization-health-check-failed.json"},
	)
	return append(out, parsebench.Body{Name: "large-change-set", Data: largeChangeSet(b, out[1].Data)})
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

// BenchmarkDecode measures reading the body into an Event.
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
