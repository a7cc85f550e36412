package bulker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/kafka"
)

// embeddedKafka returns the Kafka settings to use when none are configured:
// the broker already answering at addr (a `broker` program, another bulker),
// or an embedded broker started here on addr with its data in dataDir. stop
// closes the embedded broker, if one was started.
func embeddedKafka(ctx context.Context, addr, dataDir string, log *slog.Logger) (cfg kafka.Config, stop func(), err error) {
	cfg = kafka.Config{Brokers: []string{addr}, ConnectTimeout: time.Second, ClientID: "bulker"}
	if c, err := kafka.Connect(ctx, cfg, discardLogger()); err == nil {
		c.Close()
		log.Info("using the Kafka broker already running", "addr", addr)
		cfg.ConnectTimeout = 30 * time.Second
		return cfg, func() {}, nil
	}
	dir := filepath.Join(dataDir, "kafka")
	b, err := broker.Start(broker.Config{Addr: addr, DataDir: dir}, log)
	if err != nil {
		return cfg, nil, fmt.Errorf("starting the embedded Kafka broker: %w", err)
	}
	log.Info("started the embedded single-node Kafka broker (development and small installs; use a real Kafka cluster in production)",
		"addr", b.Addr(), "data_dir", dir)
	cfg.Brokers = []string{b.Addr()}
	cfg.ConnectTimeout = 30 * time.Second
	return cfg, b.Close, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
