package dummy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/observe"
)

// Metrics are the dummy-service's Prometheus series.
type Metrics struct {
	events    *prometheus.CounterVec
	pings     prometheus.Counter
	pongs     prometheus.Counter
	errors    prometheus.Counter
	status    *prometheus.GaugeVec
	malformed *prometheus.CounterVec
	// pingDelay is the service's half of a ping's round trip, the only
	// latency it can see: debug-producer alone sees the whole RTT.
	pingDelay prometheus.Histogram
}

// NewMetrics registers the service's metrics on reg. Every label value is
// created up front so a scrape shows zeros instead of missing series.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dummy_events_total", Help: "Events published to the events topic, by event.",
		}, []string{"event"}),
		pings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dummy_pings_total", Help: "Ping commands received for this queue.",
		}),
		pongs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dummy_pongs_total", Help: "Pong events published.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dummy_errors_total", Help: "Faults: failed publishes, failed command reads and commits, and fail-after.",
		}),
		status: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dummy_status_last", Help: "1 for the service's current status, 0 for the others.",
		}, []string{"status"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dummy_malformed_commands_total", Help: "Commands rejected and skipped, by reason.",
		}, []string{"reason"}),
		pingDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dummy_ping_delay_seconds",
			Help:    "Seconds from a ping's sent_at to its pong's ponged_at: the way to the service plus its handling, across the sender's and the service's clocks.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	if err := observe.Register(reg, m.events, m.pings, m.pongs, m.errors, m.status, m.malformed, m.pingDelay); err != nil {
		return nil, err
	}
	for _, e := range control.EventNames() {
		m.events.WithLabelValues(e)
	}
	for _, s := range control.Statuses() {
		m.status.WithLabelValues(s)
	}
	for _, r := range control.Reasons() {
		m.malformed.WithLabelValues(string(r))
	}
	return m, nil
}

// setStatus makes status the only series at 1.
func (m *Metrics) setStatus(status string) {
	for _, s := range control.Statuses() {
		v := 0.0
		if s == status {
			v = 1
		}
		m.status.WithLabelValues(s).Set(v)
	}
}
