package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/cgroup"
	"github.com/gitops-connector/gitops-connector/bench/internal/harness"
	"github.com/gitops-connector/gitops-connector/bench/internal/procmem"
	"github.com/gitops-connector/gitops-connector/bench/internal/report"
	"github.com/gitops-connector/gitops-connector/bench/internal/stats"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsCommand runs the JetStream cluster the replicas share:
// `gitops-connector-bench nats-cluster -dir DIR -nodes 3` starts the nodes
// on loopback with their files under DIR, prints their client URLs on one
// line and serves until SIGTERM. It is a process of its own so that its
// processor time is told apart from the benchmark's and the hosts'.
const natsCommand = "nats-cluster"

func serveNATS(args []string) error {
	fs := flag.NewFlagSet(natsCommand, flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the nodes' JetStream files")
	nodes := fs.Int("nodes", 3, "nodes of the cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *nodes < 1 {
		return errors.New("-dir and a positive -nodes are needed")
	}
	cluster, err := natsserver.StartCluster(*dir, *nodes)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	// The parent reads the URLs from the first line.
	fmt.Println(cluster.URLs())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// replicaRun is what the run of several replicas on JetStream measured. It
// is a results of its own: the same phases fill it.
type replicaRun struct {
	*results
	// replicas counts the hosts; mem is each one's footprint.
	replicas int
	mem      []footprint
}

// replicas runs -replicas hosts with --queue on a JetStream cluster of
// three nodes and sends the events of the intake, end-to-end and
// new-commit phases to them in turn, as a Service without affinity would.
// Its figures fill b.res.replicas; the targets of the table are those of a
// single replica and do not judge them.
func (b *bench) replicas(ctx context.Context) {
	n := b.opts.replicas
	if n == 0 {
		return
	}
	main := b.res
	run := &replicaRun{results: &results{opts: b.opts, bundled: main.bundled}, replicas: n}
	main.replicas = run
	b.res = run.results
	defer func() {
		b.res = main
		for _, f := range run.failures {
			main.failures = append(main.failures, fmt.Sprintf("%d replicas: %s", n, f))
		}
	}()
	dir := filepath.Join(b.runDir, "replicas")
	nats, urls, err := startChild(ctx, "the NATS cluster", natsCommand, "-dir", filepath.Join(dir, "nats"), "-nodes", "3")
	if err != nil {
		b.fail("NATS cluster", err)
		return
	}
	b.nats = nats
	defer func() {
		b.nats = nil
		nats.stop()
	}()
	b.logf("%d replicas on a JetStream cluster of 3 nodes (%s)", n, urls)
	// JetStream drops a notification sent again within its duplicate
	// window (the intake phase's repeats): such an event is answered 202
	// and never delivered, so the phases end when the work queues are
	// empty rather than when every 202 has its log line.
	queue, err := watchQueue(urls)
	if err != nil {
		b.fail("NATS cluster", err)
		return
	}
	b.queue = queue
	defer func() {
		b.queue = nil
		queue.conn.Close()
	}()

	hosts, stopHosts, err := b.startReplicas(ctx, dir, urls, n)
	defer stopHosts()
	if err != nil {
		b.fail("replicas", err)
		return
	}
	// The phases act on b.hosts: the replicas, in turn. The main host has
	// stopped by now.
	b.hosts, b.tails, b.samplers, b.accepted = nil, nil, nil, 0
	var stops []func() footprint
	for _, h := range hosts {
		b.hosts, b.tails, b.samplers = append(b.hosts, h.host), append(b.tails, h.tail), append(b.samplers, h.sampler)
		run.hostPIDs = append(run.hostPIDs, h.host.PID())
		stops = append(stops, h.watch.every(100*time.Millisecond))
	}
	b.intake(ctx, false)
	b.endToEnd(ctx, b.opts.replicaE2ERate)
	b.mixPhase(ctx, b.opts.replicaMixRate, b.opts.mixTime)
	for _, stop := range stops {
		run.mem = append(run.mem, stop())
	}
	b.countErrors()
}

// replicaHost is one replica and what watches it.
type replicaHost struct {
	host    *harness.Host
	tail    *harness.LogTail
	sampler *procmem.Sampler
	watch   *memWatch
}

// startReplicas starts n hosts on the queue at urls, each in a memory
// cgroup of its own, and waits until every one is ready and settled. The
// returned function stops them (call it even on error).
func (b *bench) startReplicas(ctx context.Context, dir, urls string, n int) ([]replicaHost, func(), error) {
	var hosts []replicaHost
	var groups []*cgroup.Group
	stop := func() {
		for i, h := range hosts {
			if err := h.host.Stop(60 * time.Second); err != nil {
				b.fail(fmt.Sprintf("replica %d shutdown", i+1), err)
			}
		}
		for _, g := range groups {
			_ = g.Remove()
		}
	}
	for i := range n {
		g, note := b.newCgroup(fmt.Sprintf("replica-%d", i+1))
		if g != nil {
			groups = append(groups, g)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("host-%d.log", i+1))
		env := b.hostEnv()
		env["POD_NAME"] = fmt.Sprintf("replica-%d", i+1) // its identity in the election
		h, err := harness.StartHost(harness.HostOptions{Binaries: b.bins, DataDir: filepath.Join(dir, fmt.Sprintf("host-%d", i+1)),
			Queue: urls, LogPath: logPath, Env: env, Wrapper: wrapper(g)})
		if err != nil {
			return hosts, stop, err
		}
		r := replicaHost{host: h}
		hosts = append(hosts, r)
		readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		_, err = h.WaitReady(readyCtx, 5*time.Millisecond)
		cancel()
		if err == nil {
			r.tail, err = harness.NewLogTail(logPath)
		}
		if err == nil {
			r.sampler, err = procmem.NewSampler(procfsMount, h.PID())
		}
		if err != nil {
			return hosts, stop, fmt.Errorf("replica %d: %w (log %s; -keep keeps it)", i+1, err, logPath)
		}
		r.watch = newMemWatch(g, note, r.sampler)
		r.watch.phase = b.currentPhase
		hosts[i] = r
	}
	time.Sleep(settle)
	for _, h := range hosts {
		h.watch.idle()
	}
	return hosts, stop, nil
}

// figurePrefix starts the name of every figure of the replicas' run.
func (r *replicaRun) figurePrefix() string {
	return fmt.Sprintf("%d replicas on JetStream: ", r.replicas)
}

// tableRows are the replicas' figures in the table, without targets: the
// issue's targets are those of a single replica.
func (r *replicaRun) tableRows() []report.Row {
	pre := r.figurePrefix()
	var rows []report.Row
	for _, in := range r.intake {
		rows = append(rows,
			report.Measure(fmt.Sprintf("%sintake throughput, concurrency %d", pre, in.conc), "", "%s",
				[]report.Value{{V: in.host.Rate(taken...), Unit: "req/s"}}, nil, in.host.Count(taken...) > 0, in.err),
			report.Measure(fmt.Sprintf("%sintake latency, concurrency %d", pre, in.conc), "", "p50 %s, p99 %s",
				[]report.Value{msValue(in.hostLat.P50), msValue(in.hostLat.P99)}, nil, in.hostLat.N > 0, in.err))
	}
	e := r.e2e
	rows = append(rows, report.Measure(fmt.Sprintf("%send-to-end, at %.0f events/s", pre, r.opts.replicaE2ERate), "", "p50 %s, p99 %s",
		[]report.Value{msValue(e.latency.P50), msValue(e.latency.P99)}, nil, e.latency.N > 0, e.err))
	for _, t := range []struct{ figure, prefix string }{
		{fmt.Sprintf("processor time per event, %d host trees, %.0f events/s of one status", r.replicas, r.opts.replicaE2ERate), "end-to-end"},
		{fmt.Sprintf("processor time per event, %d host trees, new-commit Flux mix at %.0f/s", r.replicas, r.opts.replicaMixRate), "new commits"},
	} {
		c, ok := r.phase(t.prefix)
		var tree, nats time.Duration
		if ok {
			tree = time.Duration(c.treeSeconds() / float64(c.events) * float64(time.Second))
			nats = time.Duration(c.nats / float64(c.events) * float64(time.Second))
		}
		rows = append(rows, report.Measure(pre+t.figure, "", "%s (the NATS servers: %s more)",
			[]report.Value{msValue(tree), msValue(nats)}, nil, ok, nil))
	}
	var idle, peak uint64
	var errs error
	source := ""
	for _, fp := range r.mem {
		idle, peak, source = max(idle, fp.idle), max(peak, fp.peak), fp.source
		errs = errors.Join(errs, fp.err)
	}
	rows = append(rows, report.Measure(fmt.Sprintf("%sworking set of a replica, idle and peak (the largest of %d)", pre, r.replicas), "",
		fmt.Sprintf("idle %%s, peak %%s (%s)", source), []report.Value{mibValue(idle), mibValue(peak)}, nil, len(r.mem) > 0 && source != "", errs))
	return rows
}

// phase is the first phase whose name starts with prefix and that counted
// events.
func (r *results) phase(prefix string) (phaseCPU, bool) {
	for _, c := range r.cpu {
		if strings.HasPrefix(c.name, prefix) && c.events > 0 {
			return c, true
		}
	}
	return phaseCPU{}, false
}

// details is the replicas' section of the report.
func (r *replicaRun) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### %d replicas on JetStream\n\n%d hosts started with `--queue` on a JetStream cluster of 3 NATS servers (`nats-server` as a library, in a process of the benchmark's own, on loopback, file storage in the work directory; streams with 3 replicas), each host in a memory cgroup of its own. The events go to the replicas in turn, as through a Service without affinity. Phases: intake (the repeated `ReconciliationSucceeded` events, no bare handler), end-to-end at %.0f events/s, new commits at %.0f events/s. The table's targets are a single replica's and do not judge these figures. JetStream drops a notification sent again within its duplicate window (10 minutes), so the intake phase's repeats are answered 202 and never delivered: the figure is that of the HTTP front and one publish. The first replica started is charged the pages of the binaries it maps; the others, on the same machine, share them: the largest working set is what a pod of its own would show.\n\n",
		r.replicas, r.replicas, r.opts.replicaE2ERate, r.opts.replicaMixRate)
	if len(r.intake) > 0 {
		b.WriteString("| concurrency | requests/s | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
		for _, in := range r.intake {
			fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %s | %s |\n", in.conc, in.host.Rate(taken...),
				stats.Millis(in.hostLat.P50), stats.Millis(in.hostLat.P90), stats.Millis(in.hostLat.P99), stats.Millis(in.hostLat.Max))
		}
		b.WriteString("\n")
	}
	if e := r.e2e; e.sent > 0 {
		fmt.Fprintf(&b, "End-to-end, %d events at %.0f/s: event → status p50 %s, p90 %s, p99 %s, max %s; event → 202 p50 %s, p99 %s; %d of %d accepted, %d statuses missing.\n\n",
			e.sent, e.rate, stats.Millis(e.latency.P50), stats.Millis(e.latency.P90), stats.Millis(e.latency.P99), stats.Millis(e.latency.Max),
			stats.Millis(e.intake.P50), stats.Millis(e.intake.P99), e.accepted, e.sent, e.missing)
	}
	if x := r.mix; x.sent > 0 {
		fmt.Fprintf(&b, "New commits, %d events of the Flux mix at %.0f/s: %d accepted; %d statuses and %d dispatches arrived %s after the first event was sent.\n\n",
			x.sent, x.rate, x.accepted, x.statuses, x.dispatches, x.window.Round(time.Millisecond))
	}
	if len(r.mem) > 0 {
		b.WriteString("| replica | source | processes | idle | peak | peak during |\n|---|---|---|---|---|---|\n")
		for i, fp := range r.mem {
			fmt.Fprintf(&b, "| %d | %s | %d | %.1f MiB | %.1f MiB | %s |\n", i+1, fp.source, fp.processes, float64(fp.idle)/mib, float64(fp.peak)/mib, fp.peakPhase)
		}
		b.WriteString("\n")
	}
	if len(r.cpu) > 0 {
		b.WriteString("CPU seconds per phase, summed over the replicas (each host and its plugins), and of the NATS servers' process:\n\n")
		b.WriteString(cpuTable(r.results, "NATS servers", func(c phaseCPU) float64 { return c.nats }))
	}
	b.WriteString("\n" + r.errorLines("The replicas") + ".\n")
	return b.String()
}

// queueWatch reads the JetStream cluster the replicas share.
type queueWatch struct {
	conn *nats.Conn
	js   jetstream.JetStream
}

func watchQueue(urls string) (*queueWatch, error) {
	conn, err := nats.Connect(urls, nats.Name("gitops-connector-bench"))
	if err != nil {
		return nil, fmt.Errorf("connect to the NATS cluster: %w", err)
	}
	js, err := jetstream.New(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	return &queueWatch{conn: conn, js: js}, nil
}

// pending counts the jobs in the replicas' event streams (work queues: a
// job leaves when its delivery ends), not the key-value buckets' entries.
func (q *queueWatch) pending(ctx context.Context) (uint64, error) {
	var n uint64
	streams := q.js.ListStreams(ctx)
	for info := range streams.Info() {
		if info.Config.Retention == jetstream.WorkQueuePolicy {
			n += info.State.Msgs
		}
	}
	if err := streams.Err(); err != nil {
		return 0, fmt.Errorf("list the JetStream streams: %w", err)
	}
	return n, nil
}
