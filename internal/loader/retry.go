package loader

import (
	"context"
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

func (q *requeuer) run(ctx context.Context) error {
	defer q.consumer.Close()
	for {
		recs, err := q.consumer.Poll(ctx, 100)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			q.log.Warn("polling the retry topic failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for i, r := range recs {
			if !q.waitDue(ctx, r) {
				return nil // not committed: the rest is read again after restart
			}
			for {
				err := q.requeue(ctx, r)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return nil
				}
				q.log.Error("re-queuing an event failed; retrying", "err", err)
				sleep(ctx, time.Second)
			}
			if err := q.consumer.Commit(ctx, recs[i:i+1]); err != nil {
				q.log.Warn("committing the retry topic failed; the event may be re-queued twice", "err", err)
			}
		}
	}
}

func (q *requeuer) waitDue(ctx context.Context, r kafka.Record) bool {
	due, err := time.Parse(time.RFC3339Nano, r.Header(topics.HeaderRetryAfter))
	if err != nil {
		return true
	}
	if d := due.Sub(q.now()); d > 0 {
		return sleep(ctx, d)
	}
	return true
}

func (q *requeuer) requeue(ctx context.Context, r kafka.Record) error {
	target := r.Header(topics.HeaderRetryTopic)
	if target == "" {
		// Not written by bulker: park it where a user can see it.
		target = q.deadTopic
	}
	var h []kafka.Header
	for _, k := range []string{topics.HeaderTable, topics.HeaderAttempt, topics.HeaderReceivedAt, topics.HeaderError} {
		if v := r.Header(k); v != "" {
			h = append(h, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	if err := q.producer.ProduceSync(ctx, kafka.Record{Topic: target, Key: r.Key, Value: r.Value, Headers: h}); err != nil {
		return err
	}
	q.metrics.retried.Inc()
	return nil
}
