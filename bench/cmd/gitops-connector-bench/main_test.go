package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/fakegh"
	"github.com/gitops-connector/gitops-connector/bench/internal/flux"
	"github.com/gitops-connector/gitops-connector/bench/internal/load"
	"github.com/gitops-connector/gitops-connector/bench/internal/procmem"
	"github.com/gitops-connector/gitops-connector/bench/internal/report"
	"github.com/gitops-connector/gitops-connector/bench/internal/stats"
)

func deployment(sha string, contexts ...string) []fakegh.Status {
	var out []fakegh.Status
	for i, c := range contexts {
		state := "pending"
		if i == len(contexts)-1 {
			state = "success"
		}
		out = append(out, fakegh.Status{SHA: sha, Context: c, State: state})
	}
	return out
}

func TestCheckDeploymentsNamesEachCommitWithWrongStatusesOrDispatches(t *testing.T) {
	good := append(append([]string{}, flux.ProgressingContexts...), "Status")
	a, b := flux.Commit(9, 1), flux.Commit(9, 2)
	tests := []struct {
		name       string
		statuses   []fakegh.Status
		dispatches []fakegh.Dispatch
		wrong      []string
	}{
		{"both deployed in order", append(deployment(a, good...), deployment(b, good...)...),
			[]fakegh.Dispatch{{SHA: a}, {SHA: b}}, nil},
		{"statuses of two commits interleaved still count per commit",
			[]fakegh.Status{deployment(a, good...)[0], deployment(b, good...)[0], deployment(a, good...)[1]},
			nil, []string{a, b}},
		{"kinds out of order", append(deployment(a, "Status", "Service", "Deployment", "HorizontalPodAutoscaler", "Status", "Status"), deployment(b, good...)...),
			[]fakegh.Dispatch{{SHA: a}, {SHA: b}}, []string{a}},
		{"a dispatch missing and one twice", append(deployment(a, good...), deployment(b, good...)...),
			[]fakegh.Dispatch{{SHA: a}, {SHA: a}}, []string{a, b}},
		{"last state not success", append(deployment(a, good...)[:5], fakegh.Status{SHA: a, Context: "Status", State: "failure"}),
			[]fakegh.Dispatch{{SHA: a}}, []string{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkDeployments([]string{a, b}, tt.statuses, tt.dispatches)
			if len(got) != len(tt.wrong) {
				t.Fatalf("wrong %q, want %d entries for %v", got, len(tt.wrong), tt.wrong)
			}
			for i, sha := range tt.wrong {
				if !strings.HasPrefix(got[i], sha+": ") {
					t.Errorf("entry %d %q does not name %s", i, got[i], sha)
				}
			}
		})
	}
}

// accepted is a load result of n 202 answers over window.
func accepted(n int, window time.Duration) load.Result {
	return load.Result{Window: window, Codes: map[int]int{http.StatusAccepted: n}}
}

func TestRowsJudgeEachFigureAgainstItsTarget(t *testing.T) {
	r := &results{
		opts:     options{e2eRate: 1000, slowWait: 200 * time.Millisecond},
		hostPIDs: []int{10},
		intake: []intakeResult{
			{conc: 8, bare: accepted(10000, time.Second), host: accepted(6000, time.Second),
				hostLat: stats.Summary{N: 6000, P50: time.Millisecond, P99: 4 * time.Millisecond}},
			{conc: 32, bare: accepted(10000, time.Second), host: accepted(4000, time.Second),
				hostLat: stats.Summary{N: 4000, P99: 50 * time.Millisecond}},
		},
		e2e:    e2eResult{sent: 10, latency: stats.Summary{N: 10, P50: 4 * time.Millisecond, P99: 25 * time.Millisecond}},
		slow:   slowResult{commits: 100, statuses: 600, window: 5 * time.Second},
		procs:  []procmem.Process{{PID: 10, PeakBytes: 40 << 20}, {PID: 11, PeakBytes: 30 << 20}},
		starts: []time.Duration{250 * time.Millisecond, 400 * time.Millisecond, 200 * time.Millisecond},
		mem:    footprint{source: "cgroup v1", processes: 3, idle: 29 << 20, peak: 51 << 20},
		all:    footprint{source: "sum of VmHWM", note: "no cgroup", processes: 6, idle: 60 << 20, peak: 79 << 20},
		cpu: []phaseCPU{
			{name: "end-to-end, 1000 events/s", events: 1000, byProcess: map[string]float64{"host": 0.3, "github": 0.15, "flux": 0.1}},
			{name: "new commits, Flux mix, 200 events/s", events: 1000, byProcess: map[string]float64{"host": 0.5, "github": 0.2, "flux": 0.1}},
		},
		bundled: 5,
	}
	want := map[string]report.Verdict{
		"working set, default config (Flux + GitHub), idle":                 report.Met,
		"working set, default config, peak through all phases":              report.Missed,
		"working set, all 5 bundled plugins in use, peak":                   report.Met,
		"processor time per event, whole tree, 1000 events/s of one status": report.Missed, // 0.55 ms
		"processor time per event, whole tree, new-commit Flux mix":         report.Met,    // 0.8 ms
		"intake throughput, concurrency 8":                                  report.Met,
		"intake latency, concurrency 8":                                     report.Met,
		"intake throughput, concurrency 32":                                 report.Met, // 40 % ≥ 25 %
		"intake latency, concurrency 32":                                    report.Info,
		"end-to-end p50, at 1000 events/s":                                  report.Met,
		"end-to-end p99, at 1000 events/s":                                  report.Missed,
		"statuses/s, every API call 200ms, 100 commits":                     report.Met,
		"peak RSS, host + 1 plugins (sum of VmHWM)":                         report.Info,
		"start-to-ready, default config (median of 3)":                      report.Met,
	}
	rows := r.rows()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), report.Text(rows))
	}
	for _, row := range rows {
		v, ok := want[row.Figure]
		if !ok {
			t.Errorf("unexpected row %q", row.Figure)
			continue
		}
		if row.Verdict != v {
			t.Errorf("%s: %v (%s), want %v", row.Figure, row.Verdict, row.Measured, v)
		}
	}
	if got := report.MissedRows(rows); len(got) != 3 {
		t.Errorf("%d missed rows, want 3 (peak working set, processor time at 1000/s, end-to-end p99)", len(got))
	}
}

func TestSeveralRunsJudgeTheMedianOfEachFigure(t *testing.T) {
	run := func(p50 time.Duration, treeSeconds float64) *results {
		return &results{
			opts: options{e2eRate: 1000},
			e2e:  e2eResult{sent: 10, latency: stats.Summary{N: 10, P50: p50, P99: 10 * time.Millisecond}},
			cpu:  []phaseCPU{{name: "end-to-end, 1000 events/s", events: 1000, byProcess: map[string]float64{"host": treeSeconds}}},
		}
	}
	rows := aggregateRows([]*results{run(7*time.Millisecond, 0.3), run(4*time.Millisecond, 0.6), run(3*time.Millisecond, 0.7)})
	byFigure := map[string]report.Row{}
	for _, r := range rows {
		byFigure[r.Figure] = r
	}
	p50 := byFigure["end-to-end p50, at 1000 events/s"]
	if p50.Measured != "4.00 ms (3.00–7.00)" || p50.Verdict != report.Met {
		t.Errorf("p50 %q %v", p50.Measured, p50.Verdict)
	}
	cpu := byFigure["processor time per event, whole tree, 1000 events/s of one status"]
	if cpu.Measured != "0.60 ms (0.30–0.70)" || cpu.Verdict != report.Missed {
		t.Errorf("processor time %q %v", cpu.Measured, cpu.Verdict)
	}
	if slow := byFigure["statuses/s, every API call 0s, 0 commits"]; slow.Verdict != report.Failed {
		t.Errorf("a phase measured in no run: %q %v", slow.Measured, slow.Verdict)
	}
}

func TestAPhaseThatFailedIsNotMeasuredWhateverItsFigures(t *testing.T) {
	r := &results{
		opts:     options{e2eRate: 1000},
		e2e:      e2eResult{latency: stats.Summary{N: 10, P50: time.Millisecond, P99: time.Millisecond}, err: errors.New("the host exited")},
		startErr: errors.New("start 1: the host exited before it was ready"),
	}
	for _, row := range r.rows() {
		if row.Verdict != report.Failed {
			t.Errorf("%s: %v, though it was not measured", row.Figure, row.Verdict)
		}
	}
}

func TestFlagsAreCheckedBeforeAnythingRuns(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-concurrency", "8,x"}, `"x" is not a positive number`},
		{[]string{"-concurrency", "0"}, "not a positive number"},
		{[]string{"-starts", "0"}, "-starts"},
		{[]string{"-count", "0"}, "-count"},
		{[]string{"-e2e-rate", "0"}, "-e2e-rate"},
		{[]string{"-env", "GOGC"}, "KEY=VALUE"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.err)
		}
	}
	o, err := parseFlags([]string{"-concurrency", "4, 16", "-env", "GOGC=50", "-env", "GOMEMLIMIT=24MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.conc) != 2 || o.conc[0] != 4 || o.conc[1] != 16 {
		t.Errorf("concurrency %v", o.conc)
	}
	if o.env["GOGC"] != "50" || o.env["GOMEMLIMIT"] != "24MiB" {
		t.Errorf("env %v", o.env)
	}
}

func TestTheBareHandlerReadsTheWholeBodyAndAnswers202(t *testing.T) {
	body := strings.NewReader(string(flux.Event(flux.ReasonSucceeded, "Applied revision", flux.Commit(1, 1))))
	req := httptest.NewRequest(http.MethodPost, "/gitopsphase", body)
	w := httptest.NewRecorder()
	bareHandler(w, req)
	if w.Code != http.StatusAccepted || w.Body.String() != bareAnswer {
		t.Errorf("answer %d %q", w.Code, w.Body.String())
	}
	if body.Len() != 0 {
		t.Errorf("%d bytes of the body left unread", body.Len())
	}
}

func TestFetchProfileSavesTheProfileForTheRoundedUpDuration(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.RequestURI()
		if r.URL.Query().Get("seconds") == "0" {
			http.Error(w, "bad seconds", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("profile bytes"))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "profiles", "host-e2e.pprof")
	if err := fetchProfile(context.Background(), srv.URL+"/debug/pprof", 5500*time.Millisecond, path); err != nil {
		t.Fatal(err)
	}
	if asked != "/debug/pprof/profile?seconds=6" {
		t.Errorf("asked %s, want 6 seconds", asked)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "profile bytes" {
		t.Errorf("saved %q, %v", b, err)
	}
	err := fetchProfile(context.Background(), srv.URL+"/debug/pprof", 0, path+"2")
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "bad seconds") {
		t.Errorf("err = %v, want the answer's status and message", err)
	}
}

func TestTheReplicasFiguresAreInTheTableWithoutTargets(t *testing.T) {
	run := &replicaRun{replicas: 3, results: &results{
		opts:   options{replicaE2ERate: 100, replicaMixRate: 50},
		intake: []intakeResult{{conc: 8, host: accepted(900, time.Second), hostLat: stats.Summary{N: 900, P50: 9 * time.Millisecond, P99: 40 * time.Millisecond}}},
		e2e:    e2eResult{sent: 10, latency: stats.Summary{N: 10, P50: 20 * time.Millisecond, P99: 90 * time.Millisecond}},
		cpu: []phaseCPU{
			{name: "end-to-end, 100 events/s", events: 1000, nats: 1.5, byProcess: map[string]float64{"host": 1.2, "github": 0.6, "flux": 0.3}},
			{name: "new commits, Flux mix, 50 events/s", events: 500, nats: 2, byProcess: map[string]float64{"host": 1, "github": 1}},
		},
	}, mem: []footprint{
		{source: "cgroup v1", processes: 3, idle: 30 << 20, peak: 55 << 20},
		{source: "cgroup v1", processes: 3, idle: 15 << 20, peak: 35 << 20},
	}}
	r := &results{opts: options{e2eRate: 1000}, replicas: run}
	byFigure := map[string]report.Row{}
	for _, row := range r.rows() {
		byFigure[row.Figure] = row
	}
	want := map[string]string{
		"3 replicas on JetStream: intake throughput, concurrency 8":                                    "900 req/s",
		"3 replicas on JetStream: intake latency, concurrency 8":                                       "p50 9.00 ms, p99 40.00 ms",
		"3 replicas on JetStream: end-to-end, at 100 events/s":                                         "p50 20.00 ms, p99 90.00 ms",
		"3 replicas on JetStream: processor time per event, 3 host trees, 100 events/s of one status":  "2.10 ms (the NATS servers: 1.50 ms more)",
		"3 replicas on JetStream: processor time per event, 3 host trees, new-commit Flux mix at 50/s": "4.00 ms (the NATS servers: 4.00 ms more)",
		"3 replicas on JetStream: working set of a replica, idle and peak (the largest of 3)":          "idle 30.0 MiB, peak 55.0 MiB (cgroup v1)",
	}
	for figure, measured := range want {
		row, ok := byFigure[figure]
		if !ok {
			t.Errorf("no row %q", figure)
			continue
		}
		if row.Measured != measured || row.Verdict != report.Info || row.Target != "" {
			t.Errorf("%s: %q %v (target %q), want %q without target", figure, row.Measured, row.Verdict, row.Target, measured)
		}
	}
	run.e2e.err = errors.New("the host (pid 12) exited")
	for _, row := range r.rows() {
		if row.Figure == "3 replicas on JetStream: end-to-end, at 100 events/s" && row.Verdict != report.Failed {
			t.Errorf("a failed replicas' phase: %v", row.Verdict)
		}
	}
}

func TestTheFootprintNamesThePhaseOfItsPeak(t *testing.T) {
	var fp footprint
	for _, s := range []struct {
		v     uint64
		phase string
	}{{10, "idle"}, {30, "intake, concurrency 8"}, {50, "end-to-end"}, {50, "new commits"}, {20, "slow API"}} {
		fp.record(s.v, s.phase)
	}
	if fp.peak != 50 || fp.peakPhase != "end-to-end" {
		t.Errorf("peak %d during %q, want 50 during the first phase that reached it, end-to-end", fp.peak, fp.peakPhase)
	}
}
