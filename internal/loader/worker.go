// Package loader moves events from bulker's incoming Kafka topics into the
// destinations: one worker per topic reads a batch (or, in stream mode,
// whatever arrived), turns it into rows with the schema engine, loads it in
// one transaction and only then commits the Kafka offsets. A destination
// outage pauses the worker and retries with backoff; rows the destination
// rejects are isolated by bisecting the batch and sent to the retry topic,
// and after the configured attempts to the dead-letter topic, each with its
// reason. Nothing accepted is dropped.
package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/topics"
)

// Consumer reads one topic as a member of a consumer group.
type Consumer interface {
	Poll(ctx context.Context, max int) ([]kafka.Record, error)
	Commit(ctx context.Context, recs []kafka.Record) error
	Close()
}

// Producer writes records and returns after the broker acknowledged them.
type Producer interface {
	ProduceSync(ctx context.Context, recs ...kafka.Record) error
}

// DestinationOpener returns the open destination of a worker, opening it on
// first use; an error is an outage (wrong password, server down) and is
// retried with backoff.
type DestinationOpener func(ctx context.Context) (destination.Destination, error)

// workerConfig is what one worker needs to know.
type workerConfig struct {
	Topic     string
	Name      topics.Name
	Dest      destination.Config
	BatchSize int
	Period    time.Duration
	Retry     RetryPolicy
	Prefix    string
	// LogLimit is how many loaded events of a batch go to the events log.
	LogLimit int
}

type worker struct {
	cfg      workerConfig
	consumer Consumer
	producer Producer
	open     DestinationOpener
	log      *slog.Logger
	metrics  *Metrics
	events   EventsLog
	now      func() time.Time

	// parsers keep their scratch space from one poll to the next.
	parsers sync.Pool

	table tableCache
}

// tableCache holds the stored shape of the worker's table as the loader
// last saw it. It is forgotten after any load error, so that a table
// altered or dropped outside bulker is read again. The reader builds the
// next batch's rows against it while the loader loads; version changes
// with every update, so that rows built against an older shape are built
// again.
type tableCache struct {
	mu      sync.Mutex
	dialect schema.Dialect
	table   schema.Table
	exists  bool
	known   bool
	version uint64
}

// tableState is one reading of a tableCache.
type tableState struct {
	dialect       schema.Dialect
	table         schema.Table
	exists, known bool
	version       uint64
}

func (c *tableCache) get() tableState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return tableState{c.dialect, c.table, c.exists, c.known, c.version}
}

func (c *tableCache) set(d schema.Dialect, t schema.Table, exists bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialect, c.table, c.exists, c.known = d, t, exists, true
	c.version++
}

func (c *tableCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.known = false
	c.version++
}

type item struct {
	rec *kafka.Record // in its batch's recs
	ev  schema.Event  // dropped once the rows are built; see event
}

// event returns the parsed event, parsing the record again if it was
// dropped: a failed load, or rows built against a table shape that has
// changed since, need it twice.
func (it *item) event() schema.Event {
	if it.ev.Fields == nil {
		it.ev, _ = schema.Parse(it.rec.Value) // parsed fine before
	}
	return it.ev
}

func (w *worker) stream() bool { return w.cfg.Dest.Options.Mode == destination.ModeStream }

// batch is what one load commits: every record read, and the parsed events
// among them (records that cannot be parsed are dead-lettered by parse).
type batch struct {
	recs  []kafka.Record
	items []item
	rows  *builtRows // built by the reader; nil if the loader must build them
}

// builtRows are a batch's rows, built against the table at version.
type builtRows struct {
	version uint64
	want    schema.Table
	batch   schema.Batch
	notes   []schema.Note
}

// run consumes until ctx ends, in three stages that work at the same time:
// one goroutine polls the records of a batch, one parses them and builds
// the rows, one loads the batch before. The batches in hand when ctx ends
// are still loaded and committed if that takes no longer than grace; what
// fails then is not retried but left in Kafka.
func (w *worker) run(ctx context.Context, grace time.Duration) error {
	defer w.consumer.Close()
	loadCtx, cancel := graceful(ctx, grace)
	defer cancel()
	// A loader that stops on an error stops the reader too, so the worker
	// ends and the manager starts it again from the committed offsets.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	polled := make(chan []kafka.Record)
	batches := make(chan *batch)
	loaded := make(chan error, 1)
	go func() {
		err := w.loadAll(loadCtx, ctx, batches)
		stopReading()
		for range batches {
			// Not loaded, not committed: read again later.
		}
		loaded <- err
	}()
	go func() {
		w.parseAll(loadCtx, readCtx, polled, batches)
		close(batches)
	}()
	w.pollAll(readCtx, polled)
	close(polled)
	return <-loaded
}

// pollAll polls records into batches until ctx ends, then hands over the
// batch in hand; records of the poll that ctx ended are read again later.
func (w *worker) pollAll(ctx context.Context, out chan<- []kafka.Record) {
	var recs []kafka.Record // of the batch in hand
	var flushAt time.Time
	for {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if len(recs) > 0 {
			pollCtx, cancelPoll = context.WithDeadline(ctx, flushAt)
		}
		polled, err := w.consumer.Poll(pollCtx, w.cfg.BatchSize-len(recs))
		cancelPoll()
		if ctx.Err() != nil {
			if len(recs) > 0 {
				out <- recs
			}
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.log.Warn("polling kafka failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if len(recs) == 0 {
			if len(polled) == 0 {
				continue
			}
			flushAt = w.now().Add(w.cfg.Period)
		}
		switch {
		case len(recs) > 0:
			recs = append(recs, polled...)
		case w.stream():
			recs = polled
		default:
			// A batch grows to its size over many polls: one allocation
			// instead of a series of doublings.
			recs = append(make([]kafka.Record, 0, max(len(polled), min(w.cfg.BatchSize, maxPrealloc))), polled...)
		}
		if w.stream() || len(recs) >= w.cfg.BatchSize || !w.now().Before(flushAt) {
			out <- recs
			recs = nil
		}
	}
}

// parseAll makes batches of the polled records. A batch's records are
// parsed once it is complete, on every core: parsed events held for the
// whole batch period would be the largest part of the live heap, which the
// garbage collector marks on every cycle while bulker ingests. A failed
// dead-letter write of what cannot be parsed is retried until reading
// ends (retry); the batch is then left uncommitted, to be read again.
func (w *worker) parseAll(ctx, retry context.Context, in <-chan []kafka.Record, out chan<- *batch) {
	for recs := range in {
		b, err := w.parse(ctx, retry, recs)
		if err != nil {
			for range in {
			}
			return
		}
		w.prebuild(b)
		out <- b
	}
}

// parse makes the batch of recs, parsed on every core; an event that can
// never load goes to the dead-letter topic at once, a failed write retried
// until retry ends.
func (w *worker) parse(ctx, retry context.Context, recs []kafka.Record) (*batch, error) {
	items := make([]item, len(recs))
	errs := make([]error, len(recs))
	pk := w.cfg.Dest.Options.PrimaryKeys()
	parallel(len(recs), func(lo, hi int) {
		p, _ := w.parsers.Get().(*schema.Parser)
		if p == nil {
			p = new(schema.Parser)
		}
		for i := lo; i < hi; i++ {
			items[i].rec = &recs[i]
			items[i].ev, errs[i] = parseOne(p, recs[i].Value, pk)
		}
		w.parsers.Put(p)
	})
	parsed := items[:0]
	for i, it := range items {
		if errs[i] != nil {
			if err := w.rejectUntilDone(ctx, retry, recs[i], errs[i]); err != nil {
				return nil, err
			}
		} else {
			parsed = append(parsed, it)
		}
	}
	return &batch{recs: recs, items: parsed}, nil
}

// maxPrealloc bounds the records a batch makes room for up front: a huge
// batch size with a trickle of events must not reserve memory for nothing.
const maxPrealloc = 16384

// rejectUntilDone dead-letters an event that can never load, retrying a
// failed produce like an outage until retry ends.
func (w *worker) rejectUntilDone(ctx, retry context.Context, r kafka.Record, cause error) error {
	return untilDone(retry, func() error { return w.reject(ctx, r, cause, true) },
		func(_ int, err error, wait time.Duration) {
			w.log.Error("dead-lettering an event failed; retrying", "err", err, "retry_in", wait.String())
		})
}

// untilDone calls try until it succeeds or retry ends, waiting 1 s, 2 s,
// 4 s … at most a minute between attempts; failed sees each failure first.
// An attempt under way runs on its own context: retry ending only stops
// the next one from starting, so that a shutdown does not wait out the
// backoff of a destination that is down.
func untilDone(retry context.Context, try func() error, failed func(attempt int, err error, wait time.Duration)) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil {
			return nil
		}
		if retry.Err() != nil {
			return retry.Err()
		}
		failed(attempt, err, backoff)
		if !sleep(retry, backoff) {
			return retry.Err()
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func parseOne(p *schema.Parser, raw []byte, pk []string) (schema.Event, error) {
	// A consumed record's value is never written again: the event may
	// point into it instead of copying it.
	ev, err := p.ParseShared(raw)
	if err != nil {
		return ev, fmt.Errorf("parsing event: %w", err)
	}
	return ev, validate(ev, pk)
}

// parallel splits [0, n) into one range per available core, calls fn on
// each concurrently, and returns when all are done. Small n runs inline:
// goroutines would cost more than they save.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/256)
	if workers < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Go(func() { fn(lo, min(lo+chunk, n)) })
	}
	wg.Wait()
}

// loadAll loads batches in order, retrying outages until retry ends. Once
// ctx or retry ends nothing more can load: the rest are drained unloaded
// and uncommitted, to be read again later.
func (w *worker) loadAll(ctx, retry context.Context, in <-chan *batch) error {
	for b := range in {
		if err := w.flushUntilDone(ctx, retry, b); err != nil {
			if ctx.Err() != nil || retry.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// graceful returns a context that ends grace after parent does.
func graceful(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() { time.AfterFunc(grace, cancel) })
	return ctx, func() {
		stop()
		cancel()
	}
}

// flushUntilDone loads b, retrying outages with backoff until it works or
// retry ends. Offsets are committed only after the database commit.
func (w *worker) flushUntilDone(ctx, retry context.Context, b *batch) error {
	err := untilDone(retry, func() error { return w.flush(ctx, b) }, func(attempt int, err error, wait time.Duration) {
		w.metrics.loadErrors.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table, "outage").Inc()
		w.log.Error("destination unavailable, batch kept in kafka and retried",
			"err", err, "events", len(b.recs), "attempt", attempt, "retry_in", wait.String())
		w.recordBatchFailure(ctx, b.recs, err)
	})
	if err != nil {
		return err
	}
	if err := w.consumer.Commit(ctx, b.recs); err != nil {
		// The rows are loaded; a lost commit only re-delivers them, and a
		// primary key with dedup absorbs the duplicates.
		w.log.Warn("committing offsets failed; the batch may be loaded again", "err", err)
	}
	return nil
}

// flush loads one batch. It returns an error only for an outage; events the
// destination rejects are handed to the retry or dead topic.
func (w *worker) flush(ctx context.Context, b *batch) error {
	if len(b.items) == 0 {
		return nil // all dead-lettered: nothing needs the destination
	}
	start := w.now()
	dest, err := w.open(ctx)
	if err != nil {
		return err
	}
	loaded, err := w.storeIsolating(ctx, dest, b.items, b.rows)
	if err != nil {
		return err
	}
	w.metrics.batchSize.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table).Observe(float64(len(b.recs)))
	w.metrics.batchDuration.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table).Observe(w.now().Sub(start).Seconds())
	if loaded > 0 {
		w.metrics.rowsLoaded.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table).Add(float64(loaded))
		w.log.Info("batch loaded", "rows", loaded, "events", len(b.recs), "duration_ms", w.now().Sub(start).Milliseconds())
	}
	return nil
}

// validate refuses an event with nothing to store, or one that lacks a
// field of the primary key pk: it could be neither deduplicated nor stored
// in a table keyed on that field.
func validate(ev schema.Event, pk []string) error {
	if len(ev.Fields) == 0 {
		return errors.New("event has no fields to store")
	}
	for _, k := range pk {
		if !slices.ContainsFunc(ev.Fields, func(f schema.Field) bool { return f.Key == k && f.Type != schema.Null }) {
			return fmt.Errorf("primary key field %q is missing or null", k)
		}
	}
	return nil
}

// storeIsolating loads items, whose rows may be built already; when the
// destination rejects the data it bisects the batch so that one bad row
// does not fail the others.
func (w *worker) storeIsolating(ctx context.Context, dest destination.Destination, items []item, rows *builtRows) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	err := w.store(ctx, dest, items, rows)
	if err == nil {
		w.logLoaded(ctx, items)
		return len(items), nil
	}
	if !errors.Is(err, destination.ErrData) {
		return 0, err
	}
	if len(items) == 1 {
		return 0, w.reject(ctx, *items[0].rec, err, false)
	}
	mid := len(items) / 2
	a, err := w.storeIsolating(ctx, dest, items[:mid], nil)
	if err != nil {
		return a, err
	}
	b, err := w.storeIsolating(ctx, dest, items[mid:], nil)
	return a + b, err
}

// store builds rows against the stored table, unless rows holds them
// built against its current version, adds what the table lacks and loads.
// After a failure the table is read again once, in case it was altered or
// dropped outside bulker.
func (w *worker) store(ctx context.Context, dest destination.Destination, items []item, rows *builtRows) error {
	err := w.storeOnce(ctx, dest, items, rows)
	if err == nil {
		return nil
	}
	w.table.forget()
	if ctx.Err() != nil {
		return err
	}
	return w.storeOnce(ctx, dest, items, nil)
}

func (w *worker) storeOnce(ctx context.Context, dest destination.Destination, items []item, rows *builtRows) error {
	d := dest.Dialect()
	st := w.table.get()
	if !st.known {
		name := schema.SanitizeIdent(d, w.cfg.Name.Table)
		t, ok, err := dest.Describe(ctx, name)
		if err != nil {
			return fmt.Errorf("describing table %s: %w", name, err)
		}
		w.table.set(d, t, ok)
		st = w.table.get()
	}
	if rows == nil || rows.version != st.version {
		rows = w.build(st, items)
	}
	if !st.exists || len(rows.want.Columns) != len(st.table.Columns) {
		stored, err := dest.EnsureTable(ctx, rows.want)
		if err != nil {
			return fmt.Errorf("creating or altering table %s: %w", rows.want.Name, err)
		}
		w.table.set(d, stored, true)
		rows = w.build(w.table.get(), items)
	}
	for _, n := range rows.notes {
		msg := "value kept in " + schema.UnmappedColumn
		if n.Reason == schema.ReasonNearColumnLimit {
			msg = "table is close to the destination's column limit"
		}
		w.log.Warn(msg, "note", n.String())
	}
	// The parsed events are the larger part of a batch's memory and the
	// rows are built: let them go while the database works.
	dropEvents(items)
	lo := destination.LoadOptions{Mode: destination.Append, Dedup: w.cfg.Dest.Options.Deduplicate}
	if err := dest.Load(ctx, rows.batch, lo); err != nil {
		return fmt.Errorf("loading %d rows into %s: %w", len(rows.batch.Rows), rows.want.Name, err)
	}
	return nil
}

// build makes the rows of items against the table as st holds it.
func (w *worker) build(st tableState, items []item) *builtRows {
	events := make([]schema.Event, len(items))
	for i := range items {
		events[i] = items[i].event()
	}
	opts := schema.TableOptions{
		PrimaryKey:      w.cfg.Dest.Options.PrimaryKeys(),
		TimestampColumn: w.cfg.Dest.Options.Timestamp,
	}
	want, batch, notes := schema.Build(st.dialect, w.cfg.Name.Table, opts, events, st.table, st.exists)
	return &builtRows{version: st.version, want: want, batch: batch, notes: notes}
}

// prebuild builds b's rows in the reader, against the table as the loader
// last saw it, so that the loader, busy with the previous batch, only
// loads them. Rows that need a column the table lacks are left to the
// loader, which adds it first.
func (w *worker) prebuild(b *batch) {
	st := w.table.get()
	if !st.known || !st.exists || len(b.items) == 0 {
		return
	}
	rows := w.build(st, b.items)
	if len(rows.want.Columns) != len(st.table.Columns) {
		return
	}
	b.rows = rows
	dropEvents(b.items)
}

// dropEvents lets go of the items' parsed events once their rows are
// built; should the rows be built again, item.event parses them again.
func dropEvents(items []item) {
	for i := range items {
		items[i].ev = schema.Event{}
	}
}
