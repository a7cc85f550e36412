package loader

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/sink"
)

// flushUntilDone loads b, retrying outages with backoff until it works or
// lt.retry ends. The caller commits the offsets, after the database commit.
func (w *worker) flushUntilDone(lt lifetime, b *batch) error {
	w.dropLost(b)
	err := untilDone(lt.retry, func() error { return w.flush(lt, b) }, func(attempt int, err error, wait time.Duration) {
		w.metrics.loadErrors.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table, kindOutage).Inc()
		w.log.Error("destination unavailable, batch kept in kafka and retried",
			"err", err, "events", len(b.recs), "attempt", attempt, "retry_in", wait.String())
		w.recordBatchFailure(lt.work, b.recs, err)
	})
	return err
}

// commitAll commits the offsets of the loaded batches in order until in
// is closed.
func (w *worker) commitAll(ctx context.Context, in <-chan []kafka.Record) {
	for recs := range in {
		if err := w.consumer.Commit(ctx, recs); err != nil {
			// The rows are loaded; a lost commit only re-delivers them, and
			// a primary key with dedup absorbs the duplicates.
			w.log.Warn("committing offsets failed; the batch may be loaded again", "err", err)
		}
		w.arrays.put(recs)
	}
}

// dropLost takes out of b the records of partitions this member no longer
// owns: a rebalance that waited in vain for b handed them over uncommitted,
// and their new owner loads them.
func (w *worker) dropLost(b *batch) {
	// One look-up per run of a partition's records, not per record: this
	// runs on the loading stage's path for every batch.
	var last *kafka.Record
	lastOwned := false
	owned := func(r *kafka.Record) bool {
		if last == nil || r.Partition != last.Partition || r.Topic != last.Topic {
			last, lastOwned = r, w.consumer.Owns(*r)
		}
		return lastOwned
	}
	lost := 0
	for i := range b.recs {
		if !owned(&b.recs[i]) {
			lost++
		}
	}
	if lost == 0 {
		return
	}
	w.log.Info("partitions handed over before their batch loaded: their records are left to the new owner", "events", lost)
	b.items = slices.DeleteFunc(b.items, func(it item) bool { return !owned(it.rec) })
	// A new slice: the items point into the old one.
	kept := make([]kafka.Record, 0, len(b.recs)-lost)
	for i := range b.recs {
		if owned(&b.recs[i]) {
			kept = append(kept, b.recs[i])
		}
	}
	b.recs = kept
	b.rows = nil // built for every record: built again for those kept
}

// flush loads one batch. It returns an error only for an outage; events the
// destination rejects are handed to the retry or dead topic.
func (w *worker) flush(lt lifetime, b *batch) error {
	if len(b.items) == 0 {
		return nil // all dead-lettered: nothing needs the destination
	}
	start := w.now()
	t, err := w.table()
	if err != nil {
		return err
	}
	loaded, err := w.storeIsolating(lt, t, b.items, b.rows)
	if err != nil {
		return err
	}
	labels := []string{w.cfg.Dest.ID, w.cfg.Name.Table}
	w.metrics.batchSize.WithLabelValues(labels...).Observe(float64(len(b.recs)))
	w.metrics.batchDuration.WithLabelValues(labels...).Observe(w.now().Sub(start).Seconds())
	if loaded > 0 {
		w.metrics.rowsLoaded.WithLabelValues(labels...).Add(float64(loaded))
		w.log.Info("batch loaded", "rows", loaded, "events", len(b.recs), "duration_ms", w.now().Sub(start).Milliseconds())
	}
	return nil
}

// storeIsolating loads items, whose rows may be prepared already; when the
// destination rejects the data it bisects the batch so that one bad row
// does not fail the others.
func (w *worker) storeIsolating(lt lifetime, t *sink.Table, items []item, rows *sink.Rows) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	warns, err := t.Append(lt.work, rows, func() []schema.Event { return events(items) })
	for _, warn := range warns {
		w.addLog(lt.work, eventslog.Entry{Status: eventslog.Warning, Error: warn.String()})
	}
	if err == nil {
		w.logLoaded(lt.work, items)
		return len(items), nil
	}
	if !errors.Is(err, destination.ErrData) {
		return 0, err
	}
	if len(items) == 1 {
		return 0, w.reject(lt.work, *items[0].rec, err)
	}
	mid := len(items) / 2
	a, err := w.storeIsolating(lt, t, items[:mid], nil)
	if err != nil {
		return a, err
	}
	b, err := w.storeIsolating(lt, t, items[mid:], nil)
	return a + b, err
}
