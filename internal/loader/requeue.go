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
	// retryTopic takes back the events a full retry run leaves for the
	// next one.
	retryTopic string
	// runs gives a destination's retry runs (Jitsu's retryBatchSize and
	// retryFrequency): at most size events per run, a run every period;
	// 0 for either: no cap.
	runs func(destination string) (size int, period time.Duration)
	// moved counts the events moved back per destination and run.
	moved map[retryRun]int
}

// retryRun is one retry run of a destination.
type retryRun struct {
	destination string
	at          time.Time
}

// requeueBatch is how many retry records one poll reads: they are handled
// one by one anyway, each waiting for its time.
const requeueBatch = 100

func (q *requeuer) run(ctx context.Context) error {
	defer q.consumer.Close()
	for {
		recs, err := q.consumer.PollAppend(ctx, nil, requeueBatch)
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
			if !q.await(ctx, r, f.RetryAfter) {
				return nil // not committed: the rest is read again after restart
			}
			if !q.consumer.Owns(r) {
				// Its partition went to another member, which re-queues
				// it: doing so too would load it twice.
				continue
			}
			move := q.requeue
			if q.runFull(f) {
				move = q.postpone
			}
			err := untilDone(ctx, func() error { return move(ctx, r, f) }, func(_ int, err error, wait time.Duration) {
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

// ownershipCheck is how often a requeuer waiting for a record's time
// checks that it still owns the record's partition: after a rebalance it
// moves on to the records it still owns rather than sleep through those it
// lost.
const ownershipCheck = time.Second

// await waits until t or until r's partition is no longer this member's;
// false when ctx ended first.
func (q *requeuer) await(ctx context.Context, r kafka.Record, t time.Time) bool {
	for d := t.Sub(q.now()); d > 0 && q.consumer.Owns(r); d = t.Sub(q.now()) {
		if !sleep(ctx, min(d, ownershipCheck)) {
			return false
		}
	}
	return true
}

// runFull reports whether the retry run f belongs to has moved as many
// events of its destination as it may; else it counts f in.
func (q *requeuer) runFull(f topics.Failure) bool {
	if q.runs == nil {
		return false
	}
	size, period := q.runs(f.Destination)
	if size <= 0 || period <= 0 {
		return false
	}
	// The run is the current one: after a backlog, records long past due
	// still move at most size per run.
	run := retryRun{f.Destination, q.now().Truncate(period)}
	if q.moved == nil {
		q.moved = map[retryRun]int{}
	}
	for k := range q.moved {
		if k.at.Before(run.at) {
			delete(q.moved, k) // past runs: their counts are done with
		}
	}
	if q.moved[run] >= size {
		return true
	}
	q.moved[run]++
	return false
}

// postpone puts r back on the retry topic for the next run of its
// destination, its attempts unchanged.
func (q *requeuer) postpone(ctx context.Context, r kafka.Record, f topics.Failure) error {
	_, period := q.runs(f.Destination)
	f.RetryAfter = q.now().Truncate(period).Add(period)
	return q.producer.ProduceSync(ctx, kafka.Record{Topic: q.retryTopic, Key: r.Key, Value: r.Value, Headers: f.Headers()})
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
