// Package broker runs the embedded single-node Kafka-protocol broker
// (franz-go's kfake) that StreamForge uses for development, CI and small
// one-machine installs. It persists to a data directory so records survive
// a restart. Production and multi-machine setups use a real Kafka cluster
// through the same client code; this package is never needed there.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// User is a SASL login the broker accepts.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// ParseUser reads "MECHANISM:user:password" (the broker's --user flag).
func ParseUser(s string) (User, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[1] == "" {
		return User{}, errors.New("user must look like MECHANISM:name:password")
	}
	u := User{Mechanism: strings.ToUpper(parts[0]), Name: parts[1], Password: parts[2]}
	switch u.Mechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return User{}, fmt.Errorf("user %s: mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Name, u.Mechanism)
	}
	return u, nil
}

// Config configures the embedded broker.
type Config struct {
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// DataDir persists topics, offsets and groups; empty keeps them in memory.
	DataDir string
	// SyncWrites fsyncs every produced batch before it is acknowledged.
	SyncWrites bool
	// Users turns SASL on; every user is a superuser.
	Users []User
	// TLS, when set, serves TLS only.
	TLS *tls.Config
	// Partitions is the default partition count of auto-created topics.
	Partitions int
	// MaxMessageBytes is the largest record batch a topic accepts unless
	// its max.message.bytes says otherwise; zero keeps Kafka's default of
	// 1,048,588.
	MaxMessageBytes int32
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start listens and serves until Close.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker listen address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker listen port %q: %w", portStr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	parts := cfg.Partitions
	if parts <= 0 {
		parts = 1
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("streamforge-embedded"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(parts),
		// Groups must notice a killed consumer within seconds, as on a
		// tuned real cluster, so restarts in tests and development are fast.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(address)
			ln, err := net.Listen(network, net.JoinHostPort(host, p))
			if err != nil {
				return nil, err
			}
			// TLS is ours rather than kfake.TLS's, which would wrap this
			// listener: the handshake shim must see the plaintext.
			if cfg.TLS != nil {
				ln = tls.NewListener(ln, cfg.TLS)
			}
			if len(cfg.Users) > 0 {
				ln = handshakeListener{ln}
			}
			return ln, nil
		}),
		kfake.WithLogger(slogAdapter{log}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	if cfg.MaxMessageBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(int(cfg.MaxMessageBytes))}))
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", cfg.Addr, err)
	}
	addrs := c.ListenAddrs()
	return &Broker{c: c, addr: addrs[0]}, nil
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Close stops serving and writes the data directory out.
func (b *Broker) Close() { b.c.Close() }

type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Logf(l kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch l {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		// kfake logs every request at info: that is debug detail for us.
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	ctx := context.Background() // kfake gives no context
	if a.log.Enabled(ctx, lvl) {
		a.log.Log(ctx, lvl, "broker: "+fmt.Sprintf(format, args...))
	}
}
