package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/cgroup"
	"github.com/gitops-connector/gitops-connector/bench/internal/fakegh"
	"github.com/gitops-connector/gitops-connector/bench/internal/flux"
	"github.com/gitops-connector/gitops-connector/bench/internal/gostats"
	"github.com/gitops-connector/gitops-connector/bench/internal/harness"
	"github.com/gitops-connector/gitops-connector/bench/internal/load"
	"github.com/gitops-connector/gitops-connector/bench/internal/procmem"
	"github.com/gitops-connector/gitops-connector/bench/internal/stats"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// The repositories of the single-instance config the host serves.
const (
	owner     = "kaizentm"
	manifests = "gitops-manifests"
	actions   = "hello-world"
)

// Phases number the commits of each phase (flux.Commit), so no commit is
// shared between phases.
const (
	phaseIntake uint32 = iota + 1
	phaseE2E
	phaseSlow
	phaseMix
	phaseMixAll
)

// dependencyMessage is the message of the end-to-end events: Flux's, when a
// Kustomization waits for another.
const dependencyMessage = "dependency 'flux-system/infrastructure' is not ready"

// drainTimeout bounds the wait for the host to deliver what it accepted.
const drainTimeout = 2 * time.Minute

// bench runs the phases.
type bench struct {
	opts options
	out  io.Writer
	work string
	// runDir is the current run's directory in work: its hosts' data
	// directories and logs.
	runDir string
	// runNo numbers the current run from 1.
	runNo int
	bins  harness.Binaries
	fake  *fakegh.Server

	// hosts are the hosts the phases send events to (the main host, or
	// the replicas), each with its log and its process tree's sampler.
	hosts    []*harness.Host
	tails    []*harness.LogTail
	samplers []*procmem.Sampler
	// sampler is the main host's.
	sampler *procmem.Sampler
	// nats is the NATS cluster's process while the replicas run, queue
	// what reads its streams.
	nats  *child
	queue *queueWatch
	// phase names the phase running, for the peaks of the footprints.
	phase atomic.Value
	// group is the main host's memory cgroup (nil when none could be
	// made), watch its footprint.
	group *cgroup.Group
	watch *memWatch
	// accepted counts the 202 answers of the hosts: every one must be
	// delivered (a log line) before the next phase.
	accepted int
	bare     *bareServer

	res *results
}

// results is everything measured.
type results struct {
	opts options
	// revision names the source built ("" with -bin).
	revision string
	// binarySizes are the binaries' sizes by process name ("host",
	// "flux", ...).
	binarySizes map[string]int64
	// hostPIDs are the pids of the hosts measured (one, or the replicas).
	hostPIDs []int
	started  time.Time
	elapsed  time.Duration
	machine  machine
	fsType   string
	syncs    stats.Summary
	syncErr  error
	starts   []time.Duration
	startErr error
	intake   []intakeResult
	e2e      e2eResult
	mix      mixResult
	slow     slowResult
	// replicas is the run of several replicas on JetStream (nil when
	// -replicas 0 or not run).
	replicas *replicaRun
	// mem is the footprint of the main host (the default config), all that
	// of a host whose configs use every bundled plugin.
	mem, all footprint
	// bundled counts the bundled plugins.
	bundled int
	procs   []procmem.Process
	memErr  error
	// runtime is the largest of each of the main host's Go runtime memory
	// figures sampled through the phases.
	runtime    gostats.Memory
	runtimeErr error
	cpu        []phaseCPU
	// hostErrors counts the ERROR lines of the main host's log.
	hostErrors  int
	firstErrors []string
	rejected    []string
	failures    []string
}

type intakeResult struct {
	conc       int
	bare, host load.Result
	bareLat    stats.Summary
	hostLat    stats.Summary
	err        error
}

type e2eResult struct {
	// rate is the events sent per second.
	rate           float64
	sent, accepted int
	// latency is from the moment an event was due until the fake received
	// its status.
	latency stats.Summary
	// intake is the latency of the 202 answers under this load.
	intake  stats.Summary
	missing int
	lag     time.Duration
	conns   int64
	err     error
}

type slowResult struct {
	commits, statuses, dispatches int
	window                        time.Duration
	calls, conns                  int64
	disorder                      []string
	err                           error
}

// phaseCPU is the processor time each process used during a phase.
type phaseCPU struct {
	name   string
	events int
	wall   time.Duration
	// byProcess is by process name: the host, each plugin (summed over
	// the replicas when there are several).
	byProcess map[string]float64
	bench     float64
	bare      float64
	// nats is the NATS cluster's process (replicas only).
	nats float64
}

// enter names the phase that starts.
func (b *bench) enter(phase string) { b.phase.Store(phase) }

// currentPhase names the phase running; "" before the first.
func (b *bench) currentPhase() string {
	s, _ := b.phase.Load().(string)
	return s
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) fail(phase string, err error) {
	b.res.failures = append(b.res.failures, phase+": "+err.Error())
	b.logf("%s FAILED: %v", phase, err)
}

// run measures every phase, -count times. A phase that fails is recorded
// and the others still run where they can; an error is returned only when
// nothing can be measured. It returns the results of each run.
func (b *bench) run(ctx context.Context) ([]*results, error) {
	base := &results{opts: b.opts, started: time.Now(), machine: describeMachine(), bundled: len(hostproc.BundledPlugins)}
	b.res = base
	work, cleanup, err := b.workDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	b.work = work
	base.fsType = harness.FilesystemType(work)
	syncs, err := harness.SyncProbe(work, 200)
	base.syncs, base.syncErr = stats.Summarize(syncs), err
	b.logf("work directory %s (%s); fdatasync of one page: p50 %s, p99 %s", work, base.fsType,
		stats.Millis(base.syncs.P50), stats.Millis(base.syncs.P99))
	if base.fsType == "tmpfs" {
		b.logf("WARNING: the data directories are on tmpfs, where fsync costs nothing: pass -work on a disk")
	}

	if b.opts.bin != "" {
		b.bins, err = harness.Prebuilt(b.opts.bin)
	} else {
		b.logf("building the host and the plugins")
		b.bins, err = harness.Build(ctx, b.opts.root, filepath.Join(work, "bin"))
	}
	if err != nil {
		return nil, err
	}
	base.binarySizes = binarySizes(b.bins)
	if b.opts.bin == "" {
		base.revision = harness.Revision(ctx, b.opts.root)
	}
	b.fake, err = fakegh.Start()
	if err != nil {
		return nil, err
	}
	defer b.fake.Close()
	b.bare, err = startBare(ctx)
	if err != nil {
		return nil, err
	}
	defer b.bare.stop()

	var runs []*results
	for i := range b.opts.count {
		if ctx.Err() != nil {
			break
		}
		res := *base
		res.started = time.Now()
		res.machine.LoadStart = loadAverage()
		b.res, b.runNo = &res, i+1
		b.runDir = filepath.Join(work, fmt.Sprintf("run-%d", b.runNo))
		if err := os.MkdirAll(b.runDir, 0o700); err != nil {
			return nil, fmt.Errorf("create the run's directory: %w", err)
		}
		if b.opts.count > 1 {
			b.logf("run %d of %d", b.runNo, b.opts.count)
		}
		b.measure(ctx)
		b.res.rejected = b.fake.Rejected()
		b.res.machine.LoadEnd = loadAverage()
		b.res.elapsed = time.Since(b.res.started)
		runs = append(runs, b.res)
	}
	return runs, nil
}

// measure runs every phase once, into b.res.
func (b *bench) measure(ctx context.Context) {
	b.startToReady(ctx)
	if err := b.startMainHost(ctx); err != nil {
		b.fail("host", err)
	} else {
		b.accepted = 0
		stopSampling := b.sampleMemory()
		stopWatch := b.watch.every(100 * time.Millisecond)
		b.intake(ctx, true)
		b.endToEnd(ctx, b.opts.e2eRate)
		b.mixPhase(ctx, b.opts.mixRate, b.opts.mixTime)
		b.slowAPI(ctx)
		b.res.mem = stopWatch()
		stopSampling()
		b.stopMainHost()
		b.allPlugins(ctx)
	}
	b.replicas(ctx)
}

func (b *bench) workDir() (string, func(), error) {
	dir := b.opts.work
	if dir == "" {
		d, err := os.MkdirTemp("", "gitops-connector-bench-")
		if err != nil {
			return "", nil, fmt.Errorf("create the work directory: %w", err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create the work directory: %w", err)
	}
	return dir, func() {
		if b.opts.keep {
			b.logf("work directory kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}, nil
}

// binarySizes are the sizes of the host and plugin binaries by process
// name; a binary that cannot be read is left out.
func binarySizes(bins harness.Binaries) map[string]int64 {
	paths := map[string]string{hostName: bins.Host}
	for _, p := range hostproc.BundledPlugins {
		paths[p] = filepath.Join(bins.PluginDir, p)
	}
	sizes := map[string]int64{}
	for name, path := range paths {
		if fi, err := os.Stat(path); err == nil {
			sizes[name] = fi.Size()
		}
	}
	return sizes
}

// hostEnv is the single-instance config — Flux events, GitHub statuses and
// GitHub Actions dispatches, against the fake — and the -env settings.
func (b *bench) hostEnv() map[string]string {
	env := map[string]string{
		"GIT_REPOSITORY_TYPE":              "GITHUB",
		"CICD_ORCHESTRATOR_TYPE":           "GITHUB",
		"GITOPS_OPERATOR_TYPE":             "FLUX",
		"GITOPS_APP_URL":                   "https://github.com/kaizentm/gitops-manifests/commit",
		"GITHUB_ORG_URL":                   b.fake.OrgURL(owner),
		"GITHUB_GITOPS_MANIFEST_REPO_NAME": manifests,
		"GITHUB_GITOPS_REPO_NAME":          actions,
		"PAT":                              fakegh.Token,
	}
	if b.opts.cpuprofile != "" {
		// The plugins inherit it and write their profiles when stopped.
		env[sdk.CPUProfileDirEnv] = b.opts.cpuprofile
	}
	maps.Copy(env, b.opts.env)
	return env
}

// startToReady starts a host on a fresh data directory several times and
// times each from exec until /readyz answers 200.
func (b *bench) startToReady(ctx context.Context) {
	b.logf("start-to-ready: %d starts", b.opts.starts)
	for i := range b.opts.starts {
		dir := filepath.Join(b.runDir, fmt.Sprintf("start-%d", i))
		h, err := harness.StartHost(harness.HostOptions{Binaries: b.bins, DataDir: dir, LogPath: dir + ".log", Env: b.hostEnv()})
		if err != nil {
			b.res.startErr = err
			break
		}
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, err := h.WaitReady(readyCtx, time.Millisecond)
		cancel()
		stopErr := h.Stop(30 * time.Second)
		if err = errors.Join(err, stopErr); err != nil {
			b.res.startErr = fmt.Errorf("start %d: %w (log %s; -keep keeps it)", i+1, err, dir+".log")
			break
		}
		b.res.starts = append(b.res.starts, d)
	}
	if b.res.startErr != nil {
		b.fail("start-to-ready", b.res.startErr)
		return
	}
	b.logf("start-to-ready: median %s (%s)", stats.Millis(stats.Median(b.res.starts)), joinMillis(b.res.starts))
}

// startMainHost starts the host of the default config, in a memory cgroup
// of its own when one can be made, and reads its idle footprint.
func (b *bench) startMainHost(ctx context.Context) error {
	dir := filepath.Join(b.runDir, "data")
	logPath := filepath.Join(b.runDir, "host.log")
	g, note := b.newCgroup("main")
	if g == nil {
		b.logf("no memory cgroup (%s): the footprint is the sum of VmHWM", note)
	}
	b.group = g
	h, err := harness.StartHost(harness.HostOptions{Binaries: b.bins, DataDir: dir, LogPath: logPath, Env: b.hostEnv(),
		Pprof: b.opts.cpuprofile != "", Wrapper: wrapper(g)})
	if err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = h.WaitReady(readyCtx, 5*time.Millisecond)
	var tail *harness.LogTail
	if err == nil {
		tail, err = harness.NewLogTail(logPath)
	}
	if err == nil {
		b.sampler, err = procmem.NewSampler(procfsMount, h.PID())
	}
	if err != nil {
		_ = h.Stop(10 * time.Second)
		return fmt.Errorf("%w (log %s; -keep keeps it)", err, logPath)
	}
	b.hosts, b.tails, b.samplers = []*harness.Host{h}, []*harness.LogTail{tail}, []*procmem.Sampler{b.sampler}
	b.res.hostPIDs = []int{h.PID()}
	b.logf("host ready at %s (pid %d, data directory %s)", h.URL, h.PID(), dir)
	time.Sleep(settle)
	b.watch = newMemWatch(g, note, b.sampler)
	b.watch.phase = b.currentPhase
	b.watch.idle()
	b.logf("idle footprint %.1f MiB (%s)", float64(b.watch.fp.idle)/mib, b.watch.fp.source)
	return nil
}

// procfsMount is where Linux mounts procfs.
const procfsMount = "/proc"

// runtimeEvery is how often the host's Go runtime figures are read from
// its /metrics: each read makes the host gather and encode every metric, so
// reading as often as the working set (a file read in the benchmark's own
// process) would charge the host noticeably for being measured. A phase
// lasts several seconds: a read a second sees each one's heap and
// goroutines several times.
const runtimeEvery = time.Second

// sampleMemory samples the host's processes every 100 ms, and its Go
// runtime's memory figures (its /metrics) every runtimeEvery, until the
// returned function is called.
func (b *bench) sampleMemory() func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	client := gostats.Client(time.Second)
	metrics := b.hosts[0].URL + "/metrics"
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var lastRuntime time.Time
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if err := b.sampler.Sample(); err != nil && b.res.memErr == nil {
					b.res.memErr = err
				}
				if now.Sub(lastRuntime) < runtimeEvery {
					continue
				}
				lastRuntime = now
				m, err := gostats.Read(context.Background(), client, metrics)
				if err != nil && b.res.runtimeErr == nil {
					b.res.runtimeErr = err
				}
				b.res.runtime = b.res.runtime.Max(m)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if err := b.sampler.Sample(); err != nil && b.res.memErr == nil {
			b.res.memErr = err
		}
		b.res.procs = b.sampler.Processes()
	}
}

func (b *bench) stopMainHost() {
	b.countErrors()
	if err := b.hosts[0].Stop(60 * time.Second); err != nil {
		b.fail("host shutdown", err)
	}
	if b.group != nil {
		if err := b.group.Remove(); err != nil {
			b.logf("%v", err)
		}
	}
}

// cpuMark is the processor time used so far by every process involved.
type cpuMark struct {
	at        time.Time
	byProcess map[string]float64
	bench     float64
	bare      float64
	nats      float64
}

// countErrors reads the ERROR lines of the hosts' logs into the results.
func (b *bench) countErrors() {
	for _, t := range b.tails {
		if err := t.Update(); err == nil {
			b.res.hostErrors += t.Errors
			b.res.firstErrors = append(b.res.firstErrors, t.FirstErrors...)
		}
	}
}

func (b *bench) markCPU() cpuMark {
	m := cpuMark{at: time.Now(), byProcess: map[string]float64{}}
	for _, s := range b.samplers {
		if err := s.Sample(); err == nil {
			for _, p := range s.Processes() {
				m.byProcess[b.res.nameOf(p)] += p.CPUSeconds
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.bench = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	m.bare = cpuSeconds(b.bare.pid())
	if b.nats != nil {
		m.nats = cpuSeconds(b.nats.pid())
	}
	return m
}

// cpuSeconds is the processor time a process used so far; 0 when it
// cannot be read.
func cpuSeconds(pid int) float64 {
	if fs, err := procfsFS(); err == nil {
		if p, err := fs.Proc(pid); err == nil {
			if st, err := p.Stat(); err == nil {
				return st.CPUTime()
			}
		}
	}
	return 0
}

func (b *bench) recordCPU(name string, events int, from cpuMark) {
	to := b.markCPU()
	c := phaseCPU{name: name, events: events, wall: to.at.Sub(from.at), byProcess: map[string]float64{},
		bench: to.bench - from.bench, bare: to.bare - from.bare, nats: to.nats - from.nats}
	for p, s := range to.byProcess {
		c.byProcess[p] = s - from.byProcess[p]
	}
	b.res.cpu = append(b.res.cpu, c)
}

// waitDelivered waits until the host logged the end of the delivery of
// every event it accepted; replicas, until their work queues are empty.
func (b *bench) waitDelivered(ctx context.Context) error {
	if b.queue != nil {
		return b.waitFor(ctx, 50*time.Millisecond, drainTimeout, func() (bool, string, error) {
			n, err := b.queue.pending(ctx)
			return n == 0, fmt.Sprintf("%d events in the JetStream work queues", n), err
		})
	}
	return b.waitFor(ctx, 50*time.Millisecond, drainTimeout, func() (bool, string, error) {
		delivered := 0
		for _, t := range b.tails {
			if err := t.Update(); err != nil {
				return false, "", fmt.Errorf("reading the host log: %w", err)
			}
			delivered += t.Delivered
		}
		return delivered >= b.accepted, fmt.Sprintf("%d of %d accepted events delivered", delivered, b.accepted), nil
	})
}

// waitFake waits until the fake holds want statuses and dispatches.
func (b *bench) waitFake(ctx context.Context, statuses, dispatches int, timeout time.Duration) error {
	return b.waitFor(ctx, 10*time.Millisecond, timeout, func() (bool, string, error) {
		s, d := b.fake.StatusCount(), b.fake.DispatchCount()
		return s >= statuses && d >= dispatches,
			fmt.Sprintf("the fake GitHub has %d of %d statuses and %d of %d dispatches", s, statuses, d, dispatches), nil
	})
}

// waitFor calls check every interval until it reports done, so that a phase
// ends only once the work it caused has ended. It fails when check fails,
// when the host exits, when ctx ends, or after timeout, with check's last
// account of where the work stood.
func (b *bench) waitFor(ctx context.Context, every, timeout time.Duration, check func() (done bool, state string, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, state, err := check()
		if err != nil || done {
			return err
		}
		for _, h := range b.hosts {
			select {
			case <-h.Exited():
				return fmt.Errorf("the host (pid %d) exited", h.PID())
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v, %s", timeout, state)
		}
	}
}

// phaseURLs are the hosts' Flux endpoints, which the events take in turn.
func (b *bench) phaseURLs() []string {
	var urls []string
	for _, h := range b.hosts {
		urls = append(urls, h.URL+"/gitopsphase")
	}
	return urls
}

// intake measures the host and the bare handler at each concurrency. The
// events are what Flux sends most: ReconciliationSucceeded repeated every
// interval for commits already deployed, which post nothing, so the
// figures are those of the intake path with its durable write, not of the
// API calls behind it.
//
// withBare measures the bare handler first at each concurrency (the
// baseline of the single host's targets).
func (b *bench) intake(ctx context.Context, withBare bool) {
	commits := make([]string, b.opts.commits)
	bodies := make([][]byte, len(commits))
	for i := range commits {
		commits[i] = flux.Commit(phaseIntake, i)
		bodies[i] = flux.Event(flux.ReasonSucceeded, "Applied revision: main@sha1:"+commits[i], commits[i])
	}
	body := func(i int) []byte { return bodies[i%len(bodies)] }

	b.enter("intake")
	b.logf("intake: deploying %d commits first, so the measured events are repeats", len(commits))
	warm := load.Closed{Client: load.NewClient(8), URLs: b.phaseURLs(), Concurrency: 8, Duration: time.Minute,
		MaxRequests: len(commits), Body: body}.Run(ctx)
	b.accepted += warm.Answered[http.StatusAccepted]
	if err := errors.Join(expectAll(warm, len(commits)), b.waitFake(ctx, len(commits), len(commits), drainTimeout), b.waitDelivered(ctx)); err != nil {
		b.fail("intake", fmt.Errorf("deploy the commits: %w", err))
		return
	}
	b.fake.Reset()

	for _, c := range b.opts.conc {
		b.enter(fmt.Sprintf("intake, concurrency %d", c))
		r := intakeResult{conc: c}
		run := func(urls []string) load.Result {
			return load.Closed{Client: load.NewClient(c), URLs: urls, Concurrency: c, Warmup: b.opts.warmup,
				Duration: b.opts.duration, Body: body}.Run(ctx)
		}
		if withBare {
			mark := b.markCPU()
			r.bare = run([]string{b.bare.URL})
			b.recordCPU(fmt.Sprintf("intake, concurrency %d (bare handler)", c), r.bare.Answered[http.StatusAccepted], mark)
			r.bareLat = stats.Summarize(r.bare.Latencies(http.StatusAccepted))
			b.logf("intake, concurrency %d: bare handler %.0f req/s, p50 %s, p99 %s", c, r.bare.Rate(http.StatusAccepted),
				stats.Millis(r.bareLat.P50), stats.Millis(r.bareLat.P99))
		}

		mark := b.markCPU()
		profiled := b.profile(ctx, fmt.Sprintf("intake-c%d", c), b.opts.warmup+b.opts.duration)
		r.host = run(b.phaseURLs())
		profiled()
		// Only a recorded event (202) is delivered and logged.
		b.accepted += r.host.Answered[http.StatusAccepted]
		r.hostLat = stats.Summarize(r.host.Latencies(taken...))
		b.logf("intake, concurrency %d: host %.0f req/s (%d answered 200 unchanged), p50 %s, p99 %s", c, r.host.Rate(taken...),
			r.host.Count(http.StatusOK), stats.Millis(r.hostLat.P50), stats.Millis(r.hostLat.P99))
		r.err = errors.Join(onlyAnswered(r.host, taken...), b.waitDelivered(ctx))
		b.recordCPU(fmt.Sprintf("intake, concurrency %d (host)", c), r.host.Answered[http.StatusAccepted]+r.host.Answered[http.StatusOK], mark)
		if r.err != nil {
			b.fail(fmt.Sprintf("intake at concurrency %d", c), r.err)
		}
		b.res.intake = append(b.res.intake, r)
	}
}

// expectAll fails unless all n requests were answered 202.
func expectAll(r load.Result, n int) error {
	if got := r.Answered[http.StatusAccepted]; got != n {
		return fmt.Errorf("%d of %d events accepted; answers %v, %d without answer (%v)", got, n, r.Answered, r.Errors, r.FirstError)
	}
	return nil
}

// taken are the answers of a host that took an event: 202 (recorded, to
// be delivered) and 200 unchanged (a repeat that changes nothing, answered
// without a write).
var taken = []int{http.StatusAccepted, http.StatusOK}

// onlyAccepted fails when a measured request was not answered 202.
func onlyAccepted(r load.Result) error { return onlyAnswered(r, http.StatusAccepted) }

// onlyAnswered fails when a measured request got another answer than
// codes.
func onlyAnswered(r load.Result, codes ...int) error {
	other := r.Errors
	for code, n := range r.Codes {
		if !slices.Contains(codes, code) {
			other += n
		}
	}
	if other > 0 {
		return fmt.Errorf("%d requests not accepted: answers %v, %d without answer (%v)", other, r.Codes, r.Errors, r.FirstError)
	}
	return nil
}

// endToEnd sends events at a fixed rate, each for a commit of its own, and
// times each from the moment it was due until the fake received its
// status.
func (b *bench) endToEnd(ctx context.Context, rate float64) {
	n := int(rate * b.opts.e2eTime.Seconds())
	r := &b.res.e2e
	r.sent = n
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = flux.Event(flux.ReasonDependencyNotReady, dependencyMessage, flux.Commit(phaseE2E, i))
	}
	r.rate = rate
	b.enter("end-to-end")
	b.logf("end-to-end: %d events at %.0f/s", n, rate)
	b.fake.Reset()
	conns := b.fake.Connections()
	mark := b.markCPU()
	profiled := b.profile(ctx, "e2e", b.opts.e2eTime)
	res := load.Open{Client: load.NewClient(256), URLs: b.phaseURLs(), Rate: rate, Count: n,
		Body: func(i int) []byte { return bodies[i] }}.Run(ctx)
	profiled()
	r.accepted = res.Answered[http.StatusAccepted]
	b.accepted += r.accepted
	r.lag = res.MaxSendLag
	r.intake = stats.Summarize(res.Latencies(http.StatusAccepted))
	r.err = errors.Join(onlyAccepted(res), b.waitFake(ctx, r.accepted, 0, drainTimeout))
	arrived := map[string]time.Time{}
	for _, s := range b.fake.Statuses() {
		if _, seen := arrived[s.SHA]; !seen {
			arrived[s.SHA] = s.At
		}
	}
	var lat []time.Duration
	for _, s := range res.Samples {
		if s.Err != nil || s.Code != http.StatusAccepted {
			continue
		}
		at, ok := arrived[flux.Commit(phaseE2E, s.Index)]
		if !ok {
			r.missing++
			continue
		}
		lat = append(lat, at.Sub(s.Due))
	}
	r.latency = stats.Summarize(lat)
	r.conns = b.fake.Connections() - conns
	r.err = errors.Join(r.err, b.waitDelivered(ctx))
	b.recordCPU(fmt.Sprintf("end-to-end, %.0f events/s", rate), r.accepted, mark)
	if r.err != nil {
		b.fail("end-to-end", r.err)
		return
	}
	b.logf("end-to-end: p50 %s, p99 %s, max %s; intake p50 %s, p99 %s; sender late by %s at most",
		stats.Millis(r.latency.P50), stats.Millis(r.latency.P99), stats.Millis(r.latency.Max),
		stats.Millis(r.intake.P50), stats.Millis(r.intake.P99), stats.Millis(r.lag))
}

// slowAPI deploys commits while the fake answers every call after a delay:
// per commit a Progressing event (5 statuses) then a ReconciliationSucceeded
// (1 status, the commit read, one dispatch). It measures statuses per
// second and checks the order within each commit.
func (b *bench) slowAPI(ctx context.Context) {
	r := &b.res.slow
	n := b.opts.slowN
	r.commits = n
	commits := make([]string, n)
	bodies := make([][]byte, 2*n)
	for i := range commits {
		commits[i] = flux.Commit(phaseSlow, i)
		bodies[i] = flux.Event(flux.ReasonProgressing, flux.ChangeSet, commits[i])
		bodies[n+i] = flux.Event(flux.ReasonSucceeded, "Applied revision: main@sha1:"+commits[i], commits[i])
	}
	b.enter("slow API")
	perCommit := len(flux.ProgressingContexts) + 1
	b.logf("slow API: %d commits, %d statuses and %d dispatches, every call answered after %v", n, n*perCommit, n, b.opts.slowWait)
	b.fake.Reset()
	b.fake.SetDelay(b.opts.slowWait)
	defer b.fake.SetDelay(0)
	calls, conns := b.fake.Requests(), b.fake.Connections()
	mark := b.markCPU()
	start := time.Now()
	// Eight clients send the 2n events in order: a commit's
	// ReconciliationSucceeded leaves only after its Progressing was
	// answered, n ≥ 8 places behind.
	res := load.Closed{Client: load.NewClient(8), URLs: b.phaseURLs(), Concurrency: 8, Duration: 10 * time.Minute,
		MaxRequests: 2 * n, Body: func(i int) []byte { return bodies[i] }}.Run(ctx)
	b.accepted += res.Answered[http.StatusAccepted]
	r.err = errors.Join(expectAll(res, 2*n), b.waitFake(ctx, n*perCommit, n, 5*time.Minute))
	statuses := b.fake.Statuses()
	r.statuses, r.dispatches = len(statuses), b.fake.DispatchCount()
	if len(statuses) > 0 {
		r.window = statuses[len(statuses)-1].At.Sub(start)
	}
	r.calls, r.conns = b.fake.Requests()-calls, b.fake.Connections()-conns
	r.disorder = checkDeployments(commits, statuses, b.fake.Dispatches())
	if len(r.disorder) > 0 {
		r.err = errors.Join(r.err, fmt.Errorf("%d commits with wrong statuses or dispatches, e.g. %s", len(r.disorder), r.disorder[0]))
	}
	r.err = errors.Join(r.err, b.waitDelivered(ctx))
	b.recordCPU(fmt.Sprintf("slow API, %v per call", b.opts.slowWait), 2*n, mark)
	if r.err != nil {
		b.fail("slow API", r.err)
		return
	}
	b.logf("slow API: %d statuses in %s: %.0f statuses/s", r.statuses, r.window.Round(time.Millisecond), r.rate())
}

func (r slowResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.statuses) / r.window.Seconds()
}

// checkDeployments checks that every commit got its statuses in the order
// the events produced them — Status, Deployment, HorizontalPodAutoscaler,
// Service, Status (pending), then Status (success) — and
// exactly one dispatch. It returns what is wrong, per commit.
func checkDeployments(commits []string, statuses []fakegh.Status, dispatches []fakegh.Dispatch) []string {
	want := append(slices.Clone(flux.ProgressingContexts), "Status")
	got := map[string][]string{}
	last := map[string]string{}
	for _, s := range statuses {
		got[s.SHA] = append(got[s.SHA], s.Context)
		last[s.SHA] = s.State
	}
	told := map[string]int{}
	for _, d := range dispatches {
		told[d.SHA]++
	}
	var wrong []string
	for _, c := range commits {
		switch {
		case !slices.Equal(got[c], want):
			wrong = append(wrong, fmt.Sprintf("%s: statuses %s, want %s", c, strings.Join(got[c], ","), strings.Join(want, ",")))
		case last[c] != "success":
			wrong = append(wrong, fmt.Sprintf("%s: last status %s, want success", c, last[c]))
		case told[c] != 1:
			wrong = append(wrong, fmt.Sprintf("%s: %d dispatches, want 1", c, told[c]))
		}
	}
	return wrong
}

func joinMillis(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
	}
	return strings.Join(parts, ", ") + " ms"
}

// profile records a CPU profile of the main host for the next d (rounded
// up to whole seconds) into -cpuprofile's directory as host-<name>.pprof,
// then its heap as host-<name>-heap.pprof (in use at the end of the phase's
// load, and allocated since start), in the background; the returned
// function waits for them. Without
// -cpuprofile it does nothing. A profile that cannot be taken is reported,
// not a failure of the phase.
func (b *bench) profile(ctx context.Context, name string, d time.Duration) (wait func()) {
	if b.opts.cpuprofile == "" || b.hosts[0].PprofURL == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(b.opts.cpuprofile, "host-"+name+".pprof")
		if err := fetchProfile(ctx, b.hosts[0].PprofURL, d, path); err != nil {
			b.logf("CPU profile %s: %v", name, err)
			return
		}
		heap := filepath.Join(b.opts.cpuprofile, "host-"+name+"-heap.pprof")
		if err := savePprof(ctx, b.hosts[0].PprofURL+"/heap", heap); err != nil {
			b.logf("heap profile %s: %v", name, err)
			return
		}
		b.logf("CPU and heap profiles of the host written to %s, %s", path, heap)
	}()
	return func() { <-done }
}

// fetchProfile saves the CPU profile of the next d from a net/http/pprof
// endpoint at base.
func fetchProfile(ctx context.Context, base string, d time.Duration, path string) error {
	secs := int(math.Ceil(d.Seconds()))
	return savePprof(ctx, fmt.Sprintf("%s/profile?seconds=%d", base, secs), path)
}

// savePprof saves what a net/http/pprof endpoint answers at url.
func savePprof(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
