package loader

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/sink"
	"github.com/streamforge/streamforge/internal/topics"
	"github.com/streamforge/streamforge/internal/wait"
)

// fakeConsumer hands out recs once, then waits; it records commits.
type fakeConsumer struct {
	mu        sync.Mutex
	recs      []kafka.Record
	committed []kafka.Record
}

func (c *fakeConsumer) PollAppend(ctx context.Context, dst []kafka.Record, _ int) ([]kafka.Record, error) {
	c.mu.Lock()
	recs := c.recs
	c.recs = nil
	c.mu.Unlock()
	if len(recs) > 0 {
		return append(dst, recs...), nil
	}
	<-ctx.Done()
	return dst, ctx.Err()
}

func (c *fakeConsumer) Commit(_ context.Context, recs []kafka.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = append(c.committed, recs...)
	return nil
}

func (c *fakeConsumer) Owns(kafka.Record) bool { return true }
func (c *fakeConsumer) Close()                 {}

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
	w := tableless(t, workerConfig{Topic: "in.id.d.m.stream.t.t", Requeue: "in.id.d.m.stream.t.t", Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
		Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Stream}}, BatchSize: 10, Period: time.Second}, c, p)
	runUntilCommitted(t, w, c, "the record committed after its dead-letter write was retried")
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
		cfg: workerConfig{Topic: "in.id.d.m.stream.t.t", Requeue: "in.id.d.m.stream.t.t", Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
			Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Stream}}, BatchSize: 10, Period: time.Second},
		consumer: c,
		producer: &flakyProducer{},
		table: func() (*sink.Table, error) {
			attempts <- struct{}{}
			return nil, errors.New("connection refused")
		},
		log:     slog.New(slog.DiscardHandler),
		metrics: mustMetrics(t),
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

func mustMetrics(t testing.TB) *Metrics {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// onePerPoll hands out its records one per poll, then waits.
type onePerPoll struct{ recs []kafka.Record }

func (c *onePerPoll) PollAppend(ctx context.Context, dst []kafka.Record, _ int) ([]kafka.Record, error) {
	if len(c.recs) == 0 {
		<-ctx.Done()
		return dst, ctx.Err()
	}
	r := c.recs[0]
	c.recs = c.recs[1:]
	return append(dst, r), nil
}
func (c *onePerPoll) Commit(context.Context, []kafka.Record) error { return nil }
func (c *onePerPoll) Owns(kafka.Record) bool                       { return true }
func (c *onePerPoll) Close()                                       {}

// batchSizeBytes closes a batch once its events reach that size, long
// before its count or period would.
func TestBatchSizeBytes(t *testing.T) {
	c := &onePerPoll{}
	for range 7 {
		c.recs = append(c.recs, kafka.Record{Value: make([]byte, 100)})
	}
	w := &worker{
		cfg: workerConfig{BatchSize: 1000, Period: time.Hour,
			Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Batch, BatchSizeBytes: 250}}},
		consumer: c, log: slog.New(slog.DiscardHandler), now: time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []kafka.Record)
	done := make(chan struct{})
	go func() { w.pollAll(ctx, out); close(done) }()
	for i := range 2 {
		select {
		case b := <-out:
			if len(b) != 3 {
				t.Errorf("batch %d has %d records of 100 bytes, want 3 (250 bytes reached)", i, len(b))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no batch closed by size")
		}
	}
	cancel()
	for {
		select {
		case <-out: // the batch in hand at shutdown, if the last poll came first
		case <-done:
			return
		}
	}
}

// The topic's mode decides, not the destination's: an event of a batch
// destination sent to its stream topic (Jitsu's modeOverride=stream) is
// handled at once, not at the end of the batch period.
func TestStreamTopicOfBatchDestinationStreams(t *testing.T) {
	c := &fakeConsumer{recs: []kafka.Record{{Topic: "in.id.d.m.stream.t.t", Offset: 1, Value: []byte("not json")}}}
	p := &flakyProducer{}
	w := tableless(t, workerConfig{Topic: "in.id.d.m.stream.t.t", Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
		Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Batch}}, BatchSize: 10, Period: time.Hour}, c, p)
	runUntilCommitted(t, w, c, "the record handled before the hour-long batch period")
}

// tableless is a worker for records that never reach a table (not JSON):
// each goes to retry or dead through p.
func tableless(t testing.TB, cfg workerConfig, c Consumer, p *flakyProducer) *worker {
	return &worker{
		cfg:      cfg,
		consumer: c,
		producer: p,
		table:    func() (*sink.Table, error) { return nil, errors.New("not needed") },
		log:      slog.New(slog.DiscardHandler),
		metrics:  mustMetrics(t),
		now:      time.Now,
	}
}

// runUntilCommitted runs w until c has committed, then stops it.
func runUntilCommitted(t *testing.T, w *worker, c *fakeConsumer, what string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx, time.Second) }()
	wait.For(t, 10*time.Second, what, func() bool { return c.commits() > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// scripted answers each poll with the next of its answers, then waits.
type scripted struct {
	answers []func() ([]kafka.Record, error)
}

func (c *scripted) PollAppend(ctx context.Context, dst []kafka.Record, _ int) ([]kafka.Record, error) {
	if len(c.answers) == 0 {
		<-ctx.Done()
		return dst, ctx.Err()
	}
	a := c.answers[0]
	c.answers = c.answers[1:]
	recs, err := a()
	if err != nil {
		return dst, err
	}
	return append(dst, recs...), nil
}
func (c *scripted) Commit(context.Context, []kafka.Record) error { return nil }
func (c *scripted) Owns(kafka.Record) bool                       { return true }
func (c *scripted) Close()                                       {}

// When a rebalance begins to take partitions away, the batch in hand is
// handed on at once, not at the end of its period: the rebalance waits for
// it to be loaded and committed.
func TestRevokeHandsTheBatchInHandOn(t *testing.T) {
	recs := func() ([]kafka.Record, error) {
		return []kafka.Record{{Value: []byte(`{"a":1}`)}, {Value: []byte(`{"a":2}`)}}, nil
	}
	c := &scripted{answers: []func() ([]kafka.Record, error){recs, func() ([]kafka.Record, error) { return nil, kafka.ErrRevoked }}}
	w := &worker{
		cfg:      workerConfig{BatchSize: 1000, Period: time.Hour, Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Batch}}},
		consumer: c, log: slog.New(slog.DiscardHandler), now: time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []kafka.Record)
	done := make(chan struct{})
	go func() { w.pollAll(ctx, out); close(done) }()
	select {
	case b := <-out:
		if len(b) != 2 {
			t.Errorf("batch of %d records, want the 2 in hand", len(b))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the batch in hand was kept through the revoke")
	}
	cancel()
	<-done
}

// handedOff is a fakeConsumer that no longer owns any partition.
type handedOff struct{ fakeConsumer }

func (c *handedOff) Owns(kafka.Record) bool { return false }

// A retry record whose partition went to another member while it waited
// for its time is left to that member: re-queuing it here too would load
// the event twice.
func TestRequeuerLeavesRecordsOfPartitionsItLost(t *testing.T) {
	rec := kafka.Record{Topic: topics.Retry(""), Value: []byte(`{"a":1}`),
		Headers: topics.Failure{Topic: "in.id.d.m.batch.t.t", Attempt: 1, RetryAfter: time.Now().Add(-time.Second)}.Headers()}
	tests := []struct {
		name     string
		consumer interface {
			Consumer
			commits() int
		}
		requeued int
	}{
		{"owned", &fakeConsumer{recs: []kafka.Record{rec}}, 1},
		{"handed off", &handedOff{fakeConsumer{recs: []kafka.Record{rec}}}, 0},
	}
	for _, tt := range tests {
		p := &flakyProducer{}
		q := &requeuer{consumer: tt.consumer, producer: p, log: slog.New(slog.DiscardHandler), metrics: mustMetrics(t), now: time.Now, deadTopic: topics.Dead("")}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- q.run(ctx) }()
		if tt.requeued > 0 {
			wait.For(t, 5*time.Second, tt.name+": re-queued", func() bool { return tt.consumer.commits() > 0 })
		} else {
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		got := len(p.got)
		p.mu.Unlock()
		if got != tt.requeued || tt.consumer.commits() != tt.requeued {
			t.Errorf("%s: %d re-queued, %d committed; want %d of each", tt.name, got, tt.consumer.commits(), tt.requeued)
		}
	}
}

// ownsPartition0 is a fakeConsumer left with partition 0 only.
type ownsPartition0 struct{ fakeConsumer }

func (c *ownsPartition0) Owns(r kafka.Record) bool { return r.Partition == 0 }

// A batch whose partitions were handed over before it loaded (the
// rebalance waited for it in vain) keeps only the records still owned:
// the new owner loads the others, so loading them here too would load
// them twice.
func TestBatchLeavesRecordsOfPartitionsHandedOver(t *testing.T) {
	w := &worker{consumer: &ownsPartition0{}, log: slog.New(slog.DiscardHandler)}
	recs := []kafka.Record{{Partition: 0, Offset: 1}, {Partition: 1, Offset: 1}, {Partition: 0, Offset: 2}, {Partition: 1, Offset: 2}}
	b := &batch{recs: recs, rows: &sink.Rows{}}
	for i := range recs {
		b.items = append(b.items, item{rec: &recs[i]})
	}
	w.dropLost(b)
	if len(b.recs) != 2 || b.recs[0].Offset != 1 || b.recs[1].Offset != 2 || b.recs[1].Partition != 0 {
		t.Errorf("records kept %+v, want partition 0's two", b.recs)
	}
	if len(b.items) != 2 || b.items[0].rec.Offset != 1 || b.items[1].rec.Offset != 2 || b.items[1].rec.Partition != 0 {
		t.Errorf("items kept %d, want partition 0's two, each pointing at its record", len(b.items))
	}
	if b.rows != nil {
		t.Error("rows built for the whole batch kept")
	}
}

// gatedCommits hands out its records one per poll and holds every commit
// until release is closed, noting the offsets committed in order.
type gatedCommits struct {
	onePerPoll
	release chan struct{}
	mu      sync.Mutex
	order   []int64
}

func (c *gatedCommits) Commit(_ context.Context, recs []kafka.Record) error {
	<-c.release
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		c.order = append(c.order, r.Offset)
	}
	return nil
}

// A batch's offsets are committed while the next batch loads, in order,
// and a worker that stops waits for the commits of what it loaded.
func TestCommitOverlapsTheNextLoad(t *testing.T) {
	topic := "in.id.d.m.stream.t.t"
	c := &gatedCommits{release: make(chan struct{})}
	for off := range int64(3) {
		c.recs = append(c.recs, kafka.Record{Topic: topic, Offset: off, Value: []byte("not json")})
	}
	p := &flakyProducer{}
	w := tableless(t, workerConfig{Topic: topic, Requeue: topic, Name: topics.Name{Destination: "d", Mode: "stream", Table: "t"},
		Dest: destination.Config{ID: "d", Options: destination.Options{Mode: destination.Stream}}, BatchSize: 10, Period: time.Second}, c, p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx, time.Minute) }()
	// The first commit is held; the batches after it are still dead-lettered.
	wait.For(t, 10*time.Second, "every batch handled while the first commit is held", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.got) == 3
	})
	cancel()
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) before the loaded batches were committed", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(c.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1, 2}; !slices.Equal(c.order, want) {
		t.Fatalf("committed offsets %v, want %v", c.order, want)
	}
}
