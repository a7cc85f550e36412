package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// collections returns how many garbage collections the Go process serving
// base has run, from its Prometheus metrics: a round's count says how
// much of its CPU went to the collector (see BULKER_GC_HEAP_FLOOR_MB).
func collections(ctx context.Context, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading %s/metrics: %s", base, resp.Status)
	}
	return gcCount(resp.Body)
}

// gcCount reads the count of go_gc_duration_seconds from metrics in
// Prometheus' text format.
func gcCount(r io.Reader) (int, error) {
	const name = "go_gc_duration_seconds"
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return 0, fmt.Errorf("parsing the metrics: %w", err)
	}
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetSummary() == nil {
		return 0, fmt.Errorf("no %s summary in the metrics", name)
	}
	return int(f.GetMetric()[0].GetSummary().GetSampleCount()), nil
}
