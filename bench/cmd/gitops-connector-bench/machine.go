package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/prometheus/procfs"
)

// machine describes where the run happened: the figures mean little
// without it.
type machine struct {
	CPU       string
	CPUs      int
	Kernel    string
	Go        string
	LoadStart string
	LoadEnd   string
}

func describeMachine() machine {
	m := machine{CPU: "unknown", CPUs: runtime.NumCPU(), Kernel: "unknown", Go: runtime.Version(), LoadStart: loadAverage()}
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if info, err := fs.CPUInfo(); err == nil && len(info) > 0 && info[0].ModelName != "" {
			m.CPU = info[0].ModelName
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages: other work on the
// machine shows here.
func loadAverage() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "unknown"
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f, %.2f, %.2f", l.Load1, l.Load5, l.Load15)
}

func procfsFS() (procfs.FS, error) { return procfs.NewFS(procfsMount) }
