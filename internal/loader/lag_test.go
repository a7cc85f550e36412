package loader

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/topics"
)

// lags is an Admin whose groups lag as given; a group it lacks fails.
type lags map[string]map[string]int64

func (l lags) Topics(context.Context) ([]string, error) { return nil, nil }

func (l lags) Lag(_ context.Context, group string) (map[string]int64, error) {
	if lag, ok := l[group]; ok {
		return lag, nil
	}
	return nil, errors.New("coordinator not available")
}

// A table loaded from several topics (its batch and stream topics, a
// source) lags by their sum; a table whose lag cannot be read in full is
// not reported with a part of it.
func TestLagIsSummedPerTable(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{}, Deps{Metrics: metrics, Admin: lags{
		"batch":  {"in.id.pg.m.batch.t.events": 3},
		"stream": {"in.id.pg.m.stream.t.events": 4},
		"source": {"queue-events": 5},
		"other":  {"in.id.pg.m.batch.t.other": 1},
		"fine":   {"in.id.pg.m.stream.t.half": 2},
	}})
	pg := destination.Config{ID: "pg"}
	for group, table := range map[string]string{"batch": "events", "stream": "events", "source": "events", "other": "other", "broken": "half", "fine": "half"} {
		m.workers[group] = &running{target: target{group: group, dest: pg, name: topics.Name{Destination: "pg", Table: table}}}
	}
	m.updateLag(context.Background())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "bulker_consumer_lag" {
			continue
		}
		for _, s := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["destination"]+"."+labels["table"]] = s.GetGauge().GetValue()
		}
	}
	if want := map[string]float64{"pg.events": 3 + 4 + 5, "pg.other": 1}; !maps.Equal(got, want) {
		t.Errorf("bulker_consumer_lag = %v, want %v (pg.half: one of its topics unknown)", got, want)
	}
}
