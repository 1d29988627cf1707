// Package parsebench benchmarks what an operator plugin spends on one
// event body (decoding it, and the whole of ParseEvent), one sub-benchmark
// per body, with bytes and allocations per operation, so that benchstat
// compares runs body by body. Each and ParseEvent measure the parser in
// the benchmark's process; Remote measures the call as the host makes it,
// through a running plugin process, with the processor time of both sides.
package parsebench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Body is one benchmarked body; Name names its sub-benchmark.
type Body struct {
	Name string
	Data []byte
}

// Fixture is a body to read from the file File; Name names its
// sub-benchmark.
type Fixture struct{ Name, File string }

// Read reads the fixtures, files of dir, in order. A file that cannot be
// read fails the benchmark.
func Read(b testing.TB, dir string, fixtures ...Fixture) []Body {
	b.Helper()
	out := make([]Body, 0, len(fixtures))
	for _, f := range fixtures {
		data, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, Body{f.Name, data})
	}
	return out
}

// Each runs one sub-benchmark of do per body, in order. An error of do
// fails the benchmark.
func Each(b *testing.B, bodies []Body, do func(body []byte) error) {
	for _, c := range bodies {
		b.Run(c.Name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := do(c.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ParseEvent measures the whole of op's work on each body: decode,
// statuses, outcome. A body op refuses or ignores fails the benchmark: it
// would measure a shortcut.
func ParseEvent(b *testing.B, op sdk.Operator, bodies []Body) {
	Each(b, bodies, parse(op))
}

// parse is op's ParseEvent as a benchmarked operation: an error for a body
// it refuses or ignores.
func parse(op sdk.Operator) func(body []byte) error {
	ctx := context.Background()
	return func(body []byte) error {
		res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: body})
		if err == nil && !res.Handled {
			err = fmt.Errorf("ignored: %s", res.Reason)
		}
		return err
	}
}

// Remote measures op's ParseEvent as the host calls it: op is the
// operator of a running plugin process (plugintest.Start), pid that
// process, cfg the config the host passes (nil: none). Besides the wall
// time, it reports the processor time per call of this process (the host's
// side: the conversions and gRPC) as host-µs/op and of the plugin process
// as plugin-µs/op: on a machine with other work these vary less than the
// wall time, and they are what a deployment pays. The plugin's figure
// comes from /proc (Linux), in clock ticks: run at least a second.
func Remote(b *testing.B, op sdk.Operator, pid int, cfg *sdk.Config, bodies []Body) {
	ctx := context.Background()
	for _, c := range bodies {
		b.Run(c.Name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Data)))
			b.ReportAllocs()
			req := sdk.ParseRequest{Config: cfg, Body: c.Data}
			host, plugin := selfCPU(b), processCPU(b, pid)
			for b.Loop() {
				res, err := op.ParseEvent(ctx, req)
				if err == nil && !res.Handled {
					err = fmt.Errorf("ignored: %s", res.Reason)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64((selfCPU(b)-host).Microseconds())/n, "host-µs/op")
			b.ReportMetric(float64((processCPU(b, pid)-plugin).Microseconds())/n, "plugin-µs/op")
		})
	}
}

// selfCPU is the processor time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// processCPU is the processor time process pid has used.
func processCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatalf("processor time of the plugin: %v", err)
	}
	d, err := statCPU(stat)
	if err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return d
}

// statCPU reads utime and stime, the 14th and 15th fields of a
// /proc/<pid>/stat line: the 12th and 13th after the command's closing
// parenthesis (the command may hold spaces and parentheses).
func statCPU(stat []byte) (time.Duration, error) {
	fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
