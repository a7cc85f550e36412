package observe_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/observe"
)

func TestLoggerWritesOneJSONObjectPerLine(t *testing.T) {
	for _, debug := range []bool{false, true} {
		var buf bytes.Buffer
		log := observe.NewLogger(&buf, debug)
		log.Debug("hidden unless debug", "k", 1)
		log.Info("hello\nworld", "user", "u1", "n", 2)
		log.Error("bad", "err", "boom")

		var lines []map[string]any
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
			}
			for _, k := range []string{"time", "level", "msg"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("line %q lacks %q", sc.Text(), k)
				}
			}
			lines = append(lines, m)
		}
		want := 2
		if debug {
			want = 3
		}
		if len(lines) != want {
			t.Fatalf("debug=%v: %d lines, want %d", debug, len(lines), want)
		}
		if lines[want-2]["user"] != "u1" || lines[want-2]["msg"] != "hello\nworld" {
			t.Fatalf("fields lost: %v", lines[want-2])
		}
	}
}

func TestServerServesMetricsAndProbes(t *testing.T) {
	reg := observe.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	var ready atomic.Bool
	check := func(context.Context) error {
		if !ready.Load() {
			return errors.New("still starting")
		}
		return nil
	}
	srv, err := observe.Listen("127.0.0.1:0", reg, check, observe.NewLogger(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	base := "http://" + srv.Addr()

	if code := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "not ready: still starting") {
		t.Fatalf("/readyz before ready = %d %q, want 503 with the reason", resp.StatusCode, body)
	}
	ready.Store(true)
	if code := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz when ready = %d", code)
	}

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if v := fams["test_things_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
		t.Fatalf("test_things_total = %v", v)
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func TestListenReportsBusyPort(t *testing.T) {
	reg := observe.NewRegistry()
	a, err := observe.Listen("127.0.0.1:0", reg, nil, observe.NewLogger(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = a.Serve(ctx)
	}()
	if _, err := observe.Listen(a.Addr(), reg, nil, observe.NewLogger(io.Discard, false)); err == nil || !strings.Contains(err.Error(), a.Addr()) {
		t.Fatalf("second listen on %s: err = %v, want one naming the address", a.Addr(), err)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRegisterBuildInfo(t *testing.T) {
	reg := observe.NewRegistry()
	info := buildinfo.Info{Version: "v1.2.3", Commit: "1a2b3c4", GoVersion: "go1.26.8"}
	if err := observe.RegisterBuildInfo(reg, "bulker", info); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range fams {
		if f.GetName() != "bulker_build_info" {
			continue
		}
		found = true
		m := f.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		want := map[string]string{"version": "v1.2.3", "commit": "1a2b3c4", "goversion": "go1.26.8"}
		if len(labels) != len(want) {
			t.Errorf("labels %v, want %v", labels, want)
		}
		for k, v := range want {
			if labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, labels[k], v)
			}
		}
		if v := m.GetGauge().GetValue(); v != 1 {
			t.Errorf("bulker_build_info = %v, want 1", v)
		}
	}
	if !found {
		t.Fatal("bulker_build_info is not registered")
	}

	// A second registration is a programming error the caller must see,
	// not a panic.
	if err := observe.RegisterBuildInfo(reg, "bulker", info); err == nil || !strings.Contains(err.Error(), "bulker_build_info") {
		t.Fatalf("second registration: err = %v, want one naming bulker_build_info", err)
	}
}
