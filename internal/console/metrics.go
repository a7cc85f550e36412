package console

import (
	"cmp"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// key is a destination table.
type key struct{ dest, table string }

// figures are one table's loader metrics.
type figures struct{ lag, rows, outages, dead int64 }

// loaderSeries are the series read: a loader creates them for each table
// it loads, at zero, so they name the tables too.
func loaderSeries(name string) bool {
	switch name {
	case "bulker_consumer_lag", "bulker_rows_loaded_total", "bulker_load_errors_total", "bulker_events_rejected_total":
		return true
	}
	return false
}

// stats are the loader metrics by destination table.
type stats map[key]*figures

// gather reads the loaders' series from g. Whatever it could read is kept
// when some collector failed.
func gather(g prometheus.Gatherer) (stats, error) {
	mfs, err := g.Gather()
	st := stats{}
	for _, mf := range mfs {
		if !loaderSeries(mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var dest, table, kind, status string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "destination":
					dest = l.GetValue()
				case "table":
					table = l.GetValue()
				case "kind":
					kind = l.GetValue()
				case "status":
					status = l.GetValue()
				}
			}
			if dest == "" || table == "" {
				continue
			}
			f := st.at(dest, table)
			switch mf.GetName() {
			case "bulker_consumer_lag":
				f.lag += int64(value(m))
			case "bulker_rows_loaded_total":
				f.rows += int64(value(m))
			case "bulker_load_errors_total":
				if kind == "outage" {
					f.outages += int64(value(m))
				}
			case "bulker_events_rejected_total":
				if status == "dead" {
					f.dead += int64(value(m))
				}
			}
		}
	}
	return st, err
}

func (st stats) at(dest, table string) *figures {
	k := key{dest, table}
	if f, ok := st[k]; ok {
		return f
	}
	f := &figures{}
	st[k] = f
	return f
}

// tables lists a destination's tables by name.
func (st stats) tables(dest string) []string {
	var out []string
	for k := range maps.Keys(st) {
		if k.dest == dest {
			out = append(out, k.table)
		}
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}
