package dummy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Paths of the programs under test, built once by TestMain.
var bin = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "streamforge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		for _, name := range []string{"dummy-service", "debug-producer", "broker"} {
			out := filepath.Join(dir, name)
			cmd := exec.Command("go", "build", "-race", "-o", out, "github.com/streamforge/streamforge/cmd/"+name)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n", name, err)
				return 1
			}
			bin[name] = out
		}
		return m.Run()
	}()
	os.Exit(code)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running program.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	code           int
}

// startProc runs a built program with exactly env (no inherited KAFKA_*).
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin[name], args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		case err != nil:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout.String(), name, p.stderr.String())
		}
	})
	return p
}

// runProc runs a program to its end and returns its exit code.
func runProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := startProc(t, name, env, args...)
	p.wait(t, 60*time.Second)
	return p
}

func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s", p.name, timeout)
		return 0
	}
}

func (p *proc) signal(t *testing.T, s syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

// logLines parses every line of out as a JSON object, failing on any line
// that is not one.
func logLines(t *testing.T, name, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: log line is not a JSON object: %q", name, sc.Text())
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("%s: log line without %q: %q", name, k, sc.Text())
			}
		}
		lines = append(lines, m)
	}
	return lines
}

// waitLog waits for a log line of p whose msg contains msg and returns it.
func (p *proc) waitLog(t *testing.T, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range logLines(t, p.name, p.stdout.String()) {
			if s, _ := l["msg"].(string); strings.Contains(s, msg) {
				return l
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (code %d) without logging %q", p.name, p.code, msg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no %q within %s", p.name, msg, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNoSecret fails when a password shows up in any text.
func assertNoSecret(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{brokertest.Password, wrongPassword} {
			if strings.Contains(s, secret) {
				t.Fatalf("%s leaks a password", where)
			}
		}
	}
}

const wrongPassword = "definitely-Not-The-Pa55word"

// watcher reads queue-events from the moment it was created.
type watcher struct {
	ch  chan kafka.Record
	mu  sync.Mutex
	raw []string
}

func watch(t *testing.T, cfg kafka.Config) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := kafka.NewTailReader(ctx, cfg, discard(), "queue-events")
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{ch: make(chan kafka.Record, 1000)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			recs, err := r.Poll(ctx, 0)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				continue
			}
			for _, rec := range recs {
				w.mu.Lock()
				w.raw = append(w.raw, string(rec.Value))
				w.mu.Unlock()
				w.ch <- rec
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		r.Close()
	})
	return w
}

// next returns the next event of queueID.
func (w *watcher) next(t *testing.T, queueID string, timeout time.Duration) control.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case rec := <-w.ch:
			ev, err := control.DecodeEvent(rec.Value)
			if err != nil {
				t.Fatalf("event is not JSON: %q", rec.Value)
			}
			if ev.QueueID == queueID {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event from %s within %s", queueID, timeout)
		}
	}
}

// expect returns the next event of queueID, which must be named event.
func (w *watcher) expect(t *testing.T, queueID, event string) control.Event {
	t.Helper()
	ev := w.next(t, queueID, 20*time.Second)
	if ev.Event != event {
		t.Fatalf("%s: got event %q (%+v), want %q", queueID, ev.Event, ev, event)
	}
	return ev
}

// quiet asserts no event of queueID arrives within d.
func (w *watcher) quiet(t *testing.T, queueID string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case rec := <-w.ch:
			if ev, _ := control.DecodeEvent(rec.Value); ev.QueueID == queueID {
				t.Fatalf("unexpected event from %s: %s", queueID, rec.Value)
			}
		case <-deadline:
			return
		}
	}
}

func (w *watcher) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.raw, "\n")
}

// sender writes raw commands to queue-control.
type sender struct{ c *kafka.Client }

func newSender(t *testing.T, cfg kafka.Config) sender {
	t.Helper()
	c, err := kafka.Connect(context.Background(), cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return sender{c}
}

func (s sender) send(t *testing.T, raw string) {
	t.Helper()
	if err := s.c.Produce(context.Background(), "queue-control", nil, []byte(raw), nil); err != nil {
		t.Fatal(err)
	}
}

func pingJSON(queueID string, ts float64) string {
	return fmt.Sprintf(`{"queue_id":%q,"command":"ping","sent_at":%v}`, queueID, ts)
}

// metrics scrapes addr and returns each series as "name{k=v,...}" → value.
func metrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// assertMetrics polls addr until every wanted series has its value: an
// event may be seen on Kafka a moment before the service counts it.
func assertMetrics(t *testing.T, addr string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := metrics(t, addr)
		var wrong []string
		for _, k := range []string{"go_goroutines", "process_start_time_seconds"} {
			if _, ok := got[k]; !ok {
				wrong = append(wrong, k+" missing (Go and process collectors)")
			}
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want %v", k, g, ok, v))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics of %s:\n%s", addr, strings.Join(wrong, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStatus polls an HTTP path of addr until it answers code.
func waitStatus(t *testing.T, addr, path string, code int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v %v, want %d", path, resp, err, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusLast is the dummy_status_last series expected with status at 1.
func statusLast(status string) map[string]float64 {
	m := map[string]float64{}
	for _, s := range control.Statuses() {
		v := 0.0
		if s == status {
			v = 1
		}
		m["dummy_status_last{status="+s+"}"] = v
	}
	return m
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// serviceEnv is the environment of a dummy-service for queueID on c.
func serviceEnv(c *brokertest.Cluster, queueID string) []string {
	return append([]string{
		"QUEUE_ID=" + queueID, "SYMBOL=BTCUSDT", "TIME_RANGE=2024-01-01:2024-01-02", "TYPE=api",
		"TELEMETRY_PRODUCER_ID=producer-" + queueID, "KAFKA_TOPIC=btc-trades", "K8S_NAMESPACE=streamforge",
		"METRICS_ADDR=127.0.0.1:0", "KAFKA_CONNECT_TIMEOUT=10s",
	}, c.Env...)
}

// replaceEnv returns env with key set to value.
func replaceEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// startService runs dummy-service and waits for its metrics address.
func startService(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, "dummy-service", env, args...)
	l := p.waitLog(t, "metrics server listening", 20*time.Second)
	return p, l["addr"].(string)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
