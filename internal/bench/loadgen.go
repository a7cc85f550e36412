package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig is one HTTP load run: Conns workers on keep-alive
// connections POST Body(i) to URL until Requests were sent or Duration
// passed, whichever comes first (a zero bound is no bound; one is needed).
// Requests in flight at the end of Duration are completed, not cancelled,
// so the server sees no aborted request.
type LoadConfig struct {
	URL      string
	Token    string // Bearer token, or none
	Conns    int
	Requests int
	Duration time.Duration
	Body     func(i int) []byte
}

// LoadResult is what a load run measured.
type LoadResult struct {
	OK, Failed int
	Elapsed    time.Duration
	Latencies  []time.Duration // of the successful requests, sorted
	FirstErr   error
}

// RPS is successful requests per second.
func (r LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// P returns the q-quantile of the latencies in milliseconds.
func (r LoadResult) P(q float64) float64 { return ms(Percentile(r.Latencies, q)) }

// Load runs the load and waits for it to end. A non-2xx answer counts as
// failed; the first failure is kept for the report.
func Load(ctx context.Context, c LoadConfig) LoadResult {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        c.Conns,
		MaxIdleConnsPerHost: c.Conns,
		MaxConnsPerHost:     c.Conns,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var stopAt time.Time
	if c.Duration > 0 {
		stopAt = time.Now().Add(c.Duration)
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      LoadResult
		wg       sync.WaitGroup
		firstErr error
	)
	start := time.Now()
	for range c.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			ok, failed := 0, 0
			var werr error
			for ctx.Err() == nil && (stopAt.IsZero() || time.Now().Before(stopAt)) {
				i := int(next.Add(1)) - 1
				if c.Requests > 0 && i >= c.Requests {
					break
				}
				t0 := time.Now()
				err := post(ctx, client, c.URL, c.Token, c.Body(i))
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					failed++
					if werr == nil {
						werr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				ok++
			}
			mu.Lock()
			res.OK += ok
			res.Failed += failed
			res.Latencies = append(res.Latencies, lat...)
			if firstErr == nil {
				firstErr = werr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.FirstErr = firstErr
	slices.Sort(res.Latencies)
	return res
}

func post(ctx context.Context, client *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}
