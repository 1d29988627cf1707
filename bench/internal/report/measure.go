package report

import (
	"fmt"
	"slices"
)

// Value is one number of a figure, with its unit ("ms", "MiB", "%",
// "req/s"; "" for a bare count) and the decimals it is shown with.
type Value struct {
	V        float64
	Unit     string
	Decimals int
}

// String is the number with its unit: "4.40 ms".
func (v Value) String() string { return v.with(v.V) }

func (v Value) with(x float64) string {
	s := fmt.Sprintf("%.*f", v.Decimals, x)
	if v.Unit != "" {
		if v.Unit[0] == '/' {
			return s + v.Unit
		}
		s += " " + v.Unit
	}
	return s
}

// Measure builds the row of a measured figure. Layout is Measured as a
// fmt template with one %s per value; judge says whether the values meet
// the target (nil for a figure without one). When err is set, or when the
// phase left no samples (measured false), the figure is not measured
// whatever its values.
func Measure(figure, target, layout string, values []Value, judge func([]float64) bool, measured bool, err error) Row {
	r := Row{Figure: figure, Target: target, Layout: layout, Values: values, Judge: judge}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v.String()
	}
	r.Measured = fmt.Sprintf(layout, args...)
	switch {
	case err != nil || !measured:
		r.Verdict = Failed
	case judge == nil:
		r.Verdict = Info
	default:
		r.Verdict = Check(judge(numbers(values)))
	}
	return r
}

func numbers(values []Value) []float64 {
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = v.V
	}
	return out
}

// Aggregate merges the tables of several runs of the same benchmark into
// one: each figure's values become the median of the runs and their range,
// "4.40 ms (3.90–5.10)" (the median alone when every run shows the same
// figure), and its target is judged on the medians. A figure
// not measured in some run is judged not measured, its text saying in how
// many runs it failed, with the range of the others. Figures keep the
// order in which the runs first show them. One run is returned as it is.
func Aggregate(runs [][]Row) []Row {
	if len(runs) == 1 {
		return runs[0]
	}
	var order []string
	byFigure := map[string][]Row{}
	for _, rows := range runs {
		for _, r := range rows {
			if _, seen := byFigure[r.Figure]; !seen {
				order = append(order, r.Figure)
			}
			byFigure[r.Figure] = append(byFigure[r.Figure], r)
		}
	}
	out := make([]Row, 0, len(order))
	for _, f := range order {
		out = append(out, merge(byFigure[f], len(runs)))
	}
	return out
}

// merge is one figure over runs runs, of which rows are those that have it.
func merge(rows []Row, runs int) Row {
	first := rows[0]
	var good []Row
	for _, r := range rows {
		if r.Verdict != Failed && len(r.Values) == len(first.Values) {
			good = append(good, r)
		}
	}
	out := Row{Figure: first.Figure, Target: first.Target, Layout: first.Layout, Judge: first.Judge}
	failed := runs - len(good)
	if len(good) == 0 || first.Layout == "" {
		out.Measured, out.Verdict = rows[len(rows)-1].Measured, Failed
		if first.Layout == "" && failed == 0 {
			out.Verdict = rows[len(rows)-1].Verdict
		}
		if failed > 0 {
			out.Measured = fmt.Sprintf("not measured in %d of %d runs", failed, runs)
		}
		return out
	}
	args := make([]any, len(first.Values))
	medians := make([]float64, len(first.Values))
	for i, v := range first.Values {
		xs := make([]float64, len(good))
		for j, r := range good {
			xs[j] = r.Values[i].V
		}
		lo, med, hi := spread(xs)
		medians[i] = med
		v.V = med
		out.Values = append(out.Values, v)
		args[i] = v.with(med)
		if from, to := fmt.Sprintf("%.*f", v.Decimals, lo), fmt.Sprintf("%.*f", v.Decimals, hi); from != to {
			args[i] = fmt.Sprintf("%s (%s–%s)", v.with(med), from, to)
		}
	}
	out.Measured = fmt.Sprintf(first.Layout, args...)
	switch {
	case failed > 0:
		out.Verdict = Failed
		out.Measured += fmt.Sprintf("; not measured in %d of %d runs", failed, runs)
	case first.Judge == nil:
		out.Verdict = Info
	default:
		out.Verdict = Check(first.Judge(medians))
	}
	return out
}

// spread is the smallest, the median (the mean of the middle two for an
// even count) and the largest of xs, which must not be empty.
func spread(xs []float64) (lo, med, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med = s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return s[0], med, s[len(s)-1]
}

// Ranges says how an aggregated table reads, for the line above it; "" for
// one run.
func Ranges(runs int) string {
	if runs <= 1 {
		return ""
	}
	return fmt.Sprintf("%d runs in one invocation: each figure is the median of the runs, with their range (min–max) in parentheses; met? judges the medians.", runs)
}
