package gostats

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const exposition = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 412
# HELP go_memstats_heap_idle_bytes Number of heap bytes waiting to be used.
# TYPE go_memstats_heap_idle_bytes gauge
go_memstats_heap_idle_bytes 1.2582912e+07
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 2.097152e+07
# TYPE go_memstats_heap_released_bytes gauge
go_memstats_heap_released_bytes 4.194304e+06
# TYPE go_memstats_stack_inuse_bytes gauge
go_memstats_stack_inuse_bytes 6.553600e+06
# TYPE gitops_connector_events_total counter
gitops_connector_events_total{outcome="accepted"} 7
`

func TestParseReadsTheRuntimeFiguresAndTheRetainedHeap(t *testing.T) {
	m, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{HeapInuse: 20 << 20, HeapRetained: 8 << 20, StackInuse: 6553600, Goroutines: 412}
	if m != want {
		t.Errorf("%+v, want %+v", m, want)
	}
	if got := m.Max(Memory{HeapInuse: 1, StackInuse: 7 << 20}); got.HeapInuse != 20<<20 || got.StackInuse != 7<<20 || got.Goroutines != 412 {
		t.Errorf("max %+v", got)
	}
}

func TestParseNamesAMissingFigure(t *testing.T) {
	_, err := Parse(strings.NewReader("go_goroutines 3\n"))
	if err == nil || !strings.Contains(err.Error(), "go_memstats_heap_inuse_bytes") {
		t.Errorf("err = %v", err)
	}
}

func TestReadDoesNotAskForCompression(t *testing.T) {
	var encoding []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encoding = r.Header.Values("Accept-Encoding")
		_, _ = io.WriteString(w, exposition)
	}))
	defer srv.Close()
	m, err := Read(context.Background(), Client(time.Second), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(encoding) != 0 {
		t.Errorf("Accept-Encoding %q: the host would compress every sample", encoding)
	}
	if m.Goroutines != 412 {
		t.Errorf("goroutines %d, want 412", m.Goroutines)
	}
}
