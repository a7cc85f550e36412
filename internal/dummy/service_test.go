package dummy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/dummy"
	"github.com/streamforge/streamforge/internal/kafka"
)

// fakeBus stands in for Kafka: commands go in through send, events come
// out on events, and commits are recorded.
type fakeBus struct {
	cmds   chan kafka.Record
	events chan control.Event

	mu        sync.Mutex
	committed int64 // highest committed offset + 1
	offset    int64
	// commitsAtTerminal is the commit count when a terminal event was
	// published.
	commitsAtTerminal int64
}

func newBus() *fakeBus {
	return &fakeBus{cmds: make(chan kafka.Record, 100), events: make(chan control.Event, 100)}
}

func (b *fakeBus) Produce(_ context.Context, _ string, _, value []byte, _ []kafka.Header) error {
	ev, err := control.DecodeEvent(value)
	if err != nil {
		return err
	}
	if control.IsTerminal(ev.Event) {
		b.mu.Lock()
		b.commitsAtTerminal = b.committed
		b.mu.Unlock()
	}
	b.events <- ev
	return nil
}

func (b *fakeBus) Poll(ctx context.Context, _ int) ([]kafka.Record, error) {
	select {
	case r := <-b.cmds:
		return []kafka.Record{r}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *fakeBus) Commit(_ context.Context, recs []kafka.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range recs {
		b.committed = max(b.committed, r.Offset+1)
	}
	return nil
}

func (b *fakeBus) send(v string) {
	b.mu.Lock()
	off := b.offset
	b.offset++
	b.mu.Unlock()
	b.cmds <- kafka.Record{Offset: off, Value: []byte(v)}
}

func (b *fakeBus) next(t *testing.T) control.Event {
	t.Helper()
	select {
	case ev := <-b.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return control.Event{}
	}
}

func (b *fakeBus) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-b.events:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

type run struct {
	bus  *fakeBus
	reg  *prometheus.Registry
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, cfg dummy.Config, noop bool) *run {
	t.Helper()
	r := &run{bus: newBus(), reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	var cmds dummy.CommandReader
	if !noop {
		cmds = r.bus
	}
	svc := dummy.New(cfg, r.bus, cmds, slog.New(slog.NewTextHandler(io.Discard, nil)), mustMetrics(t, r.reg))
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(cancel)
	if ev := r.bus.next(t); ev.Event != control.EventStarted {
		t.Fatalf("first event %q, want started", ev.Event)
	}
	return r
}

func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
		return nil
	}
}

func (r *run) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if match {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}

func ping(queueID string, ts float64) string {
	b, _ := json.Marshal(control.Command{QueueID: queueID, Command: control.CmdPing, SentAt: &ts})
	return string(b)
}

func TestPingPongThenStop(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1", Symbol: "BTCUSDT", ProducerID: "p1"}, false)
	r.bus.send(ping("q2", 1))
	r.bus.send(ping("q1", 1718000000.123))
	pong := r.bus.next(t)
	if pong.Event != control.EventPong || pong.PingTS == nil || *pong.PingTS != 1718000000.123 ||
		pong.QueueID != "q1" || pong.Symbol != "BTCUSDT" || pong.Producer != "p1" || pong.PongedAt == 0 {
		t.Fatalf("pong %+v", pong)
	}
	// Pings are answered first and committed right after.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.bus.mu.Lock()
		committed := r.bus.committed
		r.bus.mu.Unlock()
		if committed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pings committed up to %d, want 2", committed)
		}
	}
	r.bus.send(ping("*", 2))
	if ev := r.bus.next(t); ev.Event != control.EventPong || *ev.PingTS != 2 {
		t.Fatalf("wildcard: %+v", ev)
	}
	r.bus.send(`{"queue_id":"q1","command":"stop"}`)
	if ev := r.bus.next(t); ev.Event != control.EventInterrupted || ev.Status != control.EventInterrupted || ev.Finished {
		t.Fatalf("terminal %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	r.bus.none(t)
	r.bus.mu.Lock()
	if r.bus.commitsAtTerminal != 4 {
		t.Errorf("offset committed when interrupted was published = %d, want 4 (the stop's)", r.bus.commitsAtTerminal)
	}
	r.bus.mu.Unlock()
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"dummy_pings_total", "", "", 2},
		{"dummy_pongs_total", "", "", 2},
		{"dummy_events_total", "event", "pong", 2},
		{"dummy_events_total", "event", "started", 1},
		{"dummy_events_total", "event", "interrupted", 1},
		{"dummy_events_total", "event", "finished", 0},
		{"dummy_status_last", "status", "interrupted", 1},
		{"dummy_status_last", "status", "started", 0},
		{"dummy_errors_total", "", "", 0},
	} {
		if got := r.metric(t, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
}

func TestMalformedCommandsAreCountedAndSkipped(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1"}, false)
	for _, bad := range []string{
		`not json`, `{"queue_id":"q1"}`, `{"queue_id":"q1","command":42}`, `{"queue_id":"q1","command":"dance"}`,
		`{"queue_id":"q1","command":"fail-after"}`, `{"queue_id":"q2","command":"dance"}`, `{"queue_id":"q2","command":7}`,
	} {
		r.bus.send(bad)
	}
	r.bus.send(ping("q1", 5))
	if ev := r.bus.next(t); ev.Event != control.EventPong || *ev.PingTS != 5 {
		t.Fatalf("after malformed commands: %+v", ev)
	}
	for reason, want := range map[string]float64{"invalid_json": 1, "missing_field": 1, "wrong_type": 1, "unknown_command": 1, "bad_payload": 1} {
		if got := r.metric(t, "dummy_malformed_commands_total", "reason", reason); got != want {
			t.Errorf("malformed{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	r.stop()
	if ev := r.bus.next(t); ev.Event != control.EventFinished || !ev.Finished {
		t.Fatalf("after cancel: %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

// The ping delay is ponged_at − sent_at of each pong; a ping from a clock
// ahead of the service's is answered but not observed.
func TestPingDelayIsObserved(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1"}, false)
	sent := control.UnixSeconds(time.Now().Add(-200 * time.Millisecond))
	r.bus.send(ping("q1", sent))
	pong := r.bus.next(t)
	r.bus.send(ping("q1", control.UnixSeconds(time.Now().Add(time.Hour))))
	if ev := r.bus.next(t); ev.Event != control.EventPong {
		t.Fatalf("ping from a clock ahead: %+v, want a pong", ev)
	}
	h := r.histogram(t, "dummy_ping_delay_seconds")
	if want := pong.PongedAt - sent; h.GetSampleCount() != 1 || h.GetSampleSum() != want {
		t.Errorf("ping delay: %d samples, sum %v; want 1 sample of %v (ponged_at − sent_at)", h.GetSampleCount(), h.GetSampleSum(), want)
	}
}

func (r *run) histogram(t *testing.T, name string) *dto.Histogram {
	t.Helper()
	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("histogram %s not found", name)
	return nil
}

func TestFailAfterCommand(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1"}, false)
	r.bus.send(`{"queue_id":"q1","command":"fail-after","payload":{"seconds":0.05}}`)
	ev := r.bus.next(t)
	if ev.Event != control.EventError || ev.ErrorMessage == "" {
		t.Fatalf("event %+v", ev)
	}
	if err := r.wait(t); !errors.Is(err, dummy.ErrFailed) {
		t.Fatalf("Run = %v, want ErrFailed", err)
	}
	if got := r.metric(t, "dummy_errors_total", "", ""); got != 1 {
		t.Errorf("errors = %v", got)
	}
	if got := r.metric(t, "dummy_status_last", "status", "error"); got != 1 {
		t.Errorf("status error = %v", got)
	}
}

func TestSimulateLoadingThenExitAfter(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1", SimulateLoading: true, LoadingInterval: 30 * time.Millisecond, ExitAfter: 200 * time.Millisecond, TimeRange: "2024-01-01:2024-01-02"}, false)
	var last int64
	for {
		ev := r.bus.next(t)
		if ev.Event == control.EventFinished {
			if ev.RecordsWritten != last || !ev.Finished || ev.TimeRange != "2024-01-01:2024-01-02" {
				t.Fatalf("finished %+v after %d records", ev, last)
			}
			break
		}
		if ev.Event != control.EventLoading || ev.RecordsWritten != last+100 {
			t.Fatalf("event %+v after %d records", ev, last)
		}
		last = ev.RecordsWritten
	}
	if last < 200 {
		t.Fatalf("only %d records before exit-after", last)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	r.bus.none(t)
}

func TestSimulateLoadingCommandAndExitOnPing(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1", ExitOnPing: true, LoadingInterval: 20 * time.Millisecond}, false)
	r.bus.send(`{"queue_id":"q1","command":"simulate-loading"}`)
	if ev := r.bus.next(t); ev.Event != control.EventLoading || ev.RecordsWritten != 100 {
		t.Fatalf("event %+v", ev)
	}
	r.bus.send(ping("q1", 9))
	for {
		ev := r.bus.next(t)
		if ev.Event == control.EventLoading {
			continue
		}
		if ev.Event != control.EventPong {
			t.Fatalf("want pong, got %+v", ev)
		}
		break
	}
	if ev := r.bus.next(t); ev.Event != control.EventFinished {
		t.Fatalf("want finished after the pong, got %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

func TestNoop(t *testing.T) {
	r := start(t, dummy.Config{QueueID: "q1"}, true)
	if ev := r.bus.next(t); ev.Event != control.EventFinished {
		t.Fatalf("noop: %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}

	r = start(t, dummy.Config{QueueID: "q1", ExitAfter: 50 * time.Millisecond}, true)
	r.bus.send(`{"queue_id":"q1","command":"stop"}`) // nobody reads it
	if ev := r.bus.next(t); ev.Event != control.EventFinished {
		t.Fatalf("noop with exit-after: %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

// flakyBus fails its first poll, as a broker that is briefly away.
type flakyBus struct {
	*fakeBus
	once sync.Once
}

func (f *flakyBus) Poll(ctx context.Context, n int) ([]kafka.Record, error) {
	var failed bool
	f.once.Do(func() { failed = true })
	if failed {
		return nil, errors.New("broker went away")
	}
	return f.fakeBus.Poll(ctx, n)
}

func TestReadFailureIsCountedAndRetried(t *testing.T) {
	bus := newBus()
	reg := prometheus.NewRegistry()
	svc := dummy.New(dummy.Config{QueueID: "q1"}, bus, &flakyBus{fakeBus: bus}, slog.New(slog.NewTextHandler(io.Discard, nil)), mustMetrics(t, reg))
	done := make(chan error, 1)
	go func() { done <- svc.Run(context.Background()) }()
	r := &run{bus: bus, reg: reg, done: done}
	if ev := bus.next(t); ev.Event != control.EventStarted {
		t.Fatalf("first event %+v", ev)
	}
	bus.send(`{"queue_id":"q1","command":"stop"}`)
	if ev := bus.next(t); ev.Event != control.EventInterrupted {
		t.Fatalf("after a failed read: %+v", ev)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := r.metric(t, "dummy_errors_total", "", ""); got != 1 {
		t.Fatalf("errors = %v, want 1", got)
	}
}

func mustMetrics(t testing.TB, reg prometheus.Registerer) *dummy.Metrics {
	t.Helper()
	m, err := dummy.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
