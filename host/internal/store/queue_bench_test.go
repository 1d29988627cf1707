package store

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/pipelinetest"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// The benchmarks of this file measure the durable queue: what one accepted
// event costs in the store, alone and under concurrency, and through the
// pipeline:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/store | tee new.txt
//	benchstat old.txt new.txt
//
// Besides ns/op they report p50-ms and p99-ms, the latency of one store
// write as a caller sees it.

func openBench(b *testing.B) *Bolt {
	b.Helper()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// runWriters runs op b.N times from writers goroutines and reports the
// latency percentiles of one op.
func runWriters(b *testing.B, writers int, op func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				start := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := min(len(lat)-1, int(p*float64(len(lat))))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkAdd records events from 1, 8 and 32 concurrent writers, as
// intake does for each request before it answers 202: with one writer,
// ns/op is the latency of a lone event.
func BenchmarkAdd(b *testing.B) {
	r := record("e", commitA, "Status")
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBench(b)
			runWriters(b, writers, func(int) error {
				_, err := s.Add(r)
				return err
			})
		})
	}
}

// BenchmarkDeliveryCycle is the store's part of delivering a one-status
// event: Add (intake), State, Progress after the status, Done, each pair a
// commit of its own, from 64 concurrent deliveries (the pipeline's
// default concurrency). ns/op is the time per event at that concurrency.
func BenchmarkDeliveryCycle(b *testing.B) {
	s := openBench(b)
	runWriters(b, 64, func(i int) error {
		r := record(fmt.Sprint(i), fmt.Sprintf("%040x", i), "Status")
		seq, err := s.Add(r)
		if err != nil {
			return err
		}
		r.Seq = seq
		st, err := s.State(r.Key())
		if err != nil {
			return err
		}
		st.Posted = map[string]string{"Status": "pending\x00DependencyNotReady\x00"}
		r.Next = 1
		if err := s.Progress(r, st); err != nil {
			return err
		}
		return s.Done(r, &st)
	})
}

// benchConfig is the config of the benchmarks' events.
var benchConfig = config.Config{Name: "default", RepositoryType: "GITHUB", OrchestratorType: "GITHUB", Credentials: config.Credentials{Shared: config.CredentialSource{Credential: config.TokenCredential("ghp_bench")}}}

// startBenchPipeline starts a pipeline on a new bolt store, delivering to
// plugins, and closes it when the benchmark ends.
func startBenchPipeline(b *testing.B, plugins *pipelinetest.Plugins) *pipeline.Pipeline {
	b.Helper()
	p, err := pipeline.New(pipeline.Options{Plugins: plugins, Store: openBench(b), Logger: slog.New(slog.DiscardHandler),
		Resolve: func(string) (config.Config, error) { return benchConfig, nil }})
	if err != nil {
		b.Fatal(err)
	}
	p.Start()
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// BenchmarkDurablePipeline submits one-status events for distinct commits
// from 32 concurrent submitters to a pipeline on the bolt store, with
// plugins that answer at once, and waits until every status was posted:
// ns/op is the time per event of the durable path without API latency,
// and p50-ms/p99-ms the latency of Submit (the 202).
func BenchmarkDurablePipeline(b *testing.B) {
	plugins := pipelinetest.NewPlugins(b.N)
	p := startBenchPipeline(b, plugins)
	status := []sdk.Status{{Name: "Status", State: sdk.StatePending, RawState: "DependencyNotReady",
		Description: "dependency 'flux-system/infrastructure' is not ready", Genre: "Kustomization", Operator: "Flux"}}
	runWriters(b, 32, func(i int) error {
		_, err := p.Submit(pipeline.Job{ID: fmt.Sprint(i), Config: benchConfig, CommitID: fmt.Sprintf("%040x", i), Statuses: status})
		return err
	})
	b.StartTimer()
	<-plugins.Done()
}

// BenchmarkRepeatedEvents submits ReconciliationSucceeded events for 256
// commits already deployed, from 8 concurrent submitters, to a pipeline on
// the bolt store: what Flux sends every interval, which posts nothing.
// ns/op is the time per event of finding at Submit that it changes nothing
// (no write); p50-ms/p99-ms the latency of Submit.
func BenchmarkRepeatedEvents(b *testing.B) {
	const commits = 256
	plugins := pipelinetest.NewPlugins(commits)
	p := startBenchPipeline(b, plugins)
	status := []sdk.Status{{Name: "Status", State: sdk.StateSucceeded, RawState: "ReconciliationSucceeded",
		Description: "Applied revision: main@sha1:0123456789abcdef", Genre: "Kustomization", Operator: "Flux"}}
	job := func(i int) pipeline.Job {
		return pipeline.Job{ID: fmt.Sprint(i), Config: benchConfig, CommitID: fmt.Sprintf("%040x", i%commits), Statuses: status,
			Finished: true, Successful: true}
	}
	for i := range commits {
		if _, err := p.Submit(job(i)); err != nil {
			b.Fatal(err)
		}
	}
	<-plugins.Done()
	for p.Pending() > 0 {
		time.Sleep(time.Millisecond)
	}
	runWriters(b, 8, func(i int) error {
		_, err := p.Submit(job(i))
		return err
	})
	b.StartTimer()
	for p.Pending() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	if n := plugins.Posted.Load(); n != commits {
		b.Fatalf("%d statuses posted, want %d: repeats must post nothing", n, commits)
	}
}
