// Package parsebench benchmarks what an operator plugin spends on one
// event body (decoding it, and the whole of ParseEvent), one sub-benchmark
// per body, with bytes and allocations per operation, so that benchstat
// compares runs body by body. The gRPC call around ParseEvent is not
// included.
package parsebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
