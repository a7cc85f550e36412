package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/probe"
)

// fakeService answers pings held back until release, in reverse order,
// skipping those drop selects. It stands in for Kafka plus a service.
type fakeService struct {
	mu      sync.Mutex
	held    []control.Command
	out     chan kafka.Record
	queueID string
	hold    int
	drop    func(seq int) bool
	seq     int
}

func (f *fakeService) Produce(_ context.Context, _ string, _, value []byte, _ []kafka.Header) error {
	c, err := control.DecodeCommand(value)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	if f.drop != nil && f.drop(f.seq) {
		return nil
	}
	f.held = append(f.held, c)
	if len(f.held) < f.hold {
		return nil
	}
	for i := len(f.held) - 1; i >= 0; i-- {
		// Noise first: a pong of another queue and one for an unknown ping.
		other := f.pong(f.held[i])
		other.QueueID = "someone-else"
		f.emit(other)
		f.emit(f.pong(f.held[i]))
	}
	f.held = nil
	return nil
}

func (f *fakeService) pong(c control.Command) control.Event {
	return control.Event{Event: control.EventPong, QueueID: f.queueID, PingTS: c.SentAt, PongedAt: *c.SentAt + 0.001, SentAt: *c.SentAt + 0.001}
}

func (f *fakeService) emit(ev control.Event) {
	b, _ := json.Marshal(ev)
	f.out <- kafka.Record{Value: b}
}

func (f *fakeService) Poll(ctx context.Context, _ int) ([]kafka.Record, error) {
	select {
	case r := <-f.out:
		return []kafka.Record{r, {Value: []byte("not json")}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPingMatchesOutOfOrderPongs(t *testing.T) {
	f := &fakeService{out: make(chan kafka.Record, 100), queueID: "q1", hold: 5}
	p := probe.New(f, f, "queue-control", discard())
	defer p.Close()

	var seen []int
	rs, err := p.Ping(context.Background(), probe.PingOptions{QueueID: "q1", Count: 5, Timeout: 5 * time.Second}, func(r probe.Result) {
		seen = append(seen, r.Seq)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{5, 4, 3, 2, 1}; !equal(seen, want) {
		t.Fatalf("reported order %v, want %v (answers as they come)", seen, want)
	}
	s := probe.Summarize(rs)
	if s.Sent != 5 || s.Answered != 5 || s.Lost != 0 {
		t.Fatalf("summary %+v", s)
	}
	for _, r := range rs {
		if !r.Answered || r.RTT <= 0 || r.QueueID != "q1" || (r.ServiceDelay-time.Millisecond).Abs() > 10*time.Microsecond {
			t.Fatalf("result %+v", r)
		}
	}
	if !(s.Min <= s.P50 && s.P50 <= s.P99 && s.P99 <= s.Max) {
		t.Fatalf("percentiles out of order: %+v", s)
	}
}

func TestPingCountsLostAfterTimeout(t *testing.T) {
	f := &fakeService{out: make(chan kafka.Record, 100), queueID: "q1", hold: 1, drop: func(seq int) bool { return seq == 2 }}
	p := probe.New(f, f, "queue-control", discard())
	defer p.Close()
	start := time.Now()
	rs, err := p.Ping(context.Background(), probe.PingOptions{QueueID: "q1", Count: 3, Interval: 10 * time.Millisecond, Timeout: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := probe.Summarize(rs); s.Answered != 2 || s.Lost != 1 || rs[1].Answered {
		t.Fatalf("summary %+v, results %+v", s, rs)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", el)
	}
	if got := probe.RTTs(rs); len(got) != 2 {
		t.Fatalf("RTTs = %v", got)
	}
}

func TestPingStopsWithContext(t *testing.T) {
	f := &fakeService{out: make(chan kafka.Record, 100), queueID: "q1", hold: 100}
	p := probe.New(f, f, "queue-control", discard())
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Ping(ctx, probe.PingOptions{QueueID: "q1", Count: 2, Timeout: time.Minute}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitTerminal(t *testing.T) {
	f := &fakeService{out: make(chan kafka.Record, 100), queueID: "q1"}
	p := probe.New(f, f, "queue-control", discard())
	defer p.Close()
	f.emit(control.Event{Event: control.EventLoading, QueueID: "q1"})
	f.emit(control.Event{Event: control.EventInterrupted, QueueID: "q2"})
	f.emit(control.Event{Event: control.EventInterrupted, QueueID: "q1", Message: "stopped by command"})
	ev, err := p.WaitTerminal(context.Background(), "q1", 5*time.Second)
	if err != nil || ev.QueueID != "q1" || ev.Event != control.EventInterrupted {
		t.Fatalf("got %+v, %v", ev, err)
	}
	if _, err := p.WaitTerminal(context.Background(), "q1", 50*time.Millisecond); !errors.Is(err, probe.ErrNoAnswer) {
		t.Fatalf("err = %v, want ErrNoAnswer", err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.5, 5 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := probe.Percentile(tt.in, tt.q); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
