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

// EventsLog records what happened to events, for GET /events.
type EventsLog interface {
	Add(ctx context.Context, e eventslog.Entry) error
}

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

// reject sends one event to the retry topic, or to the dead-letter topic
// once its attempts are used up (at once when retrying cannot help, as with
// an event that is not valid JSON). The error travels in a header.
func (w *worker) reject(ctx context.Context, r kafka.Record, cause error, final bool) error {
	attempt := 1
	if n, err := strconv.Atoi(r.Header(topics.HeaderAttempt)); err == nil {
		attempt = n + 1
	}
	dead := final || attempt > w.cfg.Retry.Attempts
	h := []kafka.Header{
		{Key: topics.HeaderTable, Value: []byte(w.cfg.Name.Table)},
		{Key: topics.HeaderDestination, Value: []byte(w.cfg.Dest.ID)},
		{Key: topics.HeaderRetryTopic, Value: []byte(w.cfg.Topic)},
		{Key: topics.HeaderAttempt, Value: []byte(strconv.Itoa(attempt))},
		{Key: topics.HeaderError, Value: []byte(cause.Error())},
	}
	if v := r.Header(topics.HeaderReceivedAt); v != "" {
		h = append(h, kafka.Header{Key: topics.HeaderReceivedAt, Value: []byte(v)})
	}
	topic, status := topics.Retry(w.cfg.Prefix), eventslog.Failed
	if dead {
		topic, status = topics.Dead(w.cfg.Prefix), eventslog.Dead
	} else {
		h = append(h, kafka.Header{Key: topics.HeaderRetryAfter, Value: w.now().Add(w.cfg.Retry.Delay(attempt)).UTC().AppendFormat(nil, time.RFC3339Nano)})
	}
	if err := w.producer.ProduceSync(ctx, kafka.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: h}); err != nil {
		return errors.Join(errors.New("event could not be moved to "+topic), err)
	}
	w.metrics.rejected.WithLabelValues(w.cfg.Dest.ID, w.cfg.Name.Table, string(status)).Inc()
	w.log.Warn("event rejected by destination", "to", topic, "attempt", attempt, "err", cause)
	w.addLog(ctx, eventslog.Entry{Status: status, Error: cause.Error(), Body: json.RawMessage(r.Value)})
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

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
