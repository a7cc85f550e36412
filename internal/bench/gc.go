package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// gcCount finds go_gc_duration_seconds_count in Prometheus' text format.
func gcCount(r io.Reader) (int, error) {
	const name = "go_gc_duration_seconds_count "
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%s%s: %w", name, v, err)
			}
			return int(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %sin the metrics", name)
}
