package bulker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// embeddedConnectTimeout bounds connecting to the embedded broker, which
// runs on this machine.
const embeddedConnectTimeout = 30 * time.Second

// embeddedKafka returns the Kafka settings to use when none are configured:
// the broker already answering at addr (a `broker` program, another bulker),
// or an embedded broker started here on addr with its data in dataDir,
// accepting records of maxMessageBytes. stop closes the embedded broker, if
// one was started.
func embeddedKafka(addr, dataDir string, maxMessageBytes int32, log *slog.Logger) (cfg kafka.Config, stop func(), err error) {
	b, err := broker.EnsureLocal(broker.Config{Addr: addr, DataDir: filepath.Join(dataDir, "kafka"), MaxMessageBytes: maxMessageBytes}, log)
	if err != nil {
		return cfg, nil, fmt.Errorf("no Kafka configured: %w", err)
	}
	cfg = kafka.Config{Brokers: []string{addr}, ConnectTimeout: embeddedConnectTimeout}
	if b == nil {
		return cfg, func() {}, nil
	}
	cfg.Brokers = []string{b.Addr()}
	return cfg, b.Close, nil
}

// prepareTopics creates the retry and dead-letter topics with bulker's
// spec, as the incoming ones are, and their own retention (Jitsu keeps dead
// letters a week), rather than leave them to the broker's defaults at their
// first record; one that exists keeps its settings, and a retention other
// than the configured one is named, so that an operator moving from Jitsu
// Bulker knows which is in force. Then it makes every existing topic
// bulker writes accept its largest event (topics made by an earlier
// version or by hand may be smaller).
func prepareTopics(ctx context.Context, c *kafka.Client, cfg config.Config, log *slog.Logger) (maxEvent int64, err error) {
	var names []string
	for _, t := range []struct {
		spec     kafka.TopicSpec
		variable string
	}{
		{topicSpec(cfg, topics.Retry(cfg.TopicPrefix), cfg.RetryTopicRetention), "BULKER_KAFKA_RETRY_TOPIC_RETENTION_HOURS"},
		{topicSpec(cfg, topics.Dead(cfg.TopicPrefix), cfg.DeadTopicRetention), "BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS"},
		{markerTopicSpec(cfg), "BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS"},
	} {
		if err := c.EnsureTopic(ctx, t.spec); err != nil {
			return 0, err
		}
		if got, err := c.TopicRetention(ctx, t.spec.Name); err == nil && got != t.spec.Retention {
			log.Info("topic exists with another retention, kept", "topic", t.spec.Name, "retention", got.String(), "configured", t.spec.Retention.String(), "variable", t.variable)
		}
		names = append(names, t.spec.Name)
	}
	all, err := c.Topics(ctx)
	if err != nil {
		return 0, err
	}
	for _, t := range all {
		if _, err := topics.Parse(cfg.TopicPrefix, t); err == nil {
			names = append(names, t)
		}
	}
	fits, err := c.FitTopics(ctx, cfg.Topics.MaxMessageBytes, names...)
	maxEvent = fittingEvent(cfg.Ingest.MaxEventSize, fits)
	switch {
	case fits == 0:
		log.Warn("could not read the max.message.bytes of bulker's topics: an event the broker refuses as too large is answered 503", "err", err)
	case maxEvent < 1:
		return 0, fmt.Errorf("BULKER_MAX_EVENT_SIZE %d: topics accept records of at most %d bytes: %w", cfg.Ingest.MaxEventSize, fits, err)
	case maxEvent < cfg.Ingest.MaxEventSize:
		log.Warn("some of bulker's topics accept smaller records than BULKER_MAX_EVENT_SIZE needs and their max.message.bytes could not be raised: larger events are refused with 413",
			"max_event_size", maxEvent, "configured", cfg.Ingest.MaxEventSize, "err", err)
	}
	return maxEvent, nil
}

// topicSpec is bulker's spec for topic, with its own retention.
func topicSpec(cfg config.Config, topic string, retention time.Duration) kafka.TopicSpec {
	spec := cfg.Topics
	spec.Name, spec.Retention = topic, retention
	return spec
}

// markerTopicSpec is the spec of the replay markers' topic: they must
// outlive the dead letters they mark, or a dead event would look never
// replayed and could be replayed twice; few and small, one partition holds
// them.
func markerTopicSpec(cfg config.Config) kafka.TopicSpec {
	spec := topicSpec(cfg, topics.Replayed(cfg.TopicPrefix), cfg.DeadTopicRetention)
	spec.Partitions = 1
	return spec
}

// fittingEvent is the largest event, at most configured bytes, whose record
// fits a batch of fits bytes; fits 0 (unknown) keeps configured.
func fittingEvent(configured int64, fits int32) int64 {
	if fits == 0 {
		return configured
	}
	return min(configured, int64(fits)-kafka.RecordOverhead)
}
