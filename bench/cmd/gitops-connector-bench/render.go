package main

import (
	"errors"
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
	targetIntakeShare = 0.5
	// targetIntakeP99 at concurrency targetIntakeConc.
	targetIntakeP99  = 5 * time.Millisecond
	targetIntakeConc = 8
	targetE2EP50     = 5 * time.Millisecond
	targetE2EP99     = 20 * time.Millisecond
	// targetStatusRate: statuses per second with the slow API.
	targetStatusRate = 100
	targetPeakBytes  = 60 << 20
	targetReady      = 300 * time.Millisecond
)

const mib = 1 << 20

// rows are the table: one row per target, plus the figures without one.
func (r *results) rows() []report.Row {
	var rows []report.Row
	for _, in := range r.intake {
		bare, host := in.bare.Rate(http.StatusAccepted), in.host.Rate(http.StatusAccepted)
		share := 0.0
		if bare > 0 {
			share = host / bare
		}
		rows = append(rows, report.Row{
			Figure:   fmt.Sprintf("intake throughput, concurrency %d", in.conc),
			Target:   fmt.Sprintf("≥ %.0f %% of the bare handler's", targetIntakeShare*100),
			Measured: fmt.Sprintf("%.0f req/s = %.1f %% of %.0f req/s", host, share*100, bare),
			Verdict:  verdict(measured(in.host.Count(http.StatusAccepted), in.err), share >= targetIntakeShare),
		})
		row := report.Row{
			Figure:   fmt.Sprintf("intake latency, concurrency %d", in.conc),
			Measured: fmt.Sprintf("p50 %s, p99 %s (bare: %s, %s)", stats.Millis(in.hostLat.P50), stats.Millis(in.hostLat.P99), stats.Millis(in.bareLat.P50), stats.Millis(in.bareLat.P99)),
			Verdict:  report.Info,
		}
		if in.conc == targetIntakeConc {
			row.Target = "p99 < " + stats.Millis(targetIntakeP99)
			row.Verdict = verdict(measured(in.hostLat.N, in.err), in.hostLat.P99 < targetIntakeP99)
		}
		rows = append(rows, row)
	}
	if len(r.intake) == 0 {
		rows = append(rows, report.Row{Figure: "intake", Target: "see below", Measured: "not measured", Verdict: report.Failed})
	}

	e := r.e2e
	rate := fmt.Sprintf("at %.0f events/s", r.opts.e2eRate)
	rows = append(rows,
		report.Row{Figure: "end-to-end p50, " + rate, Target: "< " + stats.Millis(targetE2EP50),
			Measured: stats.Millis(e.latency.P50), Verdict: verdict(measured(e.latency.N, e.err), e.latency.P50 < targetE2EP50)},
		report.Row{Figure: "end-to-end p99, " + rate, Target: "< " + stats.Millis(targetE2EP99),
			Measured: stats.Millis(e.latency.P99), Verdict: verdict(measured(e.latency.N, e.err), e.latency.P99 < targetE2EP99)},
	)

	s := r.slow
	rows = append(rows, report.Row{
		Figure:   fmt.Sprintf("statuses/s, every API call %v, %d commits", r.opts.slowWait, s.commits),
		Target:   fmt.Sprintf("≥ %d/s", targetStatusRate),
		Measured: fmt.Sprintf("%.0f/s (%d statuses in %s)", s.rate(), s.statuses, s.window.Round(time.Millisecond)),
		Verdict:  verdict(measured(s.statuses, s.err), s.rate() >= targetStatusRate),
	})

	peak := procmem.Sum(r.procs).PeakBytes
	rows = append(rows, report.Row{
		Figure:   fmt.Sprintf("peak RSS, host + %d plugins (sum of VmHWM)", max(0, len(r.procs)-1)),
		Target:   fmt.Sprintf("< %d MiB", targetPeakBytes/mib),
		Measured: fmt.Sprintf("%.1f MiB", float64(peak)/mib),
		Verdict:  verdict(measured(len(r.procs), r.memErr), peak < targetPeakBytes),
	})

	med := stats.Median(r.starts)
	rows = append(rows, report.Row{
		Figure:   fmt.Sprintf("start-to-ready, 4 plugins (median of %d)", len(r.starts)),
		Target:   "< " + stats.Millis(targetReady),
		Measured: stats.Millis(med),
		Verdict:  verdict(measured(len(r.starts), r.startErr), med < targetReady),
	})
	return rows
}

// errNotMeasured marks a figure whose phase did not run.
var errNotMeasured = errors.New("not measured")

// measured is errNotMeasured when a phase left no samples, else err.
func measured(n int, err error) error {
	if err == nil && n == 0 {
		return errNotMeasured
	}
	return err
}

func verdict(err error, ok bool) report.Verdict {
	if err != nil {
		return report.Failed
	}
	return report.Check(ok)
}

// textReport is what the terminal shows.
func textReport(r *results, rows []report.Row) string {
	var b strings.Builder
	b.WriteString(report.Text(rows))
	b.WriteString("\n")
	b.WriteString(details(r))
	return b.String()
}

// markdownReport is the generated section of docs/performance.md.
func markdownReport(r *results, rows []report.Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s (%s).\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.elapsed.Round(time.Second))
	b.WriteString(report.Markdown(rows))
	b.WriteString("\n")
	b.WriteString(details(r))
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
		fmt.Fprintf(&b, "\n### Intake\n\nClosed loop: each client sends its next event as soon as the previous one is answered; %v warm-up, then %v measured, for the bare handler and then the host. Events: Flux `ReconciliationSucceeded` repeated for %d commits already deployed (what Flux sends every interval; nothing to post).\n\n",
			r.opts.warmup, r.opts.duration, r.opts.commits)
		b.WriteString("| concurrency | server | requests/s | p50 | p90 | p99 | max | host / bare |\n|---|---|---|---|---|---|---|---|\n")
		for _, in := range r.intake {
			bare, host := in.bare.Rate(http.StatusAccepted), in.host.Rate(http.StatusAccepted)
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
			e.sent, r.opts.e2eRate)
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
		b.WriteString("\n### Processor time per phase\n\nCPU seconds used by each process during the phase (user + system), and the host's per accepted event. The load generator and the fake GitHub run in the benchmark's process.\n\n")
		names := r.processNames()
		fmt.Fprintf(&b, "| phase | events | wall | %s | host ms/event | benchmark | bare handler |\n|---|---|---|%s---|---|---|\n",
			strings.Join(names, " | "), strings.Repeat("---|", len(names)))
		for _, c := range r.cpu {
			var cells []string
			for _, n := range names {
				cells = append(cells, fmt.Sprintf("%.2f", c.byProcess[n]))
			}
			perEvent := "—"
			if c.events > 0 && !strings.Contains(c.name, "bare") {
				perEvent = fmt.Sprintf("%.3f", 1000*c.byProcess[hostName]/float64(c.events))
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.2f | %.2f |\n", c.name, c.events, c.wall.Round(10*time.Millisecond),
				strings.Join(cells, " | "), perEvent, c.bench, c.bare)
		}
	}

	if len(r.procs) > 0 {
		b.WriteString("\n### Peak memory\n\nVmHWM (peak resident set) of each process over the intake, end-to-end and slow-API phases, and the largest anonymous (heap, stacks) and file-backed (mapped files: the binary's code and data, the host's store) parts sampled every 100 ms; totals are sums.\n\n| process | binary | VmHWM | anonymous | file-backed |\n|---|---|---|---|---|\n")
		for _, p := range r.procs {
			fmt.Fprintf(&b, "| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", r.nameOf(p), r.binarySize(p),
				float64(p.PeakBytes)/mib, float64(p.PeakAnonBytes)/mib, float64(p.PeakFileBytes)/mib)
		}
		t := procmem.Sum(r.procs)
		fmt.Fprintf(&b, "| **total** | | **%.1f MiB** | %.1f MiB | %.1f MiB |\n", float64(t.PeakBytes)/mib, float64(t.PeakAnonBytes)/mib, float64(t.PeakFileBytes)/mib)
	}
	if r.memErr != nil {
		fmt.Fprintf(&b, "\nMemory sampling failed: %v\n", r.memErr)
	}

	if len(r.starts) > 0 {
		fmt.Fprintf(&b, "\n### Start-to-ready\n\nFrom exec of the host (fresh data directory, four plugins) until `/readyz` answered 200, polled every millisecond: %s.\n", joinMillis(r.starts))
	}
	if r.startErr != nil {
		fmt.Fprintf(&b, "\nStart-to-ready failed: %v\n", r.startErr)
	}

	fmt.Fprintf(&b, "\nThe host logged %d ERROR lines", r.hostErrors)
	if len(r.firstErrors) > 0 {
		fmt.Fprintf(&b, ", the first: `%s`", r.firstErrors[0])
	}
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

// processNames lists the names of the processes sampled, the host first.
func (r *results) processNames() []string {
	names := []string{hostName}
	for _, p := range r.procs {
		if n := r.nameOf(p); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
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
	if p.PID == r.hostPID {
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
