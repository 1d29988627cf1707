package stats

import (
	"testing"
	"time"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, f := range v {
		out[i] = time.Duration(f * float64(time.Millisecond))
	}
	return out
}

func TestPercentileIsTheNearestRankSample(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of an odd count is the middle", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of an even count is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 samples is the 99th", hundred, 99, 99 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"a tiny percentile is the minimum", hundred, 0.001, time.Millisecond},
		{"p99 of 10 samples is the maximum", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 50), 99, 50 * time.Millisecond},
		{"p90 of 10 samples is the 9th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestPercentileOutOfRangeIsAProgrammingError(t *testing.T) {
	for _, p := range []float64{0, -1, 100.5} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Percentile(_, %v) did not panic", p)
				}
			}()
			Percentile(ms(1), p)
		}()
	}
}

func TestSummarizeDoesNotReorderTheCallersSamples(t *testing.T) {
	samples := ms(5, 1, 4, 2, 3)
	s := Summarize(samples)
	want := Summary{N: 5, P50: ms(3)[0], P90: ms(5)[0], P99: ms(5)[0], Max: ms(5)[0]}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if samples[0] != ms(5)[0] || samples[4] != ms(3)[0] {
		t.Errorf("samples reordered: %v", samples)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("Summarize(nil) is not the zero Summary")
	}
}

func TestMedianAveragesTheTwoMiddleSamplesOfAnEvenCount(t *testing.T) {
	tests := []struct {
		samples []time.Duration
		want    time.Duration
	}{
		{nil, 0},
		{ms(300), 300 * time.Millisecond},
		{ms(310, 200, 250), 250 * time.Millisecond},
		{ms(400, 200, 300, 100), 250 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Median(tt.samples); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.samples, got, tt.want)
		}
	}
}

func TestMillisShowsTwoDecimals(t *testing.T) {
	if got := Millis(1249 * time.Microsecond); got != "1.25 ms" {
		t.Errorf("Millis = %q", got)
	}
}
