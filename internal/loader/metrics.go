package loader

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/observe"
)

// kindOutage is the kind of a load error that keeps a batch in Kafka and
// retries it in place.
const kindOutage = "outage"

// Metrics of the loaders. Labels are destination ids and table names, both
// bounded by configuration and by the tables that exist.
type Metrics struct {
	batchSize     *prometheus.HistogramVec
	batchDuration *prometheus.HistogramVec
	rowsLoaded    *prometheus.CounterVec
	loadErrors    *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	retried       prometheus.Counter
	lag           *prometheus.GaugeVec
}

// NewMetrics registers the loader metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulker_batch_size",
			Help:    "Events per loaded batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"destination", "table"}),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulker_batch_duration_seconds",
			Help:    "Time to parse, build and load one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"destination", "table"}),
		rowsLoaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_rows_loaded_total",
			Help: "Rows committed to destinations.",
		}, []string{"destination", "table"}),
		loadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_load_errors_total",
			Help: "Failed load attempts, by kind (outage: retried in place).",
		}, []string{"destination", "table", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_events_rejected_total",
			Help: "Events moved to the retry (status failed) or dead-letter (status dead) topic.",
		}, []string{"destination", "table", "status"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulker_events_requeued_total",
			Help: "Events moved from the retry topic back to their incoming topic.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulker_consumer_lag",
			Help: "Records in an incoming topic not yet committed by its loader.",
		}, []string{"destination", "table"}),
	}
	return m, observe.Register(reg, m.batchSize, m.batchDuration, m.rowsLoaded, m.loadErrors, m.rejected, m.retried, m.lag)
}

// startWorker creates a worker's counters at zero. A series that first
// appears at 1 has no earlier sample to differ from, so rate() and
// increase() — and the alerts built on them — would miss the first dead
// letter or outage of a table after a restart.
func (m *Metrics) startWorker(dest, table string) {
	m.rowsLoaded.WithLabelValues(dest, table)
	m.loadErrors.WithLabelValues(dest, table, kindOutage)
	for _, s := range []eventslog.Status{eventslog.Failed, eventslog.Dead} {
		m.rejected.WithLabelValues(dest, table, string(s))
	}
}
