package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/metrics"
)

// BenchmarkInstrument is the cost of timing one request: the wrapped
// handler answers 202 and writes nothing else.
func BenchmarkInstrument(b *testing.B) {
	h := metrics.New().Instrument("/gitopsphase", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	req := httptest.NewRequest(http.MethodPost, "/gitopsphase", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
