package bulker

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/kafka"
)

// embeddedConnectTimeout bounds connecting to the embedded broker, which
// runs on this machine.
const embeddedConnectTimeout = 30 * time.Second

// embeddedKafka returns the Kafka settings to use when none are configured:
// the broker already answering at addr (a `broker` program, another bulker),
// or an embedded broker started here on addr with its data in dataDir. stop
// closes the embedded broker, if one was started.
func embeddedKafka(addr, dataDir string, log *slog.Logger) (cfg kafka.Config, stop func(), err error) {
	b, err := broker.EnsureLocal(addr, filepath.Join(dataDir, "kafka"), log)
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
