package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/configset"
	"github.com/gitops-connector/gitops-connector/host/internal/intake"
	"github.com/gitops-connector/gitops-connector/host/internal/metrics"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/pipelinetest"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/host/internal/store"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// The benchmarks of this file measure the host's part of one notification
// as the server runs it: the handler of Routes with the metrics, routing
// against a single-instance config set, the pipeline on the bolt store and
// JSON logs at info — with an operator that parses in process and plugins
// that answer at once, so neither a plugin process nor an API is in the
// figure.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/intake | tee new.txt
//	benchstat old.txt new.txt
//
// Besides ns/op (wall time, which other processes on the machine stretch)
// they report cpu-ns/op: the processor time of the whole test process per
// request, the figure the load benchmark's processor time per event is.

// stubOperator parses the benchmark's Flux events: the commit is the body's
// metadata revision; a ReconciliationSucceeded finishes the deployment.
// Each call is reported to the metrics as the plugin host reports calls.
type stubOperator struct {
	*pipelinetest.Plugins
	measures *metrics.Metrics
}

func (o *stubOperator) Operator(string) (sdk.Operator, error) { return o, nil }

func (o *stubOperator) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	start := time.Now()
	defer func() { o.measures.PluginCall(sdk.CapabilityOperator, "ParseEvent", "FLUX", time.Since(start), nil) }()
	const marker = `"revision":"main@sha1:`
	i := bytes.Index(req.Body, []byte(marker))
	if i < 0 {
		return sdk.ParseResult{Handled: false, Reason: "no revision"}, nil
	}
	commit := string(req.Body[i+len(marker) : i+len(marker)+40])
	res := sdk.ParseResult{Handled: true, CommitID: commit}
	if bytes.Contains(req.Body, []byte(`"reason":"ReconciliationSucceeded"`)) {
		res.Finished, res.Successful = true, true
		res.Statuses = []sdk.Status{{Name: "Status", State: sdk.StateSucceeded, RawState: "ReconciliationSucceeded",
			Description: "Applied revision: main@sha1:" + commit, Genre: "Kustomization", Operator: "Flux"}}
	} else {
		res.Statuses = []sdk.Status{{Name: "Status", State: sdk.StatePending, RawState: "DependencyNotReady",
			Description: "dependency 'flux-system/infrastructure' is not ready", Genre: "Kustomization", Operator: "Flux"}}
	}
	return res, nil
}

// fluxEvent is the body the notification-controller's generic provider
// sends for a Kustomization event.
func fluxEvent(reason, message, commit string) []byte {
	return fmt.Appendf(nil, `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo",`+
		`"uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"56921"},`+
		`"severity":"info","timestamp":"2026-12-03T10:00:00Z","message":%q,"reason":%q,`+
		`"metadata":{"revision":"main@sha1:%s","summary":"cluster: dev"},"reportingController":"kustomize-controller",`+
		`"reportingInstance":"kustomize-controller-7f5c4b9f8-x2x9z"}`, message, reason, commit)
}

// benchHost is the host's HTTP front over a durable pipeline.
type benchHost struct {
	handler http.Handler
	plugins *stubOperator
	pipe    *pipeline.Pipeline
}

func startBenchHost(b *testing.B, posts int) *benchHost {
	b.Helper()
	cfg, invalid := config.FromEnv(func(k string) string {
		return map[string]string{
			"GIT_REPOSITORY_TYPE": "GITHUB", "CICD_ORCHESTRATOR_TYPE": "GITHUB", "GITOPS_OPERATOR_TYPE": "FLUX",
			"GITOPS_APP_URL": "https://github.com/org/manifests/commit", "GITHUB_ORG_URL": "https://github.com/org",
			"GITHUB_GITOPS_MANIFEST_REPO_NAME": "manifests", "GITHUB_GITOPS_REPO_NAME": "actions", "PAT": "ghp_bench",
		}[k]
	})
	if len(invalid) > 0 {
		b.Fatalf("config: %s", invalid[0].Message())
	}
	measures := metrics.New()
	plugins := &stubOperator{Plugins: pipelinetest.NewPlugins(posts), measures: measures}
	set, results := configset.Build(context.Background(), config.Snapshot{Configs: []config.Config{cfg}}, plugins, true)
	if !results[0].Valid {
		b.Fatalf("config: %s", results[0].Message)
	}
	s, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	p, err := pipeline.New(pipeline.Options{Plugins: plugins, Store: s, Logger: log, Observer: measures,
		Resolve: func(key string) (config.Config, error) { return set.Lookup("", key) }})
	if err != nil {
		b.Fatal(err)
	}
	p.Start()
	b.Cleanup(func() {
		_ = p.Close(context.Background())
		_ = s.Close()
	})
	h := &intake.Handler{
		Router:         &routing.Router{Operators: plugins, Configs: func() *configset.Set { return set }},
		Queue:          p,
		Logger:         log,
		Metrics:        measures,
		MetricsHandler: measures.Handler(),
		Ready:          func() string { return "" },
	}
	return &benchHost{handler: h.Routes(), plugins: plugins, pipe: p}
}

// post serves one notification and checks the answer's code (Error: it
// runs in RunParallel's goroutines too).
func (h *benchHost) post(b *testing.B, body []byte, want int) {
	req := httptest.NewRequest(http.MethodPost, "/gitopsphase", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, req)
	if w.Code != want {
		b.Errorf("answered %d %s, want %d", w.Code, w.Body, want)
	}
}

// cpuTime returns the processor time the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the processor time used since start per op.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func (h *benchHost) drain() {
	for h.pipe.Pending() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
}

// BenchmarkRepeatedEvent serves ReconciliationSucceeded events for 256
// commits already deployed, from 8 goroutines: what Flux sends every
// interval, answered 200 unchanged without a write (the benchmark's intake
// phase). ns/op is the time per request.
func BenchmarkRepeatedEvent(b *testing.B) {
	const commits = 256
	h := startBenchHost(b, commits)
	bodies := make([][]byte, commits)
	for i := range bodies {
		commit := fmt.Sprintf("%040x", i)
		bodies[i] = fluxEvent("ReconciliationSucceeded", "Applied revision: main@sha1:"+commit, commit)
		h.post(b, bodies[i], http.StatusAccepted)
	}
	<-h.plugins.Done()
	h.drain()
	var next atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 processors
	b.ResetTimer()
	start := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.post(b, bodies[int(next.Add(1))%commits], http.StatusOK)
		}
	})
	reportCPU(b, start)
}

// BenchmarkNewCommitEvent serves DependencyNotReady events, each for a
// commit of its own, from 8 goroutines, and waits until every status was
// posted (the benchmark's end-to-end phase): ns/op is the time per event,
// its store commits and delivery included.
func BenchmarkNewCommitEvent(b *testing.B) {
	h := startBenchHost(b, b.N)
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			commit := fmt.Sprintf("%040x", next.Add(1))
			h.post(b, fluxEvent("DependencyNotReady", "dependency 'flux-system/infrastructure' is not ready", commit), http.StatusAccepted)
		}
	})
	<-h.plugins.Done()
	reportCPU(b, start)
}
