package loader

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// fakeConsumer hands out recs once, then waits; it records commits.
type fakeConsumer struct {
	mu        sync.Mutex
	recs      []kafka.Record
	committed []kafka.Record
}

func (c *fakeConsumer) Poll(ctx context.Context, _ int) ([]kafka.Record, error) {
	c.mu.Lock()
	recs := c.recs
	c.recs = nil
	c.mu.Unlock()
	if len(recs) > 0 {
		return recs, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (c *fakeConsumer) Commit(_ context.Context, recs []kafka.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = append(c.committed, recs...)
	return nil
}

func (c *fakeConsumer) Close() {}

func (c *fakeConsumer) commits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.committed)
}

// flakyProducer fails its first failures calls, then records what it gets.
type flakyProducer struct {
	mu       sync.Mutex
	failures int
	got      []kafka.Record
}

func (p *flakyProducer) ProduceSync(_ context.Context, recs ...kafka.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures > 0 {
		p.failures--
		return errors.New("broker hiccup")
	}
	p.got = append(p.got, recs...)
	return nil
}

// A failed write to the dead-letter topic is retried like an outage: the
// worker neither drops the event nor stops loading.
func TestDeadLetterWriteIsRetried(t *testing.T) {
	c := &fakeConsumer{recs: []kafka.Record{{Topic: "in.id.d.m.stream.t.t", Offset: 7, Value: []byte("not json")}}}
	p := &flakyProducer{failures: 1}
	w := &worker{
		cfg: workerConfig{Topic: "in.id.d.m.stream.t.t", Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
			Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.ModeStream}}, BatchSize: 10, Period: time.Second},
		consumer: c,
		producer: p,
		open:     func(context.Context) (destination.Destination, error) { return nil, errors.New("not needed") },
		log:      slog.New(slog.DiscardHandler),
		metrics:  NewMetrics(prometheus.NewRegistry()),
		now:      time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx, time.Second) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.commits() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the record was never committed after its dead-letter write was retried")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) != 1 || p.got[0].Topic != topics.Dead("") || string(p.got[0].Value) != "not json" {
		t.Fatalf("dead-letter topic got %+v", p.got)
	}
}

// A shutdown does not wait out the backoff of a destination that is down:
// the batch is left uncommitted in Kafka at once, not after the grace.
func TestShutdownDuringOutageLeavesTheBatchInKafka(t *testing.T) {
	c := &fakeConsumer{recs: []kafka.Record{{Topic: "in.id.d.m.stream.t.t", Offset: 3, Value: []byte(`{"a":1}`)}}}
	attempts := make(chan struct{}, 10)
	w := &worker{
		cfg: workerConfig{Topic: "in.id.d.m.stream.t.t", Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
			Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.ModeStream}}, BatchSize: 10, Period: time.Second},
		consumer: c,
		producer: &flakyProducer{},
		open: func(context.Context) (destination.Destination, error) {
			attempts <- struct{}{}
			return nil, errors.New("connection refused")
		},
		log:     slog.New(slog.DiscardHandler),
		metrics: NewMetrics(prometheus.NewRegistry()),
		now:     time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	const grace = time.Minute
	go func() { done <- w.run(ctx, grace) }()
	select {
	case <-attempts:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker never tried to load")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(grace / 2):
		t.Fatal("run waited for the grace period while the destination was down")
	}
	if n := c.commits(); n != 0 {
		t.Fatalf("%d records committed, want none: the batch was not loaded", n)
	}
}

// Rows the reader built against a table shape that has changed since are
// built again against the new shape before they load: here the table was
// re-created outside bulker without a column the rows carry.
func TestRowsBuiltAgainstAnOlderShapeAreRebuilt(t *testing.T) {
	ctx := context.Background()
	dest := destination.Config{ID: "lite", Type: "sqlite", Options: destination.Options{Mode: destination.ModeBatch},
		Credentials: destination.Credentials{Database: filepath.Join(t.TempDir(), "lite.db")}}
	db, err := sqlite.New(ctx, dest, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := &worker{
		cfg:     workerConfig{Name: topics.Name{Destination: "lite", Mode: "batch", Table: "items"}, Dest: dest, BatchSize: 10, Period: time.Second},
		log:     slog.New(slog.DiscardHandler),
		metrics: NewMetrics(prometheus.NewRegistry()),
		now:     time.Now,
	}
	batchOf := func(raw string) *batch {
		b, err := w.parse(ctx, ctx, []kafka.Record{{Value: []byte(raw)}})
		if err != nil || len(b.items) != 1 {
			t.Fatalf("parse %s: %v", raw, err)
		}
		return b
	}
	first := batchOf(`{"id":1,"v":"a"}`)
	if err := w.storeOnce(ctx, db, first.items, first.rows); err != nil {
		t.Fatal(err)
	}
	next := batchOf(`{"id":2,"v":"b"}`)
	w.prebuild(next)
	if next.rows == nil {
		t.Fatal("the reader did not build the rows of a batch that fits the table")
	}
	if _, err := db.SQL().Exec(`DROP TABLE items; CREATE TABLE items (id INTEGER, x TEXT)`); err != nil {
		t.Fatal(err)
	}
	w.table.forget() // as after the failed load that finds the table changed
	if err := w.storeOnce(ctx, db, next.items, next.rows); err != nil {
		t.Fatalf("load after the table changed: %v", err)
	}
	var v string
	if err := db.SQL().QueryRow(`SELECT v FROM items WHERE id = 2`).Scan(&v); err != nil || v != "b" {
		t.Fatalf("row 2: v = %q, %v", v, err)
	}
}
