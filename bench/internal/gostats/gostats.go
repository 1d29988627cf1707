// Package gostats reads the Go runtime's memory figures a process exports
// on its Prometheus /metrics (client_golang's Go collector), to tell what
// its resident memory is made of: heap in use, free heap the runtime has
// not returned to the system yet, goroutine stacks.
package gostats

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Memory is one reading, in bytes.
type Memory struct {
	HeapInuse uint64
	// HeapRetained is free heap the runtime keeps mapped (heap idle minus
	// released): memory the process holds without using it.
	HeapRetained uint64
	StackInuse   uint64
	Goroutines   uint64
}

// Max is, figure by figure, the larger of m and o.
func (m Memory) Max(o Memory) Memory {
	return Memory{HeapInuse: max(m.HeapInuse, o.HeapInuse), HeapRetained: max(m.HeapRetained, o.HeapRetained),
		StackInuse: max(m.StackInuse, o.StackInuse), Goroutines: max(m.Goroutines, o.Goroutines)}
}

// Parse reads the figures from a Prometheus text exposition.
func Parse(r io.Reader) (Memory, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Memory{}, fmt.Errorf("parse the metrics: %w", err)
	}
	value := func(name string) (uint64, error) {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, fmt.Errorf("no metric %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return uint64(m.GetGauge().GetValue()), nil
		case m.GetCounter() != nil:
			return uint64(m.GetCounter().GetValue()), nil
		}
		return 0, fmt.Errorf("metric %s is neither a gauge nor a counter", name)
	}
	var m Memory
	var idle, released uint64
	for _, f := range []struct {
		name string
		into *uint64
	}{
		{"go_memstats_heap_inuse_bytes", &m.HeapInuse},
		{"go_memstats_heap_idle_bytes", &idle},
		{"go_memstats_heap_released_bytes", &released},
		{"go_memstats_stack_inuse_bytes", &m.StackInuse},
		{"go_goroutines", &m.Goroutines},
	} {
		v, err := value(f.name)
		if err != nil {
			return Memory{}, err
		}
		*f.into = v
	}
	if idle > released {
		m.HeapRetained = idle - released
	}
	return m, nil
}

// Client returns the HTTP client to read a /metrics endpoint with: it does
// not ask for gzip, which Go's transport otherwise does on every request.
// A Prometheus server scrapes every 15 to 60 s; the benchmark reads far more
// often, and compressing each exposition would be work of the benchmark's
// charged to the host it measures.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableCompression: true}}
}

// Read fetches and parses url (a /metrics endpoint) with client (from
// Client).
func Read(ctx context.Context, client *http.Client, url string) (Memory, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Memory{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Memory{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Memory{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}
