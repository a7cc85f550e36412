package broker

import (
	"fmt"
	"log/slog"
	"net"
	"time"
)

// EnsureLocal makes sure a broker answers at cfg.Addr, for programs running
// with no Kafka configured. It returns nil when one already listens there
// (a `broker` process, another program's embedded broker); otherwise it
// starts the embedded broker with cfg, for the caller to close. Either way
// it logs which.
func EnsureLocal(cfg Config, log *slog.Logger) (*Broker, error) {
	if listening(cfg.Addr) {
		log.Info("no Kafka configured: using the broker already listening", "addr", cfg.Addr)
		return nil, nil
	}
	b, err := Start(cfg, log.With("component", "broker"))
	if err != nil {
		if listening(cfg.Addr) { // another process won the race for the port
			log.Info("no Kafka configured: using the broker already listening", "addr", cfg.Addr)
			return nil, nil
		}
		return nil, fmt.Errorf("starting the embedded broker: %w", err)
	}
	log.Info("no Kafka configured and nothing listening: started the embedded single-node broker (development and small installs; use a real Kafka cluster in production)",
		"addr", b.Addr(), "data_dir", cfg.DataDir)
	return b, nil
}

func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
