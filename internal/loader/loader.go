// Package loader moves events from bulker's incoming Kafka topics, and
// from the topics configured as sources, into the destinations: one worker per topic reads a batch (or, in stream mode,
// whatever arrived), writes it through the table's sink.Table in one
// transaction and only then commits the Kafka offsets. A destination
// outage pauses the worker and retries with backoff; rows the destination
// rejects are isolated by bisecting the batch and sent to the retry topic,
// and after the configured attempts to the dead-letter topic, each with its
// reason. Nothing accepted is dropped.
//
// The files follow a batch: pipeline.go (poll, parse, load), store.go
// (write, bisect), reject.go (retry and dead-letter topics), requeue.go
// (back from the retry topic), manager.go (one worker per topic),
// source.go (topics loaded into a table named by configuration).
package loader

import (
	"context"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/sink"
)

// Consumer reads one topic as a member of a consumer group.
type Consumer interface {
	// PollAppend appends the records of one poll to dst and returns it;
	// on an error dst comes back as it was (see kafka.Consumer.PollAppend).
	PollAppend(ctx context.Context, dst []kafka.Record, max int) ([]kafka.Record, error)
	Commit(ctx context.Context, recs []kafka.Record) error
	// Owns reports whether the member still owns r's partition.
	Owns(r kafka.Record) bool
	Close()
}

// Producer writes records and returns after the broker acknowledged them.
type Producer interface {
	ProduceSync(ctx context.Context, recs ...kafka.Record) error
}

// Destinations gives the loaders the configured destinations.
type Destinations interface {
	Lookup(id string) (destination.Config, bool)
	// Table returns the writer of a destination's table.
	Table(id, table string) (*sink.Table, error)
}

// EventsLog records what happened to events, for GET /events.
type EventsLog interface {
	Add(ctx context.Context, e eventslog.Entry) error
}

// Config tunes the loaders.
type Config struct {
	TopicPrefix string        // BULKER_KAFKA_TOPIC_PREFIX
	BatchSize   int           // default batch size
	BatchPeriod time.Duration // default batch period
	Retry       RetryPolicy
	// RetryPeriod and RetryBatchSize are the defaults of a destination's
	// retryFrequency and retryBatchSize: its retry runs, and how many of
	// its events one run moves back. 0: no runs, no cap.
	RetryPeriod    time.Duration
	RetryBatchSize int
	// Discover is how often the topic list is read for new tables.
	Discover time.Duration
	// ShutdownTimeout bounds loading the batches in hand at shutdown.
	ShutdownTimeout time.Duration
	// EventsLogMax is how many loaded events of a batch go to the events
	// log: it keeps no more per destination.
	EventsLogMax int
}
