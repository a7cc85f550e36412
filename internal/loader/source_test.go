package loader_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/topics"
	"github.com/streamforge/streamforge/internal/wait"
)

func TestSourceValidate(t *testing.T) {
	ok := loader.Source{ID: "q", Topic: "queue-events", Destination: "pg", Table: "queue_events"}
	tests := []struct {
		name string
		edit func(*loader.Source)
		err  string
	}{
		{"valid", func(*loader.Source) {}, ""},
		{"stream", func(s *loader.Source) { s.Mode = "stream" }, ""},
		{"no id", func(s *loader.Source) { s.ID = "" }, "id is empty"},
		{"no topic", func(s *loader.Source) { s.Topic = "" }, "not a Kafka topic name"},
		{"bad topic", func(s *loader.Source) { s.Topic = "a b" }, "not a Kafka topic name"},
		{"no destination", func(s *loader.Source) { s.Destination = "" }, "destination is empty"},
		{"no table", func(s *loader.Source) { s.Table = "" }, "table is empty"},
		{"bad mode", func(s *loader.Source) { s.Mode = "sometimes" }, `mode "sometimes"`},
		{"incoming topic", func(s *loader.Source) { s.Topic = "p.in.id.pg.m.batch.t.x" }, "one of bulker's own"},
		{"dead-letter topic", func(s *loader.Source) { s.Topic = "p.destination-messages-dead-letter" }, "one of bulker's own"},
		{"retry topic", func(s *loader.Source) { s.Topic = "p.destination-messages-retry" }, "one of bulker's own"},
		{"table too long", func(s *loader.Source) { s.Table = strings.Repeat("é", 200) }, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			err := s.Validate("p.")
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
}

type sourceList []loader.Source

func (l sourceList) Sources() []loader.Source { return l }

// A source's record the destination rejects is retried through the
// incoming topic of the source's table, never written back to the source's
// topic, which others may read; then it is dead-lettered as a /post event.
func TestSourceRejectsReturnThroughIncomingTopic(t *testing.T) {
	k := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	client := k.Client(t)
	path, db, dests := checkedItems(t, log)
	if err := dests.Set([]destination.Config{{ID: "lite", Type: "sqlite", Credentials: destination.Credentials{Database: path}}}); err != nil {
		t.Fatal(err)
	}
	const source = "external"
	for _, v := range []string{`{"id":1}`, `{"id":2,"x":1000}`, `{"id":3}`} {
		if err := client.Produce(ctx, source, nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	metrics, err := loader.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var ensured []string
	m := loader.NewManager(loader.Config{
		BatchSize: 100, BatchPeriod: 200 * time.Millisecond, Discover: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		Retry:        loader.RetryPolicy{Attempts: 1, Base: 1, MaxDelay: 1, Unit: 100 * time.Millisecond},
		EventsLogMax: 100,
	}, loader.Deps{
		Destinations: dests,
		Admin:        client,
		NewConsumer: func(ctx context.Context, o kafka.ConsumerOptions) (loader.Consumer, error) {
			o.MaxWait = 100 * time.Millisecond
			return kafka.NewConsumer(ctx, k.Kafka, log, o)
		},
		Producer: client,
		Log:      log,
		Metrics:  metrics,
		Sources:  sourceList{{ID: "ext", Topic: source, Destination: "lite", Table: "items", Mode: destination.Stream}},
		EnsureTopic: func(ctx context.Context, topic string) error {
			ensured = append(ensured, topic)
			return client.EnsureTopic(ctx, kafka.TopicSpec{Name: topic})
		},
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	incoming, _ := topics.Incoming("", topics.Name{Destination: "lite", Mode: destination.Stream, Table: "items"})
	var dead []kafka.Record
	wait.For(t, 30*time.Second, "the rejected record dead-lettered after its retry", func() bool {
		dead, err = kafka.ReadAll(ctx, k.Kafka, log, topics.Dead(""), 0)
		return err == nil && len(dead) == 1
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(ensured) == 0 || ensured[0] != incoming {
		t.Errorf("topics ensured %v, want the table's incoming topic %s", ensured, incoming)
	}
	if got := dead[0].Header(topics.HeaderRetryTopic); got != incoming || dead[0].Header(topics.HeaderAttempt) != "2" || string(dead[0].Value) != `{"id":2,"x":1000}` {
		t.Errorf("dead record %s: topic %q, attempts %q; want %s after 2 attempts", dead[0].Value, got, dead[0].Header(topics.HeaderAttempt), incoming)
	}
	if recs, err := kafka.ReadAll(ctx, k.Kafka, log, source, 0); err != nil || len(recs) != 3 {
		t.Errorf("source topic holds %d records (%v), want its 3: bulker must not write to it", len(recs), err)
	}
	if recs, err := kafka.ReadAll(ctx, k.Kafka, log, incoming, 0); err != nil || len(recs) != 1 {
		t.Errorf("incoming topic holds %d records (%v), want the one retry", len(recs), err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM items WHERE id IN (1, 3)").Scan(&n); err != nil || n != 2 {
		t.Errorf("good rows: %d (%v), want 2", n, err)
	}
}
