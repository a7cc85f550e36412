package loader

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// requeuer moves events from the retry topic back to the topic they came
// from once their retry time has come. Records wait in order: the retry
// topic is written in time order, so the head is almost always due first.
type requeuer struct {
	consumer Consumer
	producer Producer
	log      *slog.Logger
	metrics  *Metrics
	now      func() time.Time
	// deadTopic receives retry records that name no original topic.
	deadTopic string
}

// requeueBatch is how many retry records one poll reads: they are handled
// one by one anyway, each waiting for its time.
const requeueBatch = 100

func (q *requeuer) run(ctx context.Context) error {
	defer q.consumer.Close()
	for {
		recs, err := q.consumer.Poll(ctx, requeueBatch)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, kafka.ErrRevoked) {
			continue // nothing held: each record is committed as it is re-queued
		}
		if err != nil {
			q.log.Warn("polling the retry topic failed", "err", err)
			sleep(ctx, pollPause)
			continue
		}
		for i, r := range recs {
			f := topics.ParseFailure(r)
			if d := f.RetryAfter.Sub(q.now()); d > 0 && !sleep(ctx, d) {
				return nil // not committed: the rest is read again after restart
			}
			if !q.consumer.Owns(r) {
				// Its partition went to another member while this one
				// waited, which re-queues it: doing so too would load it
				// twice.
				continue
			}
			err := untilDone(ctx, func() error { return q.requeue(ctx, r, f) }, func(_ int, err error, wait time.Duration) {
				q.log.Error("re-queuing an event failed; retrying", "err", err, "retry_in", wait.String())
			})
			if err != nil {
				return nil
			}
			if err := q.consumer.Commit(ctx, recs[i:i+1]); err != nil {
				q.log.Warn("committing the retry topic failed; the event may be re-queued twice", "err", err)
			}
		}
	}
}

// requeue produces r back to its incoming topic, carrying its Failure so
// that the next failure counts one more attempt.
func (q *requeuer) requeue(ctx context.Context, r kafka.Record, f topics.Failure) error {
	target := f.Topic
	if target == "" {
		// Not written by bulker: park it where a user can see it.
		target = q.deadTopic
	}
	f.RetryAfter = time.Time{}
	if err := q.producer.ProduceSync(ctx, kafka.Record{Topic: target, Key: r.Key, Value: r.Value, Headers: f.Headers()}); err != nil {
		return err
	}
	q.metrics.retried.Inc()
	return nil
}
