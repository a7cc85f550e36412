package sink

import "github.com/prometheus/client_golang/prometheus"

// UnsupportedCollector exports bulker_destination_unsupported{destination,
// type}, 1 for each destination of a type bulker lacks, read from r at each
// scrape so that a reload shows at once.
func (r *Registry) UnsupportedCollector() prometheus.Collector {
	return unsupportedCollector{r: r, desc: prometheus.NewDesc("bulker_destination_unsupported",
		"1 for each configured destination of a type bulker cannot load: its events are refused while the others run.",
		[]string{"destination", "type"}, nil)}
}

type unsupportedCollector struct {
	r    *Registry
	desc *prometheus.Desc
}

func (u unsupportedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }

func (u unsupportedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range u.r.Unsupported() {
		ch <- prometheus.MustNewConstMetric(u.desc, prometheus.GaugeValue, 1, c.ID, c.Type)
	}
}
