package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WrkConfig is one run of wrk, the external load generator: Threads
// threads hold Conns keep-alive connections and POST Body to URL for
// Duration. wrk runs outside the bench's Go runtime, so its figures do not
// depend on a generator that shares the runtime of what it measures.
type WrkConfig struct {
	URL      string
	Token    string // Bearer token, or none
	Threads  int
	Conns    int
	Duration time.Duration
	Body     []byte
	Dir      string // where the Lua script and the body are written
}

// WrkResult is what a wrk run measured. Latencies are of every completed
// request, wrk keeps no separate histogram of the failed ones.
type WrkResult struct {
	Requests     int // completed requests, non-2xx included
	StatusErrors int // answers that were not 2xx or 3xx
	SocketErrors int // connect, read, write errors and timeouts
	Elapsed      time.Duration
	P50, P99     time.Duration
	CPUSeconds   float64 // wrk's own user+system time
}

// OK is the number of successful requests.
func (r WrkResult) OK() int { return r.Requests - r.StatusErrors }

// RPS is successful requests per second.
func (r WrkResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK()) / r.Elapsed.Seconds()
}

// wrkScript makes wrk POST the body read from bodyPath with the headers of
// the Go generator, and print one machine-readable line at the end.
const wrkScript = `wrk.method = "POST"
local f = assert(io.open(%q, "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
%s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result requests=%%d duration_us=%%d status=%%d connect=%%d read=%%d write=%%d timeout=%%d p50_us=%%d p99_us=%%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// WrkAvailable says whether wrk is on PATH (make bench-tools installs it).
func WrkAvailable() error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is not installed (make bench-tools installs it): %w", err)
	}
	return nil
}

// RunWrk runs wrk once and waits for it.
func RunWrk(ctx context.Context, c WrkConfig) (WrkResult, error) {
	bodyPath := filepath.Join(c.Dir, "wrk-body.json")
	if err := os.WriteFile(bodyPath, c.Body, 0o644); err != nil {
		return WrkResult{}, fmt.Errorf("writing wrk's body: %w", err)
	}
	auth := ""
	if c.Token != "" {
		auth = fmt.Sprintf("wrk.headers[\"Authorization\"] = %q", "Bearer "+c.Token)
	}
	script := filepath.Join(c.Dir, "wrk-post.lua")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, bodyPath, auth), 0o644); err != nil {
		return WrkResult{}, fmt.Errorf("writing wrk's script: %w", err)
	}
	secs := max(int(c.Duration.Round(time.Second)/time.Second), 1)
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(c.Threads), "-c", strconv.Itoa(c.Conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "30s", "-s", script, c.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return WrkResult{}, fmt.Errorf("wrk: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	res, err := ParseWrk(out.Bytes())
	if err != nil {
		return WrkResult{}, err
	}
	res.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return res, nil
}

// ParseWrk reads the line wrkScript's done() prints from wrk's output.
func ParseWrk(out []byte) (WrkResult, error) {
	var line string
	for l := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "wrk-result "); ok {
			line = rest
		}
	}
	if line == "" {
		return WrkResult{}, fmt.Errorf("no wrk-result line in wrk's output: %s", bytes.TrimSpace(out))
	}
	v := map[string]int64{}
	for _, f := range strings.Fields(line) {
		k, s, ok := strings.Cut(f, "=")
		if !ok {
			return WrkResult{}, fmt.Errorf("wrk-result: %q is not key=value", f)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return WrkResult{}, fmt.Errorf("wrk-result %s: %w", k, err)
		}
		v[k] = n
	}
	for _, k := range []string{"requests", "duration_us", "status", "connect", "read", "write", "timeout", "p50_us", "p99_us"} {
		if _, ok := v[k]; !ok {
			return WrkResult{}, fmt.Errorf("wrk-result lacks %s: %s", k, line)
		}
	}
	return WrkResult{
		Requests:     int(v["requests"]),
		StatusErrors: int(v["status"]),
		SocketErrors: int(v["connect"] + v["read"] + v["write"] + v["timeout"]),
		Elapsed:      time.Duration(v["duration_us"]) * time.Microsecond,
		P50:          time.Duration(v["p50_us"]) * time.Microsecond,
		P99:          time.Duration(v["p99_us"]) * time.Microsecond,
	}, nil
}
