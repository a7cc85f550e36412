package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// RetryPolicy says how often a rejected event is tried again and when.
type RetryPolicy struct {
	// Attempts is how many failed loads send an event to the retry topic
	// before it goes to the dead-letter topic (BULKER_MESSAGES_RETRY_COUNT).
	Attempts int
	// Base and MaxDelay: attempt n waits min(Base^n, MaxDelay) units.
	Base     float64
	MaxDelay float64
	// Unit is the length of one delay unit: a minute in production.
	Unit time.Duration
}

// Delay is how long the n-th retry (n ≥ 1) waits.
func (p RetryPolicy) Delay(n int) time.Duration {
	d := math.Min(math.Pow(p.Base, float64(n)), p.MaxDelay)
	return time.Duration(d * float64(p.Unit))
}

// reject sends an event the destination rejected to the retry topic, or to
// the dead-letter topic once its attempts are used up.
func (w *worker) reject(ctx context.Context, r kafka.Record, cause error) error {
	f := w.failure(r, cause)
	// A replayed event had its retries: its new failure is final too, and
	// the operator sees it in the dead-letter topic at once.
	if f.Attempt > w.cfg.Retry.Attempts || f.ReplayOf != "" {
		return w.park(ctx, r, f, topics.Dead(w.cfg.Prefix), eventslog.Dead)
	}
	f.RetryAfter = nextRun(w.now().Add(w.cfg.Retry.Delay(f.Attempt)), w.cfg.RetryPeriod)
	return w.park(ctx, r, f, topics.Retry(w.cfg.Prefix), eventslog.Failed)
}

// nextRun rounds t up to the next retry run of a destination whose runs
// come every period (Jitsu's retryFrequency): Jitsu moves an event back at
// the first run after its backoff. A period of 0 keeps t.
func nextRun(t time.Time, period time.Duration) time.Time {
	if period <= 0 {
		return t
	}
	if r := t.Truncate(period); !r.Equal(t) {
		return r.Add(period)
	}
	return t
}

// deadLetter sends an event that can never load (not JSON, no fields, no
// primary key) to the dead-letter topic at once: retrying cannot help.
func (w *worker) deadLetter(ctx context.Context, r kafka.Record, cause error) error {
	return w.park(ctx, r, w.failure(r, cause), topics.Dead(w.cfg.Prefix), eventslog.Dead)
}

// failure describes the failed load of r: one more attempt than r carries.
func (w *worker) failure(r kafka.Record, cause error) topics.Failure {
	var prev topics.Failure
	if w.cfg.Source {
		// Headers a source's producer set mean nothing here, even where
		// their names are bulker's.
		prev.ReceivedAt = r.Time.UTC().Format(time.RFC3339Nano)
	} else {
		prev = topics.ParseFailure(r)
	}
	return topics.Failure{
		Destination: w.cfg.Dest.ID,
		Table:       w.cfg.Name.Table,
		Topic:       w.cfg.Requeue,
		Attempt:     prev.Attempt + 1,
		Error:       cause.Error(),
		ReceivedAt:  prev.ReceivedAt,
		ReplayOf:    prev.ReplayOf,
	}
}

// park writes r with f to topic and notes it in the metrics, the log and
// the events log with status.
func (w *worker) park(ctx context.Context, r kafka.Record, f topics.Failure, topic string, status eventslog.Status) error {
	if err := w.producer.ProduceSync(ctx, kafka.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: f.Headers()}); err != nil {
		return errors.Join(errors.New("event could not be moved to "+topic), err)
	}
	w.metrics.rejected.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table, string(status)).Inc()
	w.log.Warn("event rejected by destination", "to", topic, "attempt", f.Attempt, "err", f.Error)
	w.addLog(ctx, eventslog.Entry{Status: status, Error: f.Error, Body: json.RawMessage(r.Value)})
	return nil
}

// logLoaded notes loaded events; the log keeps only the newest, so a huge
// batch adds only as many as it can hold.
func (w *worker) logLoaded(ctx context.Context, items []item) {
	for _, it := range items[max(0, len(items)-w.cfg.LogLimit):] {
		w.addLog(ctx, eventslog.Entry{Status: eventslog.Loaded, Body: json.RawMessage(it.rec.Value)})
	}
}

// recordBatchFailure shows an outage in the events log once per attempt.
func (w *worker) recordBatchFailure(ctx context.Context, recs []kafka.Record, err error) {
	w.addLog(ctx, eventslog.Entry{
		Status: eventslog.Failed,
		Error:  "batch of " + strconv.Itoa(len(recs)) + " events kept in kafka for retry: " + err.Error(),
		Body:   json.RawMessage(recs[0].Value),
	})
}

func (w *worker) addLog(ctx context.Context, e eventslog.Entry) {
	if w.events == nil {
		return
	}
	e.Time, e.Destination, e.Table = w.now(), w.cfg.Dest.ID, w.cfg.Name.Table
	// A record's value points into the fetched batch; a copy lets the log
	// keep the event without pinning the whole fetch buffer.
	e.Body = bytes.Clone(e.Body)
	if err := w.events.Add(ctx, e); err != nil {
		w.log.Debug("events log write failed", "err", err)
	}
}
