package loader

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
	"github.com/streamforge/streamforge/internal/wait"
)

// Jitsu's retryFrequency: a rejected event goes back at the first retry run
// after its backoff.
func TestNextRun(t *testing.T) {
	at := time.Date(2024, 5, 17, 12, 7, 30, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		t      time.Time
		period time.Duration
		want   time.Time
	}{
		{"no runs", at, 0, at},
		{"rounded up to the next run", at, 5 * time.Minute, time.Date(2024, 5, 17, 12, 10, 0, 0, time.UTC)},
		{"on a run already", time.Date(2024, 5, 17, 12, 10, 0, 0, time.UTC), 5 * time.Minute, time.Date(2024, 5, 17, 12, 10, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextRun(tt.t, tt.period); !got.Equal(tt.want) {
				t.Errorf("nextRun(%s, %s) = %s, want %s", tt.t, tt.period, got, tt.want)
			}
		})
	}
}

// Jitsu's retryBatchSize: one retry run moves at most that many events of a
// destination back to their topics; the others go back on the retry topic
// for the next run, their attempts unchanged. Another destination's events
// are not held back. Events long past due (a backlog) count in the current
// run, whatever run they were due in.
func TestRetryRunMovesAtMostItsBatchSize(t *testing.T) {
	now := time.Date(2024, 5, 17, 12, 10, 0, 0, time.UTC)
	rec := func(dest string, late time.Duration) kafka.Record {
		f := topics.Failure{Destination: dest, Table: "t", Topic: "in.id." + dest + ".m.batch.t.t", Attempt: 1, Error: "e", RetryAfter: now.Add(-late)}
		return kafka.Record{Topic: "destination-messages-retry", Value: []byte(`{"a":1}`), Headers: f.Headers()}
	}
	c := &fakeConsumer{recs: []kafka.Record{rec("capped", time.Hour), rec("capped", 30*time.Minute), rec("free", 0), rec("capped", 0), rec("free", time.Hour)}}
	p := &flakyProducer{}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q := &requeuer{consumer: c, producer: p, log: slog.New(slog.DiscardHandler), metrics: m,
		now: func() time.Time { return now }, retryTopic: "destination-messages-retry",
		runs: func(dest string) (int, time.Duration) {
			if dest == "capped" {
				return 2, 5 * time.Minute
			}
			return 0, 0
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.run(ctx) }()
	wait.For(t, 5*time.Second, "every record committed", func() bool { return c.commits() == 5 })
	cancel()
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	var back, postponed int
	for _, r := range p.got {
		f := topics.ParseFailure(r)
		switch r.Topic {
		case "in.id.capped.m.batch.t.t", "in.id.free.m.batch.t.t":
			back++
		case "destination-messages-retry":
			postponed++
			if f.Destination != "capped" || f.Attempt != 1 || !f.RetryAfter.Equal(now.Add(5*time.Minute)) {
				t.Errorf("postponed %+v, want the capped destination's event at the next run, attempt 1", f)
			}
		default:
			t.Errorf("record produced to %s", r.Topic)
		}
	}
	if back != 4 || postponed != 1 {
		t.Errorf("%d moved back, %d postponed; want 4 (2 capped, 2 free) and 1", back, postponed)
	}
}
