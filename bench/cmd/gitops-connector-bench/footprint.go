package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/bench/internal/cgroup"
	"github.com/gitops-connector/gitops-connector/bench/internal/fakegh"
	"github.com/gitops-connector/gitops-connector/bench/internal/flux"
	"github.com/gitops-connector/gitops-connector/bench/internal/harness"
	"github.com/gitops-connector/gitops-connector/bench/internal/load"
	"github.com/gitops-connector/gitops-connector/bench/internal/procmem"
)

// cgexecCommand runs a command in a cgroup: `gitops-connector-bench cgexec
// DIR PROGRAM ARGS...` moves itself into the cgroup at DIR and execs
// PROGRAM, so the host and every plugin it starts are charged there.
const cgexecCommand = "cgexec"

// settle is how long a host is left alone after /readyz before its idle
// working set is read: the plugins it starts and its first collections are
// over by then.
const settle = 2 * time.Second

// footprint is the memory of one host's process tree as users see it.
type footprint struct {
	// source says where the figures come from: "cgroup v1", "cgroup v2",
	// or "sum of VmHWM" when no cgroup could be made (note says why).
	source, note string
	// idle is the working set once the host is ready and settled, peak the
	// largest sampled every 100 ms through the phases.
	idle, peak uint64
	// peakPhase names the phase during which the peak was sampled.
	peakPhase string
	// processes counts the host and the plugin processes seen.
	processes int
	err       error
}

// memWatch samples one host's footprint: its cgroup's working set, or the
// sum of the VmHWM of its processes when it has no cgroup.
type memWatch struct {
	group   *cgroup.Group
	sampler *procmem.Sampler
	// phase names the phase running now (nil: none named).
	phase func() string
	mu    sync.Mutex
	fp    footprint
}

// newCgroup makes the memory cgroup a host runs in, or returns nil and why
// it cannot.
func (b *bench) newCgroup(name string) (*cgroup.Group, string) {
	g, err := cgroup.New(cgroup.Mount, fmt.Sprintf("gitops-connector-bench-%d-%d-%s", os.Getpid(), b.runNo, name))
	if err != nil {
		return nil, err.Error()
	}
	// The build wrote the binaries: their cached pages are the
	// benchmark's until evicted; the host must fault them in again to be
	// charged for them, as a container is for its image.
	if err := harness.DropPageCache(b.bins); err != nil {
		_ = g.Remove()
		return nil, err.Error()
	}
	return g, ""
}

// wrapper is the command that starts a host in g; nil without a cgroup.
func wrapper(g *cgroup.Group) []string {
	if g == nil {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{self, cgexecCommand, g.Dir}
}

func newMemWatch(g *cgroup.Group, note string, s *procmem.Sampler) *memWatch {
	w := &memWatch{group: g, sampler: s}
	switch {
	case g != nil:
		w.fp.source = fmt.Sprintf("cgroup v%d", g.Version)
	default:
		w.fp.source, w.fp.note = "sum of VmHWM", note
	}
	return w
}

// now reads the current figure.
func (w *memWatch) now() (uint64, error) {
	if err := w.sampler.Sample(); err != nil {
		return 0, err
	}
	if w.group != nil {
		return w.group.WorkingSet()
	}
	return procmem.Sum(w.sampler.Processes()).PeakBytes, nil
}

// idle records the figure of the settled host.
func (w *memWatch) idle() {
	v, err := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fp.idle = v
	w.fp.record(v, "idle")
	w.fp.err = errors.Join(w.fp.err, err)
}

// sample records a sample toward the peak.
func (w *memWatch) sample() {
	v, err := w.now()
	phase := ""
	if w.phase != nil {
		phase = w.phase()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fp.record(v, phase)
	if w.fp.err == nil {
		w.fp.err = err
	}
}

// record takes a sample of v during phase toward the peak.
func (fp *footprint) record(v uint64, phase string) {
	if v > fp.peak {
		fp.peak, fp.peakPhase = v, phase
	}
}

// every samples every d until the returned function is called, which takes
// a last sample and returns the footprint.
func (w *memWatch) every(d time.Duration) func() footprint {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return func() footprint {
		close(done)
		wg.Wait()
		w.sample()
		w.mu.Lock()
		defer w.mu.Unlock()
		w.fp.processes = len(w.sampler.Processes())
		return w.fp
	}
}

// mixResult is the phase of new commits with the realistic Flux mix.
type mixResult struct {
	// rate is the events sent per second.
	rate                 float64
	sent, accepted       int
	statuses, dispatches int
	window               time.Duration
	err                  error
}

// newCommits sends n events of the realistic mix (flux.Mix), each for a
// commit of its own, at -mix-rate, to url, and waits until the fake holds
// every status and dispatch they cause.
func (b *bench) newCommits(ctx context.Context, urls []string, phase uint32, n int, rate float64) mixResult {
	r := mixResult{sent: n, rate: rate}
	bodies := make([][]byte, n)
	for i := range bodies {
		m := flux.Mix(flux.Commit(phase, i), i)
		bodies[i] = m.Body
		r.statuses += m.Statuses
		r.dispatches += m.Dispatches
	}
	b.fake.Reset()
	start := time.Now()
	res := load.Open{Client: load.NewClient(256), URLs: urls, Rate: rate, Count: n,
		Body: func(i int) []byte { return bodies[i] }}.Run(ctx)
	r.accepted = res.Answered[http.StatusAccepted]
	r.err = errors.Join(onlyAccepted(res), b.waitFake(ctx, r.statuses, r.dispatches, drainTimeout))
	r.window = time.Since(start)
	return r
}

// mixEvents is the number of events of the new-commit phase.
func (o options) mixEvents() int { return int(o.mixRate * o.mixTime.Seconds()) }

// mixPhase measures the hosts on new commits: rate events per second for
// d.
func (b *bench) mixPhase(ctx context.Context, rate float64, d time.Duration) {
	n := int(rate * d.Seconds())
	b.enter("new commits")
	b.logf("new commits: %d events of the Flux mix at %.0f/s, each for a commit of its own", n, rate)
	mark := b.markCPU()
	profiled := b.profile(ctx, "mix", d)
	r := b.newCommits(ctx, b.phaseURLs(), phaseMix, n, rate)
	profiled()
	b.accepted += r.accepted
	r.err = errors.Join(r.err, b.waitDelivered(ctx))
	b.recordCPU(fmt.Sprintf("new commits, Flux mix, %.0f events/s", rate), r.accepted, mark)
	b.res.mix = r
	if r.err != nil {
		b.fail("new commits", r.err)
		return
	}
	b.logf("new commits: %d statuses and %d dispatches in %s", r.statuses, r.dispatches, r.window.Round(time.Millisecond))
}

// allPluginConfigs are GitOpsConfigs that put every bundled plugin in use:
// the default one on the fake GitHub, which the events go to, and Argo CD
// with Azure DevOps and with Gitea, which receive none.
func (b *bench) allPluginConfigs(dir string) error {
	docs := map[string]string{
		"default.yaml": fmt.Sprintf(`  gitOpsOperatorType: FLUX
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: GITHUB
  gitOpsAppURL: https://github.com/kaizentm/gitops-manifests/commit
  gitHubOrgUrl: %s
  gitHubGitOpsManifestsRepoName: %s
  gitHubGitOpsRepoName: %s
`, b.fake.OrgURL(owner), manifests, actions),
		"azdo.yaml": `  gitOpsOperatorType: ARGOCD
  gitRepositoryType: AZDO
  ciCdOrchestratorType: AZDO
  gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests
  azdoOrgUrl: https://dev.azure.com/org/project
  azdoGitOpsRepoName: manifests
`,
		"gitea.yaml": `  gitOpsOperatorType: ARGOCD
  gitRepositoryType: GITEA
  ciCdOrchestratorType: GITEA
  gitOpsAppURL: https://argocd.example.com/applications/hello-world
  giteaUrl: https://gitea.example.com
  giteaOwner: platform
  giteaGitOpsManifestsRepoName: gitops-manifests
  giteaGitOpsAppRepoName: hello-world
  giteaWorkflow: sync-success.yaml
`,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, spec := range docs {
		doc := "apiVersion: example.com/v1\nkind: GitOpsConfig\nmetadata:\n  name: " + name[:len(name)-len(".yaml")] + "\nspec:\n" + spec
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// allPlugins runs a second host whose configs use every bundled plugin and
// measures its footprint idle and through a shorter run of the new-commit
// mix.
func (b *bench) allPlugins(ctx context.Context) {
	r := &b.res.all
	dir := filepath.Join(b.runDir, "all-plugins")
	if err := b.allPluginConfigs(filepath.Join(dir, "configs")); err != nil {
		r.err = err
		b.fail("all plugins", err)
		return
	}
	g, note := b.newCgroup("all")
	if g != nil {
		defer g.Remove()
	}
	env := map[string]string{"PAT": fakegh.Token}
	for k, v := range b.opts.env {
		env[k] = v
	}
	logPath := filepath.Join(dir, "host.log")
	h, err := harness.StartHost(harness.HostOptions{Binaries: b.bins, DataDir: filepath.Join(dir, "data"), LogPath: logPath,
		Env: env, Args: []string{"--config", filepath.Join(dir, "configs")}, Wrapper: wrapper(g)})
	if err != nil {
		r.err = err
		b.fail("all plugins", err)
		return
	}
	defer func() {
		if err := h.Stop(60 * time.Second); err != nil {
			b.fail("all plugins: host shutdown", err)
		}
	}()
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := h.WaitReady(readyCtx, 5*time.Millisecond); err != nil {
		r.err = fmt.Errorf("%w (log %s; -keep keeps it)", err, logPath)
		b.fail("all plugins", r.err)
		return
	}
	sampler, err := procmem.NewSampler(procfsMount, h.PID())
	if err != nil {
		r.err = err
		b.fail("all plugins", err)
		return
	}
	time.Sleep(settle)
	w := newMemWatch(g, note, sampler)
	w.phase = b.currentPhase
	w.idle()
	stop := w.every(100 * time.Millisecond)
	main := b.hosts
	b.hosts = []*harness.Host{h} // waitFor watches this host
	n := b.opts.mixEvents() / 2
	b.enter("new commits (half)")
	b.logf("all plugins in use: %d events of the Flux mix at %.0f/s", n, b.opts.mixRate)
	mix := b.newCommits(ctx, []string{h.URL + "/gitopsphase/default"}, phaseMixAll, n, b.opts.mixRate)
	b.hosts = main
	*r = stop()
	if r.err == nil {
		r.err = mix.err
	}
	if r.err != nil {
		b.fail("all plugins", r.err)
		return
	}
	b.logf("all plugins in use: %d processes, working set idle %.1f MiB, peak %.1f MiB (%s)", r.processes,
		float64(r.idle)/mib, float64(r.peak)/mib, r.source)
}
