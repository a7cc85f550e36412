package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Keys are the RESULT keys of issues 5 and 15, in print order.
var Keys = []string{
	"ingest_rps", "ingest_p50_ms", "ingest_p99_ms", "baseline_rps", "baseline_p99_ms",
	"ingest_ratio", "p99_ratio", "ingest_cpu_ratio",
	"wrk_ingest_rps", "wrk_ingest_p50_ms", "wrk_ingest_p99_ms", "wrk_baseline_rps", "wrk_baseline_p99_ms",
	"wrk_ingest_ratio", "wrk_p99_ratio", "wrk_ingest_cpu_ratio",
	"ingest_p99_worst_ms", "p99_ratio_worst",
	"load_rows_per_s", "copy_rows_per_s", "load_ratio",
	"e2e_rows_per_s", "sqlite_rows_per_s", "stream_rows_per_s",
	"rtt_p50_ms", "rtt_p99_ms", "raw_rtt_p50_ms", "bulker_rss_mb", "dummy_rss_mb",
}

// ListKeys are RESULT keys with one value per round, comma-separated.
var ListKeys = []string{
	"ingest_p99_rounds_ms", "baseline_p99_rounds_ms", "wrk_ingest_p99_rounds_ms", "wrk_baseline_p99_rounds_ms",
}

// Diagnostics are extra figures shown in the table, not in RESULT: they
// split a figure into its parts.
var Diagnostics = []string{"x_ingest_noloader_rps", "x_ingest_noloader_p99_ms", "x_wrk_ingest_noloader_rps", "x_wrk_ingest_noloader_p99_ms",
	"x_side_cpu_ratio", "x_side_p99_ratio", "x_side_noloader_cpu_ratio", "x_side_noloader_p99_ratio",
	"x_copy_warm_rows_per_s", "x_copy_noindex_rows_per_s", "x_copy_batched_rows_per_s", "x_parse_build_rows_per_s", "x_dest_load_rows_per_s"}

// Results holds the figures by key; a key whose phase failed is missing.
type Results struct {
	Values map[string]float64
	Lists  map[string][]float64 // per round
	Notes  map[string]string    // per key: how it was measured (runs, counts)
	Errors []string             // phases that failed
}

// NewResults returns empty results.
func NewResults() *Results {
	return &Results{Values: map[string]float64{}, Lists: map[string][]float64{}, Notes: map[string]string{}}
}

// SetList records one figure per round with a note.
func (r *Results) SetList(key string, v []float64, note string) {
	r.Lists[key] = v
	if note != "" {
		r.Notes[key] = note
	}
}

// Set records a figure with a note.
func (r *Results) Set(key string, v float64, note string) {
	r.Values[key] = v
	if note != "" {
		r.Notes[key] = note
	}
}

// Fail records a failed phase.
func (r *Results) Fail(phase string, err error) {
	r.Errors = append(r.Errors, phase+": "+err.Error())
}

func (r *Results) ratios() {
	div := func(key, a, b string) {
		x, ok1 := r.Values[a]
		y, ok2 := r.Values[b]
		if ok1 && ok2 && y > 0 {
			r.Set(key, x/y, a+" / "+b)
		}
	}
	div("ingest_ratio", "ingest_rps", "baseline_rps")
	div("p99_ratio", "ingest_p99_ms", "baseline_p99_ms")
	div("wrk_ingest_ratio", "wrk_ingest_rps", "wrk_baseline_rps")
	div("wrk_p99_ratio", "wrk_ingest_p99_ms", "wrk_baseline_p99_ms")
	div("load_ratio", "load_rows_per_s", "copy_rows_per_s")
}

// Target is one goal of an issue.
type Target struct {
	Key  string
	Op   string // ">=" or "<="
	Want float64
	// Of, when set, makes the goal Want × the value of Of.
	Of    string
	Issue int // the issue that set the goal
}

// Targets are the goals of issue 5 (met since) and of issue 15 (the second
// wave: lighter ingest under both generators, every round's tail, memory,
// the loader).
var Targets = []Target{
	{Key: "ingest_ratio", Op: ">=", Want: 0.8, Issue: 5}, {Key: "p99_ratio", Op: "<=", Want: 1.5, Issue: 5},
	{Key: "load_ratio", Op: ">=", Want: 0.3, Issue: 5},
	{Key: "e2e_rows_per_s", Op: ">=", Want: 0.8, Of: "ingest_rps", Issue: 5},
	{Key: "stream_rows_per_s", Op: ">=", Want: 10000, Issue: 5},
	{Key: "rtt_p50_ms", Op: "<=", Want: 2, Issue: 5}, {Key: "bulker_rss_mb", Op: "<=", Want: 100, Issue: 5},
	{Key: "dummy_rss_mb", Op: "<=", Want: 25, Issue: 5},
	{Key: "ingest_cpu_ratio", Op: "<=", Want: 1.15, Issue: 15},
	{Key: "ingest_ratio", Op: ">=", Want: 0.9, Issue: 15}, {Key: "wrk_ingest_ratio", Op: ">=", Want: 0.9, Issue: 15},
	{Key: "p99_ratio_worst", Op: "<=", Want: 1.5, Issue: 15},
	{Key: "bulker_rss_mb", Op: "<=", Want: 64, Issue: 15}, {Key: "load_ratio", Op: ">=", Want: 0.5, Issue: 15},
}

// Check says whether t holds in r; ok is false when a figure is missing.
func (t Target) Check(r *Results) (pass, ok bool, goal string) {
	v, ok := r.Values[t.Key]
	want := t.Want
	goal = t.Op + " " + format(t.Want)
	if t.Of != "" {
		o, ok2 := r.Values[t.Of]
		ok = ok && ok2
		want *= o
		goal = fmt.Sprintf("%s %s × %s = %s", t.Op, format(t.Want), t.Of, format(want))
	}
	if !ok {
		return false, false, goal
	}
	if t.Op == ">=" {
		return v >= want, true, goal
	}
	return v <= want, true, goal
}

// Print writes the table, the targets and the RESULT line (last).
func (r *Results) Print(w io.Writer) {
	r.ratios()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tHOW")
	for _, k := range append(slices.Concat(Keys, ListKeys), Diagnostics...) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, r.text(k), r.Notes[k])
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ISSUE\tTARGET\tGOAL\tVALUE\tSTATUS")
	for _, t := range Targets {
		pass, ok, goal := t.Check(r)
		status, v := "FAIL", "n/a"
		switch {
		case !ok:
			status = "MISSING"
		case pass:
			status = "pass"
		}
		if x, ok := r.Values[t.Key]; ok {
			v = format(x)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.Issue, t.Key, goal, v, status)
	}
	_ = tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintln(w, "error:", e)
	}
	fmt.Fprintln(w, r.Line())
}

// Line is the RESULT line; a missing figure is NaN, a per-round list is
// comma-separated.
func (r *Results) Line() string {
	var b strings.Builder
	b.WriteString("RESULT")
	for _, k := range slices.Concat(Keys, ListKeys) {
		b.WriteString(" " + k + "=" + r.text(k))
	}
	return b.String()
}

// text is a key's value as printed: NaN when missing, a list
// comma-separated.
func (r *Results) text(k string) string {
	if l, ok := r.Lists[k]; ok && len(l) > 0 {
		parts := make([]string, len(l))
		for i, x := range l {
			parts[i] = format(x)
		}
		return strings.Join(parts, ",")
	}
	v, ok := r.Values[k]
	if !ok {
		v = math.NaN()
	}
	return format(v)
}

func format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
