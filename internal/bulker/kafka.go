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
// spec, as the incoming ones are, rather than leave them to the broker's
// defaults at their first record; then it makes every existing topic
// bulker writes accept its largest event (topics made by an earlier
// version or by hand may be smaller).
func prepareTopics(ctx context.Context, c *kafka.Client, cfg config.Config) error {
	names := []string{topics.Retry(cfg.TopicPrefix), topics.Dead(cfg.TopicPrefix)}
	for _, name := range names {
		spec := cfg.Topics
		spec.Name = name
		if err := c.EnsureTopic(ctx, spec); err != nil {
			return err
		}
	}
	all, err := c.Topics(ctx)
	if err != nil {
		return err
	}
	for _, t := range all {
		if _, err := topics.Parse(cfg.TopicPrefix, t); err == nil {
			names = append(names, t)
		}
	}
	if err := c.FitTopics(ctx, cfg.Topics.MaxMessageBytes, names...); err != nil {
		return fmt.Errorf("BULKER_MAX_EVENT_SIZE %d: %w", cfg.Ingest.MaxEventSize, err)
	}
	return nil
}
