package main

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/procmem"
	"github.com/gitops-connector/gitops-connector/bench/internal/report"
	"github.com/gitops-connector/gitops-connector/bench/internal/stats"
)

// The targets, on a 2-core machine.
const (
	// targetIntakeShare: the host's intake throughput against the bare
	// handler's, at every concurrency.
	targetIntakeShare = 0.25
	// targetIntakeP99 at concurrency targetIntakeConc.
	targetIntakeP99  = 5 * time.Millisecond
	targetIntakeConc = 8
	targetE2EP50     = 5 * time.Millisecond
	targetE2EP99     = 20 * time.Millisecond
	// targetStatusRate: statuses per second with the slow API.
	targetStatusRate = 100
	targetReady      = 300 * time.Millisecond
	// The working set of the host's process tree (its memory cgroup's):
	// default config idle and at its peak, every plugin in use at its peak.
	targetIdleBytes = 30 << 20
	targetPeakBytes = 50 << 20
	targetAllBytes  = 80 << 20
	// Processor time of the whole tree (host and plugins) per event: one
	// status per event at -e2e-rate, and the new-commit mix.
	targetTreeE2E = 500 * time.Microsecond
	targetTreeMix = 800 * time.Microsecond
)

// treeSeconds is the processor time of the host and its plugins in a phase.
func (c phaseCPU) treeSeconds() float64 {
	var sum float64
	for _, s := range c.byProcess {
		sum += s
	}
	return sum
}

// treePerEvent is the tree's processor time per event of the phase whose
// name starts with prefix; ok is false when there is none.
func (r *results) treePerEvent(prefix string) (d time.Duration, ok bool) {
	c, ok := r.phase(prefix)
	if !ok {
		return 0, false
	}
	return time.Duration(c.treeSeconds() / float64(c.events) * float64(time.Second)), true
}

// footprintRow is the row of a working-set figure.
func footprintRow(figure string, fp footprint, v uint64, target uint64) report.Row {
	layout := fmt.Sprintf("%%s (%s, %d processes)", fp.source, fp.processes)
	if fp.processes == 0 {
		layout = fmt.Sprintf("%%s (%s)", fp.source)
	}
	return report.Measure(figure, fmt.Sprintf("< %d MiB", target/mib), layout, []report.Value{mibValue(v)},
		func(x []float64) bool { return x[0] < float64(target)/mib }, fp.source != "", fp.err)
}

const mib = 1 << 20

// Values in the table's units.
func mibValue(bytes uint64) report.Value {
	return report.Value{V: float64(bytes) / mib, Unit: "MiB", Decimals: 1}
}
func msValue(d time.Duration) report.Value {
	return report.Value{V: float64(d) / float64(time.Millisecond), Unit: "ms", Decimals: 2}
}

// below judges the first value against a limit in milliseconds (or the
// value's unit): strictly below, or at most when orEqual.
func below(limit float64, orEqual bool) func([]float64) bool {
	return func(x []float64) bool { return x[0] < limit || orEqual && x[0] == limit }
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rows are the table: one row per target, plus the figures without one.
func (r *results) rows() []report.Row {
	var rows []report.Row
	rows = append(rows,
		footprintRow("working set, default config (Flux + GitHub), idle", r.mem, r.mem.idle, targetIdleBytes),
		footprintRow("working set, default config, peak through all phases", r.mem, r.mem.peak, targetPeakBytes),
		footprintRow(fmt.Sprintf("working set, all %d bundled plugins in use, peak", r.bundled), r.all, r.all.peak, targetAllBytes),
	)
	for _, t := range []struct {
		figure, prefix string
		target         time.Duration
	}{
		{fmt.Sprintf("processor time per event, whole tree, %.0f events/s of one status", r.opts.e2eRate), "end-to-end", targetTreeE2E},
		{"processor time per event, whole tree, new-commit Flux mix", "new commits", targetTreeMix},
	} {
		d, ok := r.treePerEvent(t.prefix)
		rows = append(rows, report.Measure(t.figure, "≤ "+stats.Millis(t.target), "%s", []report.Value{msValue(d)},
			below(millis(t.target), true), ok, nil))
	}
	for _, in := range r.intake {
		bare, host := in.bare.Rate(http.StatusAccepted), in.host.Rate(taken...)
		share := 0.0
		if bare > 0 {
			share = host / bare
		}
		rows = append(rows, report.Measure(fmt.Sprintf("intake throughput, concurrency %d", in.conc),
			fmt.Sprintf("≥ %.0f %% of the bare handler's", targetIntakeShare*100), "%s = %s of %s",
			[]report.Value{{V: host, Unit: "req/s"}, {V: share * 100, Unit: "%", Decimals: 1}, {V: bare, Unit: "req/s"}},
			func(x []float64) bool { return x[1] >= targetIntakeShare*100 }, in.host.Count(taken...) > 0, in.err))
		var target string
		var judge func([]float64) bool
		if in.conc == targetIntakeConc {
			target = "p99 < " + stats.Millis(targetIntakeP99)
			judge = func(x []float64) bool { return x[1] < millis(targetIntakeP99) }
		}
		rows = append(rows, report.Measure(fmt.Sprintf("intake latency, concurrency %d", in.conc), target,
			"p50 %s, p99 %s (bare: %s, %s)",
			[]report.Value{msValue(in.hostLat.P50), msValue(in.hostLat.P99), msValue(in.bareLat.P50), msValue(in.bareLat.P99)},
			judge, in.hostLat.N > 0, in.err))
	}
	if len(r.intake) == 0 {
		rows = append(rows, report.Row{Figure: "intake", Target: "see below", Measured: "not measured", Verdict: report.Failed})
	}

	e := r.e2e
	rate := fmt.Sprintf("at %.0f events/s", r.opts.e2eRate)
	rows = append(rows,
		report.Measure("end-to-end p50, "+rate, "< "+stats.Millis(targetE2EP50), "%s", []report.Value{msValue(e.latency.P50)},
			below(millis(targetE2EP50), false), e.latency.N > 0, e.err),
		report.Measure("end-to-end p99, "+rate, "< "+stats.Millis(targetE2EP99), "%s", []report.Value{msValue(e.latency.P99)},
			below(millis(targetE2EP99), false), e.latency.N > 0, e.err),
	)

	s := r.slow
	rows = append(rows, report.Measure(fmt.Sprintf("statuses/s, every API call %v, %d commits", r.opts.slowWait, s.commits),
		fmt.Sprintf("≥ %d/s", targetStatusRate), "%s (%s statuses in %s)",
		[]report.Value{{V: s.rate(), Unit: "/s"}, {V: float64(s.statuses)}, {V: s.window.Seconds(), Unit: "s", Decimals: 1}},
		func(x []float64) bool { return x[0] >= targetStatusRate }, s.statuses > 0, s.err))

	rows = append(rows, report.Measure(fmt.Sprintf("peak RSS, host + %d plugins (sum of VmHWM)", max(0, len(r.procs)-1)), "", "%s",
		[]report.Value{mibValue(procmem.Sum(r.procs).PeakBytes)}, nil, len(r.procs) > 0, r.memErr))

	rows = append(rows, report.Measure(fmt.Sprintf("start-to-ready, default config (median of %d)", len(r.starts)),
		"< "+stats.Millis(targetReady), "%s", []report.Value{msValue(stats.Median(r.starts))},
		below(millis(targetReady), false), len(r.starts) > 0, r.startErr))
	if r.replicas != nil {
		rows = append(rows, r.replicas.tableRows()...)
	}
	return rows
}

// aggregateRows is the table of every run: each figure's median and range.
func aggregateRows(runs []*results) []report.Row {
	tables := make([][]report.Row, len(runs))
	for i, r := range runs {
		tables[i] = r.rows()
	}
	return report.Aggregate(tables)
}

// header says what the table aggregates and whose details follow it.
func header(runs []*results) string {
	if len(runs) == 1 {
		return ""
	}
	return report.Ranges(len(runs)) + "\n\n"
}

// lastRun introduces the details when there are several runs.
func lastRun(runs []*results) string {
	if len(runs) == 1 {
		return ""
	}
	return fmt.Sprintf("The sections below are those of run %d of %d.\n\n", len(runs), len(runs))
}

// textReport is what the terminal shows.
func textReport(runs []*results, rows []report.Row) string {
	var b strings.Builder
	b.WriteString(header(runs))
	b.WriteString(report.Text(rows))
	b.WriteString("\n")
	b.WriteString(lastRun(runs))
	b.WriteString(details(runs[len(runs)-1]))
	return b.String()
}

// markdownReport is the generated section of docs/performance.md.
func markdownReport(runs []*results, rows []report.Row) string {
	var b strings.Builder
	first, last := runs[0], runs[len(runs)-1]
	fmt.Fprintf(&b, "Run of %s (%s).\n\n", first.started.UTC().Format("2006-01-02 15:04 MST"),
		last.started.Add(last.elapsed).Sub(first.started).Round(time.Second))
	b.WriteString(header(runs))
	b.WriteString(report.Markdown(rows))
	b.WriteString("\n")
	b.WriteString(lastRun(runs))
	b.WriteString(details(last))
	return b.String()
}

// details are the figures behind the table, in Markdown.
func details(r *results) string {
	var b strings.Builder
	m := r.machine
	if r.revision != "" {
		fmt.Fprintf(&b, "Built from %s.\n\n", r.revision)
	}
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, %s, %s. Load average (1, 5, 15 min) %s before the run, %s after.\n\n",
		m.CPU, m.CPUs, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
	if len(r.opts.env) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(r.opts.env)) {
			kv = append(kv, k+"="+r.opts.env[k])
		}
		fmt.Fprintf(&b, "Extra environment of the host and its plugins: `%s`.\n\n", strings.Join(kv, " "))
	}
	if r.syncErr != nil {
		fmt.Fprintf(&b, "Data directories on %s; the fdatasync probe failed: %v.\n", r.fsType, r.syncErr)
	} else {
		fmt.Fprintf(&b, "Data directories on %s: fdatasync of one overwritten 4 KiB page p50 %s, p99 %s, max %s (%d syncs).\n",
			r.fsType, stats.Millis(r.syncs.P50), stats.Millis(r.syncs.P99), stats.Millis(r.syncs.Max), r.syncs.N)
	}

	if len(r.intake) > 0 {
		fmt.Fprintf(&b, "\n### Intake\n\nClosed loop: each client sends its next event as soon as the previous one is answered; %v warm-up, then %v measured, for the bare handler and then the host. Events: Flux `ReconciliationSucceeded` repeated for %d commits already deployed (what Flux sends every interval; nothing to post). The host's figures count its 202 answers and its 200 unchanged (a repeat answered without a write).\n\n",
			r.opts.warmup, r.opts.duration, r.opts.commits)
		b.WriteString("| concurrency | server | requests/s | p50 | p90 | p99 | max | host / bare |\n|---|---|---|---|---|---|---|---|\n")
		for _, in := range r.intake {
			bare, host := in.bare.Rate(http.StatusAccepted), in.host.Rate(taken...)
			share := "—"
			if bare > 0 {
				share = fmt.Sprintf("%.1f %%", 100*host/bare)
			}
			fmt.Fprintf(&b, "| %d | bare handler | %.0f | %s | %s | %s | %s | |\n", in.conc, bare,
				stats.Millis(in.bareLat.P50), stats.Millis(in.bareLat.P90), stats.Millis(in.bareLat.P99), stats.Millis(in.bareLat.Max))
			fmt.Fprintf(&b, "| %d | host | %.0f | %s | %s | %s | %s | %s |\n", in.conc, host,
				stats.Millis(in.hostLat.P50), stats.Millis(in.hostLat.P90), stats.Millis(in.hostLat.P99), stats.Millis(in.hostLat.Max), share)
			if in.err != nil {
				fmt.Fprintf(&b, "\nConcurrency %d failed: %v\n\n", in.conc, in.err)
			}
		}
	}

	e := r.e2e
	if e.sent > 0 {
		fmt.Fprintf(&b, "\n### End-to-end\n\n%d Flux `DependencyNotReady` events at %.0f/s (open loop), each for a commit of its own: one status each, no notification. Latency from the moment an event was due until the fake GitHub received its status.\n\n",
			e.sent, e.rate)
		b.WriteString("| | n | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
		fmt.Fprintf(&b, "| event → status received by GitHub | %d | %s | %s | %s | %s |\n", e.latency.N,
			stats.Millis(e.latency.P50), stats.Millis(e.latency.P90), stats.Millis(e.latency.P99), stats.Millis(e.latency.Max))
		fmt.Fprintf(&b, "| event → 202 answer | %d | %s | %s | %s | %s |\n", e.intake.N,
			stats.Millis(e.intake.P50), stats.Millis(e.intake.P90), stats.Millis(e.intake.P99), stats.Millis(e.intake.Max))
		fmt.Fprintf(&b, "\n%d of %d events accepted; %d statuses missing; the sender was late by %s at most; the GitHub plugin opened %d connections to the fake.\n",
			e.accepted, e.sent, e.missing, stats.Millis(e.lag), e.conns)
		if e.err != nil {
			fmt.Fprintf(&b, "\nFailed: %v\n", e.err)
		}
	}

	if x := r.mix; x.sent > 0 {
		fmt.Fprintf(&b, "\n### New commits\n\n%d Flux events at %.0f/s (open loop), each for a commit of its own, in the mix Kustomization `Progressing` (a change set: 5 statuses) 2 : `ReconciliationSucceeded` (1 status, the commit read, 1 `repository_dispatch`) 1 : GitRepository `Succeeded` (1 status) 1 — 3 statuses per event. %d of %d accepted; %d statuses and %d dispatches arrived %s after the first event was sent.\n",
			x.sent, x.rate, x.accepted, x.sent, x.statuses, x.dispatches, x.window.Round(time.Millisecond))
		if x.err != nil {
			fmt.Fprintf(&b, "\nFailed: %v\n", x.err)
		}
	}

	b.WriteString("\n### Footprint\n\nThe working set of the host's process tree as the kubelet computes it (`container_memory_working_set_bytes`): the memory cgroup's usage minus its inactive file pages. Each measured host runs in a memory cgroup of its own, entered before exec, and the binaries' cached pages are evicted first so the tree is charged for the pages of its binaries it maps, as a container is. Idle: 2 s after `/readyz` answered 200; peak: the largest of samples every 100 ms, and the phase it was sampled in.\n\n| host | source | processes | idle | peak | peak during |\n|---|---|---|---|---|---|\n")
	for _, f := range []struct {
		name string
		fp   footprint
	}{{"default config (Flux + GitHub), intake, end-to-end, new commits, slow API", r.mem}, {"every bundled plugin in use, new commits (half)", r.all}} {
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f MiB | %.1f MiB | %s |\n", f.name, f.fp.source, f.fp.processes, float64(f.fp.idle)/mib, float64(f.fp.peak)/mib, f.fp.peakPhase)
	}
	for _, fp := range []footprint{r.mem, r.all} {
		if fp.note != "" {
			fmt.Fprintf(&b, "\nNo memory cgroup could be made (%s): the figures are the sum of the processes' VmHWM, an upper bound of the resident set that counts every mapped page of the binaries.\n", fp.note)
			break
		}
	}
	for _, fp := range []footprint{r.mem, r.all} {
		if fp.err != nil {
			fmt.Fprintf(&b, "\nFootprint sampling failed: %v\n", fp.err)
		}
	}

	s := r.slow
	if s.commits > 0 {
		fmt.Fprintf(&b, "\n### Slow API\n\nThe fake GitHub answers every call after %v. %d commits, each deployed with a Flux `Progressing` event (5 statuses) and a `ReconciliationSucceeded` (1 status, the commit read, 1 `repository_dispatch`), sent by 8 clients.\n\n",
			r.opts.slowWait, s.commits)
		fmt.Fprintf(&b, "%d statuses and %d dispatches in %s from the first event to the last status: **%.0f statuses/s**, %d API calls (%.0f/s); the GitHub plugin opened %d connections to the fake. Statuses in order and one dispatch for %d of %d commits.\n",
			s.statuses, s.dispatches, s.window.Round(time.Millisecond), s.rate(), s.calls, float64(s.calls)/max(s.window.Seconds(), 1e-9), s.conns,
			s.commits-len(s.disorder), s.commits)
		if s.err != nil {
			fmt.Fprintf(&b, "\nFailed: %v\n", s.err)
		}
	}

	if len(r.cpu) > 0 {
		b.WriteString("\n### Processor time per phase\n\nCPU seconds used by each process during the phase (user + system), and per accepted event those of the host and of the whole tree (host and plugins). The load generator and the fake GitHub run in the benchmark's process.\n\n")
		b.WriteString(cpuTable(r, "bare handler", func(c phaseCPU) float64 { return c.bare }))
	}

	if len(r.procs) > 0 {
		b.WriteString("\n### Peak memory\n\nVmHWM (peak resident set) of each process of the default config's host over the intake, end-to-end, new-commit and slow-API phases, and the largest anonymous (heap, stacks) and file-backed (mapped files: the binary's code and data, the host's store) parts sampled every 100 ms; totals are sums.\n\n| process | binary | VmHWM | anonymous | file-backed |\n|---|---|---|---|---|\n")
		for _, p := range r.procs {
			fmt.Fprintf(&b, "| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", r.nameOf(p), r.binarySize(p),
				float64(p.PeakBytes)/mib, float64(p.PeakAnonBytes)/mib, float64(p.PeakFileBytes)/mib)
		}
		t := procmem.Sum(r.procs)
		fmt.Fprintf(&b, "| **total** | | **%.1f MiB** | %.1f MiB | %.1f MiB |\n", float64(t.PeakBytes)/mib, float64(t.PeakAnonBytes)/mib, float64(t.PeakFileBytes)/mib)
	}
	if rt := r.runtime; rt.HeapInuse > 0 {
		fmt.Fprintf(&b, "\nThe host's Go runtime (its `/metrics`, sampled every second, uncompressed), the largest of each figure: heap in use %.1f MiB, free heap not yet returned to the system %.1f MiB, goroutine stacks %.1f MiB, %d goroutines.\n",
			float64(rt.HeapInuse)/mib, float64(rt.HeapRetained)/mib, float64(rt.StackInuse)/mib, rt.Goroutines)
	}
	if r.runtimeErr != nil {
		fmt.Fprintf(&b, "\nReading the host's Go runtime figures failed: %v\n", r.runtimeErr)
	}
	if r.memErr != nil {
		fmt.Fprintf(&b, "\nMemory sampling failed: %v\n", r.memErr)
	}

	if r.replicas != nil {
		b.WriteString(r.replicas.details())
	}

	if len(r.starts) > 0 {
		fmt.Fprintf(&b, "\n### Start-to-ready\n\nFrom exec of the host (fresh data directory, the default config: its two plugins started, every bundled one described) until `/readyz` answered 200, polled every millisecond: %s.\n", joinMillis(r.starts))
	}
	if r.startErr != nil {
		fmt.Fprintf(&b, "\nStart-to-ready failed: %v\n", r.startErr)
	}

	b.WriteString("\n" + r.errorLines("The host"))
	fmt.Fprintf(&b, "; the fake GitHub rejected %d requests", len(r.rejected))
	if len(r.rejected) > 0 {
		fmt.Fprintf(&b, ", the first: `%s`", r.rejected[0])
	}
	b.WriteString(".\n")
	if len(r.failures) > 0 {
		b.WriteString("\n**Phases that failed:**\n\n")
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

// errorLines says how many ERROR lines who logged, and the first.
func (r *results) errorLines(who string) string {
	s := fmt.Sprintf("%s logged %d ERROR lines", who, r.hostErrors)
	if len(r.firstErrors) > 0 {
		s += fmt.Sprintf(", the first: `%s`", r.firstErrors[0])
	}
	return s
}

// cpuTable is the table of processor time per phase: a column per
// process name, the host's and the tree's per event, the benchmark's
// process and one more process outside the tree (other).
func cpuTable(r *results, other string, otherSeconds func(phaseCPU) float64) string {
	var b strings.Builder
	names := r.processNames()
	fmt.Fprintf(&b, "| phase | events | wall | %s | host ms/event | tree ms/event | benchmark | %s |\n|---|---|---|%s---|---|---|---|\n",
		strings.Join(names, " | "), other, strings.Repeat("---|", len(names)))
	for _, c := range r.cpu {
		var cells []string
		for _, n := range names {
			cells = append(cells, fmt.Sprintf("%.2f", c.byProcess[n]))
		}
		perEvent, tree := "—", "—"
		if c.events > 0 && !strings.Contains(c.name, "bare") {
			perEvent = fmt.Sprintf("%.3f", 1000*c.byProcess[hostName]/float64(c.events))
			tree = fmt.Sprintf("%.3f", 1000*c.treeSeconds()/float64(c.events))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %.2f | %.2f |\n", c.name, c.events, c.wall.Round(10*time.Millisecond),
			strings.Join(cells, " | "), perEvent, tree, c.bench, otherSeconds(c))
	}
	return b.String()
}

// processNames lists the names of the processes sampled, the host first.
func (r *results) processNames() []string {
	names := []string{hostName}
	for _, p := range r.procs {
		if n := r.nameOf(p); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var more []string
	for _, c := range r.cpu {
		for n := range c.byProcess {
			if !slices.Contains(names, n) && !slices.Contains(more, n) {
				more = append(more, n)
			}
		}
	}
	slices.Sort(more)
	return append(names, more...)
}

// hostName names the host process in the report.
const hostName = "host"

// binarySize is the size of a process's binary, "" when unknown.
func (r *results) binarySize(p procmem.Process) string {
	size, ok := r.binarySizes[r.nameOf(p)]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.1f MB", float64(size)/1e6)
}

// nameOf names a process: "host", or the plugin's binary name.
func (r *results) nameOf(p procmem.Process) string {
	if slices.Contains(r.hostPIDs, p.PID) {
		return hostName
	}
	return p.Name
}

// writeDoc regenerates the generated section of the document at path.
func writeDoc(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc, err := report.Replace(string(b), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
