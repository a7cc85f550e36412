package loader_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/topics"
)

// oneDestination serves a single SQLite destination.
type oneDestination struct {
	cfg destination.Config
	mu  sync.Mutex
	db  *sqlite.DB
}

func (o *oneDestination) Lookup(id string) (destination.Config, bool) { return o.cfg, id == o.cfg.ID }

func (o *oneDestination) Open(ctx context.Context, _ string) (destination.Destination, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		db, err := sqlite.New(ctx, o.cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		o.db = db
	}
	return o.db, nil
}

// A row the destination rejects is isolated from its batch, retried the
// configured number of times through the retry topic, then dead-lettered
// with its reason; the other rows load and nothing is lost.
func TestBadRowIsRetriedThenDeadLettered(t *testing.T) {
	k := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	client, err := kafka.Connect(ctx, k.Kafka, log)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	path := filepath.Join(t.TempDir(), "lite.db")
	dests := &oneDestination{cfg: destination.Config{ID: "lite", Type: "sqlite",
		Options: destination.Options{Mode: destination.ModeBatch}, Credentials: destination.Credentials{Database: path}}}
	topic, _ := topics.Incoming("", topics.Name{Destination: "lite", Mode: "batch", Table: "items"})
	for _, v := range []string{`{"id":1}`, `{"id":2,"__sql_type_x":"no such type;","x":1}`, `{"id":3}`, `not json`, `{}`} {
		if err := client.Produce(ctx, topic, nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	events := eventslog.NewMemory(100)
	m := loader.NewManager(loader.Config{
		BatchSize: 100, Period: 200 * time.Millisecond, Discover: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		Retry:        loader.RetryPolicy{Attempts: 2, Base: 1, MaxDelay: 1, Unit: 100 * time.Millisecond},
		EventsLogMax: 100,
	}, loader.Deps{
		Destinations: dests,
		Admin:        client,
		NewConsumer: func(ctx context.Context, group, topic string) (loader.Consumer, error) {
			return kafka.NewConsumer(ctx, k.Kafka, log, kafka.ConsumerOptions{Group: group, Topics: []string{topic}, MaxWait: 100 * time.Millisecond})
		},
		Producer: client,
		Events:   events,
		Log:      log,
		Metrics:  loader.NewMetrics(prometheus.NewRegistry()),
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, "good rows loaded", func() bool {
		var n int
		return db.QueryRow("SELECT COUNT(*) FROM items WHERE id IN (1, 3)").Scan(&n) == nil && n == 2
	})
	var dead []kafka.Record
	waitFor(t, "the bad row, the invalid JSON and the empty event dead-lettered", func() bool {
		dead, err = kafka.ReadAll(ctx, k.Kafka, log, topics.Dead(""), 0)
		return err == nil && len(dead) == 3
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	byValue := map[string]kafka.Record{}
	for _, r := range dead {
		byValue[string(r.Value)] = r
	}
	bad := byValue[`{"id":2,"__sql_type_x":"no such type;","x":1}`]
	if bad.Header(topics.HeaderAttempt) != "3" || bad.Header(topics.HeaderRetryTopic) != topic || bad.Header(topics.HeaderError) == "" {
		t.Errorf("bad row: attempts %q, topic %q, error %q; want 3 attempts, its topic and an error", bad.Header(topics.HeaderAttempt), bad.Header(topics.HeaderRetryTopic), bad.Header(topics.HeaderError))
	}
	if invalid := byValue["not json"]; invalid.Header(topics.HeaderAttempt) != "1" || !strings.Contains(invalid.Header(topics.HeaderError), "pars") {
		t.Errorf("invalid JSON must be dead at once with its reason: attempts %q, error %q", invalid.Header(topics.HeaderAttempt), invalid.Header(topics.HeaderError))
	}
	if empty := byValue["{}"]; !strings.Contains(empty.Header(topics.HeaderError), "no fields") {
		t.Errorf("empty event error = %q, want a reason", empty.Header(topics.HeaderError))
	}
	retried, err := kafka.ReadAll(ctx, k.Kafka, log, topics.Retry(""), 0)
	if err != nil || len(retried) != 2 {
		t.Errorf("retry topic holds %d records (%v), want the 2 retries of the bad row", len(retried), err)
	}
	list, _ := events.List(ctx, eventslog.Filter{Statuses: []eventslog.Status{eventslog.Dead}})
	if len(list) != 3 {
		t.Errorf("events log has %d dead entries, want 3", len(list))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	p := loader.RetryPolicy{Attempts: 5, Base: 5, MaxDelay: 1440, Unit: time.Minute}
	for n, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 25 * time.Minute, 3: 125 * time.Minute, 5: 1440 * time.Minute} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %s, want %s", n, got, want)
		}
	}
}
