// Package procmem measures the peak memory of a process and its children
// (the host and its plugin processes) from Linux's /proc.
//
// The peak of a process is its VmHWM ("high water mark": the largest
// resident set it ever had). The figure reported for a group is the sum of
// the peaks of every process seen in it: an upper bound of the largest
// resident set the group held at one instant, since the processes need not
// peak together. Children are found by their parent pid, so a child must be
// alive at one of the samples to count; VmHWM keeps its peak between
// samples.
package procmem

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/procfs"
)

// Process is the peak of one process of the group.
type Process struct {
	PID  int
	Name string
	// PeakBytes is the largest VmHWM seen for the process.
	PeakBytes uint64
	// PeakAnonBytes and PeakFileBytes are the largest RssAnon (heap,
	// stacks: what the program allocated) and RssFile (mapped files,
	// mostly the binary's own code and data) sampled.
	PeakAnonBytes uint64
	PeakFileBytes uint64
	// CPUSeconds is the processor time (user and system) the process had
	// used at its last sample.
	CPUSeconds float64
}

// Sampler samples the VmHWM and processor time of a root process and its
// direct children.
// It is safe for concurrent use.
type Sampler struct {
	fs   procfs.FS
	root int

	mu    sync.Mutex
	procs map[int]Process
}

// NewSampler returns a sampler of root and its children, reading procfs
// mounted at mountPoint (procfs.DefaultMountPoint, "/proc", on Linux).
func NewSampler(mountPoint string, root int) (*Sampler, error) {
	f, err := procfs.NewFS(mountPoint)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", mountPoint, err)
	}
	return &Sampler{fs: f, root: root, procs: map[int]Process{}}, nil
}

// Sample reads the VmHWM and processor time of the root and of every process whose parent is
// the root. Processes that exit while they are read are skipped; the root
// having exited is an error. Children that run "describe" (the host asks
// each plugin binary to describe itself at start, in a short-lived process)
// are not plugin servers and are left out.
func (s *Sampler) Sample() error {
	root, err := s.peak(s.root)
	if err != nil {
		return fmt.Errorf("read the memory of process %d: %w", s.root, err)
	}
	found := []Process{root}
	all, err := s.fs.AllProcs()
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	for _, p := range all {
		if p.PID == s.root {
			continue
		}
		st, err := p.Stat()
		if err != nil || st.PPID != s.root {
			continue // gone, or not a child
		}
		if args, err := p.CmdLine(); err == nil && slices.Contains(args, "describe") {
			continue
		}
		if c, err := s.peak(p.PID); err == nil {
			found = append(found, c)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range found {
		if prev, ok := s.procs[p.PID]; ok {
			p.PeakBytes = max(p.PeakBytes, prev.PeakBytes)
			p.PeakAnonBytes = max(p.PeakAnonBytes, prev.PeakAnonBytes)
			p.PeakFileBytes = max(p.PeakFileBytes, prev.PeakFileBytes)
		}
		s.procs[p.PID] = p
	}
	return nil
}

func (s *Sampler) peak(pid int) (Process, error) {
	p, err := s.fs.Proc(pid)
	if err != nil {
		return Process{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Process{}, err
	}
	stat, err := p.Stat()
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, Name: st.Name, PeakBytes: st.VmHWM, PeakAnonBytes: st.RssAnon, PeakFileBytes: st.RssFile,
		CPUSeconds: stat.CPUTime()}, nil
}

// Processes returns every process seen, by pid, with its peak and its
// processor time at its last sample.
func (s *Sampler) Processes() []Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.procs))
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out
}

// Sum adds up the peaks and processor times of procs: the figures of the
// group (PID and Name are left empty).
func Sum(procs []Process) Process {
	var total Process
	for _, p := range procs {
		total.PeakBytes += p.PeakBytes
		total.PeakAnonBytes += p.PeakAnonBytes
		total.PeakFileBytes += p.PeakFileBytes
		total.CPUSeconds += p.CPUSeconds
	}
	return total
}
