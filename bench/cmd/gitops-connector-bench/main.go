// Command gitops-connector-bench measures the connector against its
// performance targets: the host with the real plugin binaries and a durable
// data directory, driven over loopback, posting to a local fake GitHub API.
//
// It builds the binaries (or takes them with -bin), then measures, in this
// order:
//
//  1. start-to-ready: exec of the host with the four bundled plugins until
//     /readyz answers 200, the median of -starts starts;
//  2. intake: requests/s and latency at each -concurrency, against the host
//     and, in the same run, a bare net/http handler that reads the body and
//     answers 202 (a process of its own, like the host);
//  3. end-to-end: events at -e2e-rate per second, each for its own commit;
//     the latency from the moment an event was due until the fake GitHub
//     received its status;
//  4. new commits: the realistic Flux mix (Kustomization Progressing 2 :
//     ReconciliationSucceeded 1 : GitRepository 1, each event for a commit
//     of its own, 3 statuses per event) at -mix-rate per second;
//  5. slow API: the fake answers every call after -slow-delay; Progressing
//     and ReconciliationSucceeded events for -slow-commits commits; statuses
//     per second until all arrived, in order, with one dispatch per commit;
//  6. footprint: the working set of the host's process tree as the kubelet
//     computes it (its own memory cgroup's usage minus inactive file pages;
//     the sum of VmHWM when no cgroup can be made), idle and at its peak
//     through phases 2 to 5, and the processor time of the whole tree per
//     event of each phase;
//  7. all plugins: a second host whose configs use every bundled plugin,
//     its footprint idle and through half the new-commit phase;
//  8. replicas: -replicas hosts with --queue on a 3-node JetStream cluster
//     (nats-server in a process of this binary's own), the events spread
//     over them in turn: intake, end-to-end at -replica-e2e-rate, new
//     commits at -replica-mix-rate; the processor time of every host tree
//     and of the NATS servers, the working set of each replica. The
//     targets are a single replica's and do not judge these figures.
//
// With -count N every phase runs N times in one invocation, on fresh hosts
// each time, and the table gives each figure as the median of the runs
// with their range; met? judges the median.
//
// It prints a table (figure, target, measured, met?) and, with -write,
// regenerates the section between the markers of docs/performance.md. It
// exits 1 when a phase could not run, and with -strict also when a target
// was missed.
//
// Usage:
//
//	cd bench && go run ./cmd/gitops-connector-bench -write ../docs/performance.md
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/cgroup"
	"github.com/gitops-connector/gitops-connector/bench/internal/report"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareCommand {
		if err := serveBare(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gitops-connector-bench:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == natsCommand {
		if err := serveNATS(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gitops-connector-bench:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 3 && os.Args[1] == cgexecCommand {
		err := cgroup.Enter(os.Args[2], os.Args[3:])
		fmt.Fprintln(os.Stderr, "gitops-connector-bench:", err)
		os.Exit(1)
	}
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-connector-bench:", err)
	}
	os.Exit(code)
}

// options are the command-line settings.
type options struct {
	root   string
	bin    string
	write  string
	work   string
	keep   bool
	strict bool
	// count is the number of runs of every phase; the table gives each
	// figure's median and range over them.
	count    int
	timeout  time.Duration
	starts   int
	warmup   time.Duration
	duration time.Duration
	conc     []int
	commits  int
	e2eRate  float64
	e2eTime  time.Duration
	slowN    int
	slowWait time.Duration
	mixRate  float64
	mixTime  time.Duration
	// replicas is the number of hosts of the JetStream run (0: none),
	// which gets events at its own rates.
	replicas       int
	replicaE2ERate float64
	replicaMixRate float64
	// cpuprofile is a directory for the host's CPU profiles, one per phase.
	cpuprofile string
	// env is added to the host's environment; its plugins inherit it.
	env map[string]string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gitops-connector-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.root, "root", "..", "repository root (the bench module is run from bench/)")
	fs.StringVar(&o.bin, "bin", "", "use prebuilt binaries: DIR/gitops-connector and DIR/plugins/ (default: build them)")
	fs.StringVar(&o.write, "write", "", "regenerate the figures of this document (docs/performance.md) between its markers")
	fs.StringVar(&o.work, "work", "", "directory for binaries, data directories and logs (default: a new temporary directory); must be on the disk to measure")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, host logs, stores)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	fs.IntVar(&o.count, "count", 1, "runs of every phase: the table gives each figure's median and range (min–max) over them and judges the median; the sections below it are the last run's")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "bound on each run (-count runs get -count times as long)")
	fs.IntVar(&o.starts, "starts", 7, "host starts measured for start-to-ready (the median is reported)")
	fs.DurationVar(&o.warmup, "intake-warmup", time.Second, "intake: unmeasured time before each measurement")
	fs.DurationVar(&o.duration, "intake-duration", 5*time.Second, "intake: measured time at each concurrency, for the host and for the bare handler")
	conc := fs.String("concurrency", "8,32", "intake: comma-separated client counts")
	fs.IntVar(&o.commits, "intake-commits", 256, "intake: finished commits the repeated ReconciliationSucceeded events cycle over")
	fs.Float64Var(&o.e2eRate, "e2e-rate", 1000, "end-to-end: events per second")
	fs.DurationVar(&o.e2eTime, "e2e-duration", 10*time.Second, "end-to-end: time events are sent for")
	fs.Float64Var(&o.mixRate, "mix-rate", 200, "new commits: events per second of the Flux mix (Progressing 2 : ReconciliationSucceeded 1 : GitRepository 1)")
	fs.DurationVar(&o.mixTime, "mix-duration", 10*time.Second, "new commits: time events are sent for (half of it with every plugin in use)")
	fs.IntVar(&o.replicas, "replicas", 3, "replicas: hosts of the run on a 3-node JetStream cluster (0 skips it)")
	fs.Float64Var(&o.replicaE2ERate, "replica-e2e-rate", 100, "replicas: end-to-end events per second, over all replicas")
	fs.Float64Var(&o.replicaMixRate, "replica-mix-rate", 50, "replicas: new-commit events per second, over all replicas")
	fs.IntVar(&o.slowN, "slow-commits", 200, "slow API: distinct commits, each deployed with a Progressing and a ReconciliationSucceeded event")
	fs.DurationVar(&o.slowWait, "slow-delay", 200*time.Millisecond, "slow API: time the fake GitHub takes to answer each call")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the host for each measured phase into this directory (go tool pprof DIR/host-e2e.pprof), and one of each plugin over the whole run (DIR/<plugin>-<pid>.pprof)")
	o.env = map[string]string{}
	fs.Func("env", "KEY=VALUE added to the host's environment, which its plugins inherit (repeatable), e.g. -env GOGC=50", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		o.env[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, f := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("-concurrency: %q is not a positive number", f)
		}
		o.conc = append(o.conc, n)
	}
	switch {
	case o.count < 1:
		return options{}, fmt.Errorf("-count must be at least 1")
	case o.starts < 1:
		return options{}, fmt.Errorf("-starts must be at least 1")
	case o.commits < 1 || o.slowN < 1:
		return options{}, fmt.Errorf("-intake-commits and -slow-commits must be at least 1")
	case o.e2eRate <= 0 || o.e2eTime <= 0 || o.duration <= 0:
		return options{}, fmt.Errorf("-e2e-rate, -e2e-duration and -intake-duration must be positive")
	case o.replicas < 0 || o.replicas > 0 && (o.replicaE2ERate <= 0 || o.replicaMixRate <= 0):
		return options{}, fmt.Errorf("-replicas must not be negative, and the replicas' rates must be positive")
	case o.mixEvents() < 8:
		return options{}, fmt.Errorf("-mix-rate × -mix-duration must make at least 8 events")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.count)*o.timeout)
	defer cancel()

	b := &bench{opts: o, out: stdout}
	runs, err := b.run(ctx)
	if err != nil {
		return 1, err
	}
	if len(runs) == 0 {
		return 1, fmt.Errorf("no run finished: %w", ctx.Err())
	}
	rows := aggregateRows(runs)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, textReport(runs, rows))
	if o.write != "" {
		if err := writeDoc(o.write, markdownReport(runs, rows)); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "\nfigures written to %s\n", o.write)
	}
	var failures []string
	for i, r := range runs {
		for _, f := range r.failures {
			failures = append(failures, fmt.Sprintf("run %d: %s", i+1, f))
		}
	}
	if len(failures) > 0 {
		return 1, fmt.Errorf("%d phase(s) failed: %s", len(failures), strings.Join(failures, "; "))
	}
	if missed := report.MissedRows(rows); o.strict && len(missed) > 0 {
		return 1, fmt.Errorf("%d target(s) missed", len(missed))
	}
	return 0, nil
}
