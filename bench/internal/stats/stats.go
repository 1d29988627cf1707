// Package stats summarises latency samples: count, nearest-rank percentiles
// and maximum.
//
// Samples are kept whole and sorted rather than bucketed: a benchmark run
// holds at most a few hundred thousand samples, so the percentiles are exact
// and the figures can be checked by hand against the raw samples.
package stats

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary describes a set of latency samples.
type Summary struct {
	N   int
	P50 time.Duration
	P90 time.Duration
	P99 time.Duration
	Max time.Duration
}

// Summarize returns the summary of samples; the zero Summary when there is
// none. samples is not modified.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return Summary{
		N:   len(sorted),
		P50: Percentile(sorted, 50),
		P90: Percentile(sorted, 90),
		P99: Percentile(sorted, 99),
		Max: sorted[len(sorted)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted, which must be in ascending order: the smallest sample such that
// at least p % of the samples are less than or equal to it. It returns 0 for
// no samples and panics for a p outside (0, 100], which is a programming
// error.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if p <= 0 || p > 100 || math.IsNaN(p) {
		panic(fmt.Sprintf("stats: percentile %v out of (0, 100]", p))
	}
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// Median returns the middle sample of samples (the mean of the two middle
// ones for an even count); 0 for none. samples is not modified.
func Median(samples []time.Duration) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}

// Millis formats a duration in milliseconds with two decimals, the unit
// every latency of the report uses: "1.25 ms".
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
