package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/sink"
	"github.com/streamforge/streamforge/internal/topics"
)

// workerConfig is what one worker needs to know.
type workerConfig struct {
	Topic     string
	Requeue   string // where the retry topic sends rejected events back
	Source    bool   // Topic is a source's: its headers are not bulker's
	Name      topics.Name
	Dest      destination.Config
	BatchSize int
	Period    time.Duration
	Retry     RetryPolicy
	// RetryPeriod spaces the destination's retry runs; 0: none.
	RetryPeriod time.Duration
	Prefix      string
	// LogLimit is how many loaded events of a batch go to the events log.
	LogLimit int
}

// worker loads one incoming topic into its table.
type worker struct {
	cfg      workerConfig
	consumer Consumer
	producer Producer
	// table returns the writer of the worker's table; an error (the
	// destination went away) is retried with backoff, like an outage.
	table   func() (*sink.Table, error)
	log     *slog.Logger
	metrics *Metrics
	events  EventsLog
	now     func() time.Time

	// scratch keeps the parsers' and builders' memory from one batch to
	// the next.
	scratch sync.Pool
	// slabs are those free to hold the fields of the next batch's events.
	slabs slabs
	// arrays are the record arrays of committed batches, for the polls of
	// the batches after them.
	arrays batchArrays
}

// batchArrays keeps the record arrays of committed batches: a batch's is
// its size times a record's 136 bytes, mostly pointers, which would
// otherwise be allocated, zeroed and scanned anew for every batch. A
// sync.Pool, as slabs.
type batchArrays struct{ pool sync.Pool }

// get returns an empty array, nil if none is free.
func (a *batchArrays) get() []kafka.Record {
	if p, ok := a.pool.Get().(*[]kafka.Record); ok {
		return (*p)[:0]
	}
	return nil
}

// put keeps recs for a later batch; nothing may use them any more.
func (a *batchArrays) put(recs []kafka.Record) {
	if cap(recs) == 0 {
		return
	}
	recs = recs[:cap(recs)]
	clear(recs) // their values would stay reachable until overwritten
	a.pool.Put(&recs)
}

// slabs keeps the slabs of batches whose rows are built for the batches
// after them. It is a sync.Pool, not a free list: a slab is megabytes, and
// the collector frees the pool's slabs when batches are far apart, while
// batches back to back (a backlog) reuse them.
type slabs struct{ pool sync.Pool }

func (s *slabs) get() *schema.Slab {
	if sl, ok := s.pool.Get().(*schema.Slab); ok {
		return sl
	}
	return new(schema.Slab)
}

func (s *slabs) put(used []*schema.Slab) {
	for _, sl := range used {
		sl.Reset()
		s.pool.Put(sl)
	}
}

// lifetime is the contexts of a stage: each attempt runs on work, and no
// attempt starts once retry has ended. At shutdown retry ends at once
// while work lasts a grace period longer, so that a load under way can
// finish but an outage is not waited out.
type lifetime struct {
	work  context.Context
	retry context.Context
}

// batch is what one load commits: every record read, and the parsed events
// among them (records that cannot be parsed are dead-lettered by parse).
type batch struct {
	recs  []kafka.Record
	items []item
	rows  *sink.Rows // prepared by the reader; nil if the loader must build them
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

// stream is the topic's mode, not the destination's: Jitsu's modeOverride
// puts events of a batch destination in its stream topic, and after a
// mode change the other topic holds what was queued in the old mode.
func (w *worker) stream() bool { return w.cfg.Name.Mode == destination.Stream }

// run consumes until ctx ends, in stages that work at the same time: one
// goroutine polls the records of a batch, one parses them and prepares the
// rows, one loads the batch before, and one commits the offsets of the
// batch loaded before that. The batches in hand when ctx ends are still
// loaded and committed if that takes no longer than grace; what fails then
// is not retried but left in Kafka.
func (w *worker) run(ctx context.Context, grace time.Duration) error {
	defer w.consumer.Close()
	work, cancel := graceful(ctx, grace)
	defer cancel()
	// A loader that stops on an error stops the reader too, so the worker
	// ends and the manager starts it again from the committed offsets.
	reading, stopReading := context.WithCancel(ctx)
	defer stopReading()
	polled := make(chan []kafka.Record)
	batches := make(chan *batch)
	loaded := make(chan error, 1)
	go func() {
		err := w.loadAll(lifetime{work: work, retry: ctx}, batches)
		stopReading()
		for range batches {
			// Not loaded, not committed: read again later.
		}
		loaded <- err
	}()
	go func() {
		w.parseAll(lifetime{work: work, retry: reading}, polled, batches)
		close(batches)
	}()
	w.pollAll(reading, polled)
	close(polled)
	return <-loaded
}

// pollAll polls records into batches until ctx ends, then hands over the
// batch in hand; records of the poll that ctx ended are read again later.
func (w *worker) pollAll(ctx context.Context, out chan<- []kafka.Record) {
	recs := w.arrays.get() // of the batch in hand
	size := 0              // bytes of their values
	var flushAt time.Time
	for {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if len(recs) > 0 {
			pollCtx, cancelPoll = context.WithDeadline(ctx, flushAt)
		}
		held := len(recs)
		var err error
		recs, err = w.consumer.PollAppend(pollCtx, recs, w.cfg.BatchSize-held)
		cancelPoll()
		if ctx.Err() != nil {
			if held > 0 {
				out <- recs[:held]
			}
			return
		}
		if errors.Is(err, kafka.ErrRevoked) {
			// The rebalance waits for what was read from the partitions
			// it takes away: load the batch in hand now.
			if len(recs) > 0 {
				out <- recs
				recs, size = w.arrays.get(), 0
			}
			continue
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.log.Warn("polling kafka failed", "err", err)
			sleep(ctx, pollPause)
			continue
		}
		if held == 0 {
			if len(recs) == 0 {
				continue
			}
			flushAt = w.now().Add(w.cfg.Period)
		}
		if limit := w.cfg.Dest.Options.BatchSizeBytes; limit > 0 {
			for _, r := range recs[held:] {
				size += len(r.Value)
			}
		}
		if w.stream() || len(recs) >= w.cfg.BatchSize || !w.now().Before(flushAt) || w.full(size) {
			out <- recs
			recs, size = w.arrays.get(), 0
		}
	}
}

// full reports whether a batch of size bytes reached the destination's
// batchSizeBytes.
func (w *worker) full(size int) bool {
	limit := w.cfg.Dest.Options.BatchSizeBytes
	return limit > 0 && size >= limit
}

// parseAll makes batches of the polled records. A batch's records are
// parsed once it is complete, on every core but one: parsed events held
// for the whole batch period would be the largest part of the live heap,
// which the garbage collector marks on every cycle while bulker ingests.
// A failed dead-letter write of what cannot be parsed is retried until
// lt.retry ends; the batch is then left uncommitted, to be read again.
func (w *worker) parseAll(lt lifetime, in <-chan []kafka.Record, out chan<- *batch) {
	// While the consumer joins its group and fetches, learn the table's
	// shape: the first batch's rows can then be prepared here. Only a
	// head start: a destination that does not answer is the loader's to
	// meet.
	if t, err := w.table(); err == nil {
		ctx, cancel := context.WithTimeout(lt.retry, shapeHeadStart)
		if err := t.Read(ctx); err != nil {
			w.log.Debug("reading the table's shape before the first batch failed", "err", err)
		}
		cancel()
	}
	for recs := range in {
		b, err := w.parse(lt, recs)
		if err != nil {
			for range in {
			}
			return
		}
		out <- b
	}
}

// shapeHeadStart bounds the wait for the table's shape before the first
// batch.
const shapeHeadStart = 5 * time.Second

// chunkSize is how many events a parser turns into rows at a time. Parsed
// events are several times the size of their rows: building a chunk's rows
// before parsing the next keeps one chunk's fields in memory instead of
// the whole batch's.
const chunkSize = 256

// parse makes the batch of recs; an event that can never load goes to the
// dead-letter topic at once. The batch is parsed on every core but one,
// which is left to the request handlers: with two cores, parsing on both
// raised bulker's p99 side by side from 8 to 11 ms, and one parsing
// goroutine keeps up with the load (load_rows_per_s the same). While the rows fit the
// table as last seen they are built here too, a chunk at a time, so that
// the loader, busy with the previous batch, only loads them; rows that
// need a column the table lacks are left to the loader, which adds it
// first.
func (w *worker) parse(lt lifetime, recs []kafka.Record) (*batch, error) {
	items := make([]item, len(recs))
	errs := make([]error, len(recs))
	pk := w.cfg.Dest.Options.PrimaryKeys()
	t, err := w.table()
	if err != nil {
		t = nil // the loader meets the outage
	}
	var (
		mu    sync.Mutex
		used  []*schema.Slab
		parts []chunkRows
		ddl   atomic.Bool // a chunk needs DDL: the loader builds the rows
	)
	parallel(len(recs), runtime.GOMAXPROCS(0)-1, func(lo, hi int) {
		sc, _ := w.scratch.Get().(*scratch)
		if sc == nil {
			sc = new(scratch)
		}
		p := &sc.parser
		p.Slab = w.slabs.get()
		var evs []schema.Event
		var built []chunkRows
		for c := lo; c < hi; c += chunkSize {
			end := min(c+chunkSize, hi)
			evs = evs[:0]
			for i := c; i < end; i++ {
				items[i].rec = &recs[i]
				items[i].ev, errs[i] = parseOne(p, recs[i].Value, pk)
				if errs[i] == nil {
					evs = append(evs, items[i].ev)
				}
			}
			if t == nil || ddl.Load() || len(evs) == 0 {
				continue
			}
			rows := t.Prepare(evs, &sc.rows)
			if rows == nil {
				ddl.Store(true)
				continue
			}
			built = append(built, chunkRows{c, rows})
			for i := c; i < end; i++ {
				items[i].ev = schema.Event{} // item.event parses it again if need be
			}
			p.Slab.Reset()
			// Let waiting request handlers run between chunks: a batch's
			// parse is a burst, which otherwise holds them up to the
			// scheduler's 10 ms slice (bulker's p99 against the
			// baseline's, side by side: 2.0 without, 1.55 with).
			runtime.Gosched()
		}
		mu.Lock()
		used = append(used, p.Slab)
		parts = append(parts, built...)
		mu.Unlock()
		p.Slab = nil
		w.scratch.Put(sc)
	})
	parsed := items[:0]
	for i, it := range items {
		if errs[i] == nil {
			parsed = append(parsed, it)
			continue
		}
		err := untilDone(lt.retry, func() error { return w.deadLetter(lt.work, recs[i], errs[i]) },
			func(_ int, err error, wait time.Duration) {
				w.log.Error("dead-lettering an event failed; retrying", "err", err, "retry_in", wait.String())
			})
		if err != nil {
			return nil, err
		}
	}
	b := &batch{recs: recs, items: parsed}
	if !ddl.Load() {
		b.rows = joinChunks(parts) // nil without a table: no chunk was built
	}
	if b.rows != nil {
		w.slabs.put(used) // else the items' events still use them
	}
	return b, nil
}

// scratch is one parsing goroutine's memory: the parser's, and the rows
// of a chunk, which Prepare is done with once it returns (it encodes them
// for the destination, or copies them out).
type scratch struct {
	parser schema.Parser
	rows   schema.RowSlab
}

// chunkRows are the rows of the chunk of a batch that begins at record lo.
type chunkRows struct {
	lo   int
	rows *sink.Rows
}

// joinChunks returns the rows of the batch's chunks in record order; nil
// when a chunk's rows are not there.
func joinChunks(parts []chunkRows) *sink.Rows {
	slices.SortFunc(parts, func(a, b chunkRows) int { return a.lo - b.lo })
	rows := make([]*sink.Rows, len(parts))
	for i, p := range parts {
		rows[i] = p.rows
	}
	return sink.Join(rows)
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

// validate refuses an event with nothing to store, or one that lacks a
// field of the primary key pk: it could be neither deduplicated nor stored
// in a table keyed on that field.
func validate(ev schema.Event, pk []string) error {
	if len(ev.Fields) == 0 {
		return errors.New("event has no fields to store")
	}
	for _, k := range pk {
		if !slices.ContainsFunc(ev.Fields, func(f schema.Field) bool { return f.Type != schema.Null && schema.FlatKey(f.Key) == k }) {
			return fmt.Errorf("primary key field %q is missing or null", k)
		}
	}
	return nil
}

// events returns the items' events, parsing again those dropped.
func events(items []item) []schema.Event {
	out := make([]schema.Event, len(items))
	for i := range items {
		out[i] = items[i].event()
	}
	return out
}

// parallel splits [0, n) into a range for each of at most workers
// goroutines, calls fn on each concurrently, and returns when all are
// done. Small n runs inline: goroutines would cost more than they save.
func parallel(n, workers int, fn func(lo, hi int)) {
	workers = min(workers, n/256)
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

// loadAll loads batches in order, retrying outages until lt.retry ends.
// Once either context ends nothing more can load: the rest are drained
// unloaded and uncommitted, to be read again later. A loaded batch's
// offsets are committed while the next batch loads: the broker's round
// trip would otherwise hold up every load.
func (w *worker) loadAll(lt lifetime, in <-chan *batch) error {
	commits := make(chan []kafka.Record, 1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		w.commitAll(lt.work, commits)
	}()
	defer func() {
		close(commits)
		<-committed
	}()
	for b := range in {
		if err := w.flushUntilDone(lt, b); err != nil {
			if lt.work.Err() != nil || lt.retry.Err() != nil {
				return nil
			}
			return err
		}
		b.rows.Release()
		commits <- b.recs
	}
	return nil
}
