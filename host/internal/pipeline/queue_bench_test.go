package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/pipelinetest"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// The benchmarks of this file measure the pipeline's own cost per event —
// queueing per (config, commit), ordering, the delivery state, the
// superseded check — with a memory store and plugins that answer at once,
// so neither the disk nor the API is in the figure. The durable path is
// measured in host/internal/store (BenchmarkDurablePipeline).
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/pipeline | tee new.txt
//	benchstat old.txt new.txt

// progressStatuses are the statuses of a Flux Progressing event with a
// change set of three kinds.
func progressStatuses(n int) []sdk.Status {
	names := []string{"Status", "Deployment", "HorizontalPodAutoscaler", "Service", "Status"}
	out := make([]sdk.Status, n)
	for i := range out {
		out[i] = sdk.Status{Name: names[i%len(names)], State: sdk.StatePending, RawState: "Progressing",
			Description: "Reconciliation underway.", Genre: "Kustomization", Operator: "Flux"}
	}
	return out
}

func benchPipeline(b *testing.B, plugins Plugins, store Store) *Pipeline {
	b.Helper()
	p, err := New(Options{Plugins: plugins, Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSubmitAndDeliver submits events spread over a number of commits
// and waits until every status was posted: ns/op is the pipeline's time per
// event. With one commit the events are delivered one after the other;
// with many, in parallel (up to 64 at a time).
func BenchmarkSubmitAndDeliver(b *testing.B) {
	for _, commits := range []int{1, 64, 1024} {
		for _, statuses := range []int{1, 5} {
			b.Run(fmt.Sprintf("commits=%d/statuses=%d", commits, statuses), func(b *testing.B) {
				plugins := pipelinetest.NewPlugins(b.N * statuses)
				p := benchPipeline(b, plugins, NewMemoryStore())
				p.Start()
				defer func() { _ = p.Close(context.Background()) }()
				ids := make([]string, commits)
				for i := range ids {
					ids[i] = fmt.Sprintf("%040x", i)
				}
				sts := progressStatuses(statuses)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := p.Submit(Job{ID: "e", Config: testConfig, CommitID: ids[i%commits], Statuses: sts}); err != nil {
						b.Fatal(err)
					}
				}
				<-plugins.Done()
			})
		}
	}
}

// BenchmarkResumedBacklog resumes a backlog of one commit recorded before a
// restart — Progressing events followed by their repeats — and delivers it:
// the pair is behind, so each status is checked against every job queued
// after it (superseded). ns/op is the time per resumed event.
func BenchmarkResumedBacklog(b *testing.B) {
	for _, backlog := range []int{100, 1000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				store := NewMemoryStore()
				for j := range backlog {
					st := progressStatuses(5)
					// Every job has a context of its own, which no later job
					// supersedes: the check scans the whole queue.
					st = append(st, sdk.Status{Name: fmt.Sprintf("Deployment/default/app-%d", j), State: sdk.StateFailed,
						RawState: "error", Description: "Health Check Failed", Genre: "Kustomization", Operator: "Flux"})
					if _, err := store.Add(Record{ID: fmt.Sprint(j), ConfigKey: testConfig.Key(), CommitID: commitA, Statuses: st}); err != nil {
						b.Fatal(err)
					}
				}
				plugins := pipelinetest.NewPlugins(0)
				p, err := New(Options{Plugins: plugins, Store: store, Logger: slog.New(slog.DiscardHandler),
					Resolve: func(string) (config.Config, error) { return testConfig, nil }})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				p.Start()
				if err := p.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*backlog), "ns/event")
		})
	}
}
