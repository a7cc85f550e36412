package bench

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of 4 is the 2nd", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 0.99, 99 * time.Millisecond},
		{"max", ms(1, 2, 3), 1, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestMedian(t *testing.T) {
	xs := []float64{5, 1, 3}
	if got := Median(xs); got != 3 {
		t.Errorf("Median = %v, want 3", got)
	}
	if xs[0] != 5 {
		t.Error("Median reordered its argument")
	}
	if got := Median(nil); got != 0 {
		t.Errorf("Median(nil) = %v", got)
	}
}

// The event must be what issue 5 asks for: about 300 bytes, a dozen
// fields, a timestamp and nested objects, and loadable by the schema engine.
func TestEventShape(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, i := range []int{0, 1, 12345, 999999} {
		b := Event(i, now)
		if len(b) < 250 || len(b) > 400 {
			t.Errorf("event %d is %d bytes, want about 300: %s", i, len(b), b)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("event %d is not JSON: %v: %s", i, err, b)
		}
		ev, err := schema.Parse(b)
		if err != nil {
			t.Fatalf("schema.Parse(event %d): %v", i, err)
		}
		if len(ev.Fields) < 12 {
			t.Errorf("event %d flattens to %d fields, want at least 12", i, len(ev.Fields))
		}
		var ts, nested bool
		for _, f := range ev.Fields {
			ts = ts || f.Type == schema.Timestamp
			nested = nested || strings.HasPrefix(schema.FlatKey(f.Key), "context_page_")
		}
		if !ts || !nested {
			t.Errorf("event %d: timestamp field %v, nested object %v; want both", i, ts, nested)
		}
	}
	if string(Event(1, now)) == string(Event(2, now)) {
		t.Error("events do not vary")
	}
}

func TestLoadCountsAndBounds(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if served.Add(1)%10 == 0 {
			http.Error(w, "every tenth fails", http.StatusServiceUnavailable)
			return
		}
	}))
	defer srv.Close()
	body := func(int) []byte { return []byte(`{}`) }

	res := Load(context.Background(), LoadConfig{URL: srv.URL, Token: "tok", Conns: 4, Requests: 100, Body: body})
	if res.OK != 90 || res.Failed != 10 || len(res.Latencies) != 90 {
		t.Errorf("OK %d Failed %d latencies %d, want 90, 10, 90", res.OK, res.Failed, len(res.Latencies))
	}
	if res.FirstErr == nil || !strings.Contains(res.FirstErr.Error(), "503") {
		t.Errorf("FirstErr = %v, want the 503", res.FirstErr)
	}

	start := time.Now()
	res = Load(context.Background(), LoadConfig{URL: srv.URL, Token: "tok", Conns: 4, Duration: 200 * time.Millisecond, Body: body})
	if took := time.Since(start); took > 5*time.Second || res.OK == 0 {
		t.Errorf("a 200ms run took %v with %d OK", took, res.OK)
	}

	res = Load(context.Background(), LoadConfig{URL: srv.URL, Conns: 2, Requests: 4, Body: body})
	if res.OK != 0 || res.Failed != 4 {
		t.Errorf("without the token: OK %d Failed %d, want 0, 4", res.OK, res.Failed)
	}
}

func TestResultsLineHasEveryKey(t *testing.T) {
	r := NewResults()
	r.Set("ingest_rps", 1000, "")
	r.Set("baseline_rps", 2000, "")
	var b strings.Builder
	r.Print(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "RESULT ") {
		t.Fatalf("last line %q is not the RESULT line", last)
	}
	for _, k := range Keys {
		if !strings.Contains(last, " "+k+"=") {
			t.Errorf("RESULT lacks %s: %s", k, last)
		}
	}
	for _, k := range ListKeys {
		if !strings.Contains(last, " "+k+"=") {
			t.Errorf("RESULT lacks %s: %s", k, last)
		}
	}
	if !strings.Contains(last, " ingest_ratio=0.500") || !strings.Contains(last, " load_rows_per_s=NaN") {
		t.Errorf("ratio or missing value wrong: %s", last)
	}
}

func TestResultsLists(t *testing.T) {
	tests := []struct {
		name string
		list []float64
		want string
	}{
		{"missing", nil, "ingest_p99_rounds_ms=NaN"},
		{"one round", []float64{8.5}, "ingest_p99_rounds_ms=8.500"},
		{"rounds in order", []float64{17.25, 152.4, 6.1}, "ingest_p99_rounds_ms=17.2,152,6.100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResults()
			if tt.list != nil {
				r.SetList("ingest_p99_rounds_ms", tt.list, "")
			}
			if line := r.Line(); !strings.Contains(line, " "+tt.want+" ") {
				t.Errorf("RESULT lacks %q: %s", tt.want, line)
			}
		})
	}
}

func TestWrkRatios(t *testing.T) {
	r := NewResults()
	r.Set("wrk_ingest_rps", 900, "")
	r.Set("wrk_baseline_rps", 1000, "")
	r.Set("wrk_ingest_p99_ms", 15, "")
	r.Set("wrk_baseline_p99_ms", 10, "")
	r.Print(io.Discard)
	line := r.Line()
	for _, want := range []string{" wrk_ingest_ratio=0.900 ", " wrk_p99_ratio=1.500 "} {
		if !strings.Contains(line, want) {
			t.Errorf("RESULT lacks %q: %s", want, line)
		}
	}
}

func TestCPUUse(t *testing.T) {
	var u CPUUse
	u.Add("bulker", 40.25)
	u.Add("generator", 12)
	tests := []struct {
		name string
		want float64
	}{{"bulker", 40.25}, {"generator", 12}, {"broker", 0}}
	for _, tt := range tests {
		if got := u.Of(tt.name); got != tt.want {
			t.Errorf("Of(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got, want := u.String(), "bulker 40.2, generator 12.0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestGenDrift checks which round pairs count as taken on a machine that
// changed speed: those whose generator cost more per event in one round
// than in the other, whichever round, when its CPU is known apart.
func TestGenDrift(t *testing.T) {
	use := func(kv ...any) CPUUse {
		var u CPUUse
		for i := 0; i < len(kv); i += 2 {
			u.Add(kv[i].(string), kv[i+1].(float64))
		}
		return u
	}
	tests := []struct {
		name      string
		b, in     CPUUse
		drift     float64
		ok, rerun bool
	}{
		{"wrk, steady", use("bench", 0.0, "baseline", 50.0, "generator", 18.6), use("bench", 0.1, "bulker", 58.0, "generator", 19.7), 19.7 / 18.6, true, false},
		{"wrk, bulker round slowed", use("bench", 0.0, "baseline", 48.6, "generator", 17.0), use("bench", 0.1, "bulker", 69.0, "generator", 21.0), 21.0 / 17.0, true, true},
		{"wrk, baseline round slowed", use("baseline", 70.0, "generator", 23.0), use("bulker", 58.0, "generator", 19.0), 23.0 / 19.0, true, true},
		{"Go generator, steady", use("bench", 56.8, "baseline", 59.0), use("bench", 52.1, "bulker", 61.1), 56.8 / 52.1, true, false},
		{"Go generator, slowed", use("bench", 53.8, "baseline", 57.2), use("bench", 70.0, "bulker", 79.7), 70.0 / 53.8, true, true},
		{"baseline in the bench process", use("bench", 110.0, "baseline", 0.0), use("bench", 52.0, "bulker", 60.0), 0, false, false},
		{"bulker in the bench process", use("bench", 56.0, "baseline", 59.0), use("bench", 120.0, "bulker", 0.0), 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drift, ok := roundPair{bcpu: tt.b, icpu: tt.in}.genDrift()
			if ok != tt.ok || math.Abs(drift-tt.drift) > 1e-9 {
				t.Errorf("genDrift() = %v, %v; want %v, %v", drift, ok, tt.drift, tt.ok)
			}
			if _, rerun := (roundPair{bcpu: tt.b, icpu: tt.in}).drifted(); rerun != tt.rerun {
				t.Errorf("drifted() = %v, want %v", rerun, tt.rerun)
			}
		})
	}
}

func TestTargetCheck(t *testing.T) {
	r := NewResults()
	r.Set("ingest_rps", 1000, "")
	r.Set("e2e_rows_per_s", 900, "")
	r.Set("rtt_p50_ms", 2.5, "")
	tests := []struct {
		target   Target
		pass, ok bool
	}{
		{Target{Key: "e2e_rows_per_s", Op: ">=", Want: 0.8, Of: "ingest_rps"}, true, true},
		{Target{Key: "rtt_p50_ms", Op: "<=", Want: 2}, false, true},
		{Target{Key: "dummy_rss_mb", Op: "<=", Want: 25}, false, false},
	}
	for _, tt := range tests {
		pass, ok, _ := tt.target.Check(r)
		if pass != tt.pass || ok != tt.ok {
			t.Errorf("%s: pass %v ok %v, want %v %v", tt.target.Key, pass, ok, tt.pass, tt.ok)
		}
	}
}

func TestProcReadings(t *testing.T) {
	rss, err := ProcStatusMB(os.Getpid(), "VmHWM")
	if err != nil || rss <= 0 || math.IsNaN(rss) {
		t.Errorf("VmHWM of self = %v, %v", rss, err)
	}
	if _, err := ProcStatusMB(os.Getpid(), "NoSuchField"); err == nil {
		t.Error("a missing field gave no error")
	}
	cpu, err := ProcCPUSeconds(os.Getpid())
	if err != nil || cpu < 0 {
		t.Errorf("CPU of self = %v, %v", cpu, err)
	}
}

type recorder struct {
	topic string
	value []byte
	err   error
}

func (r *recorder) Produce(_ context.Context, topic string, _, value []byte, _ []kafka.Header) error {
	r.topic, r.value = topic, value
	return r.err
}

func TestBaselineHandler(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
	}{
		{"acknowledged", nil, http.StatusOK},
		{"not acknowledged", context.DeadlineExceeded, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.err}
			w := httptest.NewRecorder()
			BaselineHandler(rec, "t").ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1}`)))
			if w.Code != tt.wantCode {
				t.Errorf("status %d, want %d", w.Code, tt.wantCode)
			}
			if rec.topic != "t" || string(rec.value) != `{"a":1}` {
				t.Errorf("produced %q to %q", rec.value, rec.topic)
			}
		})
	}
}
