package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// CPUProfileDirEnv names the environment variable that makes a plugin
// record a CPU profile of its whole run into that directory, as
// <name>-<pid>.pprof, written when the host stops it (go tool pprof reads
// it), and a heap profile as <name>-<pid>-heap.pprof beside it (what the
// plugin allocated over its run, and what was in use when it stopped;
// go tool pprof -sample_index=alloc_space). Plugins inherit the host's
// environment, so setting it for the host profiles every plugin under a real
// load; the benchmark's -cpuprofile does.
const CPUProfileDirEnv = "GITOPS_CONNECTOR_PLUGIN_CPUPROFILE_DIR"

// startCPUProfile starts a CPU profile into dir and returns the function
// that ends it and writes the file, and writes the heap profile.
func startCPUProfile(dir, name string) (stop func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("CPU profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("CPU profile %s: %w", path, err)
		}
		return writeHeapProfile(strings.TrimSuffix(path, ".pprof") + "-heap.pprof")
	}, nil
}

// writeHeapProfile writes the heap profile (allocations since start, and in
// use at the last collection) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return nil
}
