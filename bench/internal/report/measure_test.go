package report

import (
	"errors"
	"strings"
	"testing"
)

func latencyRow(ms float64, err error) Row {
	return Measure("end-to-end p50", "< 5.00 ms", "%s", []Value{{V: ms, Unit: "ms", Decimals: 2}},
		func(x []float64) bool { return x[0] < 5 }, true, err)
}

func intakeRow(host, share, bare float64) Row {
	return Measure("intake throughput", "≥ 25 %", "%s = %s of %s",
		[]Value{{V: host, Unit: "req/s"}, {V: share, Unit: "%", Decimals: 1}, {V: bare, Unit: "req/s"}},
		func(x []float64) bool { return x[1] >= 25 }, true, nil)
}

func TestMeasureRendersTheValuesAndJudgesThem(t *testing.T) {
	r := intakeRow(2065, 11.23, 18387)
	if r.Measured != "2065 req/s = 11.2 % of 18387 req/s" || r.Verdict != Missed {
		t.Errorf("%q %v", r.Measured, r.Verdict)
	}
	if r := Measure("rate", "≥ 100/s", "%s", []Value{{V: 242, Unit: "/s"}}, func(x []float64) bool { return x[0] >= 100 }, true, nil); r.Measured != "242/s" || r.Verdict != Met {
		t.Errorf("%q %v", r.Measured, r.Verdict)
	}
	if r := Measure("peak RSS", "", "%s", []Value{{V: 124.1, Unit: "MiB", Decimals: 1}}, nil, true, nil); r.Verdict != Info {
		t.Errorf("a figure without target: %v", r.Verdict)
	}
	if r := latencyRow(1, errors.New("the host exited")); r.Verdict != Failed {
		t.Errorf("a failed phase: %v", r.Verdict)
	}
	if r := Measure("x", "< 1 ms", "%s", []Value{{V: 0}}, func([]float64) bool { return true }, false, nil); r.Verdict != Failed {
		t.Errorf("no samples: %v", r.Verdict)
	}
}

func TestOneRunIsItsOwnTable(t *testing.T) {
	rows := []Row{latencyRow(6, nil)}
	if got := Aggregate([][]Row{rows}); got[0].Measured != "6.00 ms" {
		t.Errorf("%q", got[0].Measured)
	}
	if Ranges(1) != "" {
		t.Errorf("one run described as %q", Ranges(1))
	}
}

func TestSeveralRunsGiveTheMedianAndRangeOfEveryValueAndJudgeTheMedian(t *testing.T) {
	runs := [][]Row{
		{latencyRow(6.0, nil), intakeRow(2000, 10, 20000)},
		{latencyRow(4.5, nil), intakeRow(3000, 30, 10000)},
		{latencyRow(4.0, nil), intakeRow(2500, 26, 9600)},
	}
	got := Aggregate(runs)
	if len(got) != 2 {
		t.Fatalf("%d rows", len(got))
	}
	// 4.5 is the median: met, though the slowest run missed.
	if got[0].Measured != "4.50 ms (4.00–6.00)" || got[0].Verdict != Met {
		t.Errorf("latency %q %v", got[0].Measured, got[0].Verdict)
	}
	// Each value is the median of its own column, not of one run's row.
	if got[1].Measured != "2500 req/s (2000–3000) = 26.0 % (10.0–30.0) of 10000 req/s (9600–20000)" || got[1].Verdict != Met {
		t.Errorf("intake %q %v", got[1].Measured, got[1].Verdict)
	}
	if !strings.Contains(Ranges(3), "3 runs") || !strings.Contains(Ranges(3), "median") {
		t.Errorf("%q", Ranges(3))
	}
}

func TestAValueEveryRunShowsAlikeHasNoRange(t *testing.T) {
	got := Aggregate([][]Row{{intakeRow(2000, 10.01, 9000)}, {intakeRow(2000, 10.04, 9500)}})
	if got[0].Measured != "2000 req/s = 10.0 % of 9250 req/s (9000–9500)" {
		t.Errorf("%q", got[0].Measured)
	}
}

func TestAnEvenNumberOfRunsTakesTheMeanOfTheMiddleTwo(t *testing.T) {
	got := Aggregate([][]Row{{latencyRow(4, nil)}, {latencyRow(7, nil)}, {latencyRow(5, nil)}, {latencyRow(6, nil)}})
	if got[0].Measured != "5.50 ms (4.00–7.00)" || got[0].Verdict != Missed {
		t.Errorf("%q %v", got[0].Measured, got[0].Verdict)
	}
}

func TestAFigureThatFailedInOneRunIsNotMeasuredWithTheRangeOfTheOthers(t *testing.T) {
	got := Aggregate([][]Row{
		{latencyRow(4, nil)},
		{latencyRow(1, errors.New("the host exited"))},
		{latencyRow(3, nil)},
	})
	if got[0].Verdict != Failed || got[0].Measured != "3.50 ms (3.00–4.00); not measured in 1 of 3 runs" {
		t.Errorf("%q %v", got[0].Measured, got[0].Verdict)
	}
}

func TestAFigureMissingFromARunOrMeasuredInNoneIsNotMeasured(t *testing.T) {
	plain := Row{Figure: "intake", Target: "see below", Measured: "not measured", Verdict: Failed}
	got := Aggregate([][]Row{
		{latencyRow(4, nil), plain},
		{latencyRow(3, nil)},
	})
	if len(got) != 2 || got[1].Figure != "intake" || got[1].Verdict != Failed || got[1].Measured != "not measured in 2 of 2 runs" {
		t.Errorf("%+v", got)
	}
	got = Aggregate([][]Row{{latencyRow(4, nil)}, {}})
	if got[0].Verdict != Failed || !strings.Contains(got[0].Measured, "not measured in 1 of 2 runs") {
		t.Errorf("a figure absent from a run: %q %v", got[0].Measured, got[0].Verdict)
	}
}
