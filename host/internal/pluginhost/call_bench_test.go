package pluginhost

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// cpuTime returns the processor time this process (the host's side of the
// calls; the plugin is a process of its own) used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPluginCall calls the SDK's echo plugin, a process started by the
// plugin host, from 8 goroutines as the pipeline's deliveries and intake's
// parses do: PostStatus with a one-status request, ParseEvent with a Flux
// event's size of body. cpu-ns/op is the host side's processor time per
// call (the gRPC client, TLS, the proxy and its metrics).
func BenchmarkPluginCall(b *testing.B) {
	ctx := context.Background()
	m, err := Discover(ctx, []string{pluginDir(b)}, pluginpin.Pins{}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	repo, err := m.Repository("ECHO")
	if err != nil {
		b.Fatal(err)
	}
	op, err := m.Operator("ECHO")
	if err != nil {
		b.Fatal(err)
	}
	cfg := sdk.Config{Name: "default", Revision: "0123456789abcdef", Settings: map[string]string{
		"gitRepositoryType": "ECHO", "ciCdOrchestratorType": "ECHO", "gitOpsOperatorType": "ECHO",
		"gitOpsAppURL": "https://github.com/org/manifests/commit", "githubOrgUrl": "https://github.com/org"}}
	commit := "0123456789abcdef0123456789abcdef01234567"
	body := fmt.Appendf(nil, `{"commit":%q,"message":%q}`, commit, make([]byte, 500))
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"PostStatus", func() error {
			return repo.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: commit, Status: sdk.Status{
				Name: "Status", State: sdk.StatePending, RawState: "DependencyNotReady",
				Description: "dependency 'flux-system/infrastructure' is not ready", Genre: "Kustomization", Operator: "Flux"}})
		}},
		{"ParseEvent", func() error {
			_, err := op.ParseEvent(ctx, sdk.ParseRequest{Config: &cfg, Body: body})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := c.call(); err != nil { // starts the plugin
				b.Fatal(err)
			}
			b.SetParallelism(4) // 8 goroutines on 2 processors
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
