// Command broker runs StreamForge's embedded single-node Kafka-protocol
// broker (franz-go kfake) for development, CI and small one-machine
// installs. Production uses a real Kafka cluster.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/observe"
)

func main() { os.Exit(run()) }

// users collects repeated --user flags.
type users []broker.User

func (u *users) String() string {
	names := make([]string, len(*u))
	for i, x := range *u {
		names[i] = x.Mechanism + ":" + x.Name + ":***"
	}
	return strings.Join(names, ",")
}

func (u *users) Set(v string) error {
	x, err := broker.ParseUser(v)
	if err != nil {
		return err
	}
	*u = append(*u, x)
	return nil
}

func run() int {
	var (
		cfg               broker.Config
		us                users
		certFile, keyFile string
		debug, version    bool
	)
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "listen", kafka.DefaultBootstrap, "host:port to listen on")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data/kafka", "directory persisting topics, offsets and groups; empty keeps them in memory")
	fs.BoolVar(&cfg.SyncWrites, "sync-writes", false, "fsync every produced batch before acknowledging it")
	fs.Var(&us, "user", "SASL user MECHANISM:name:password (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); repeatable; turns SASL on")
	fs.StringVar(&certFile, "tls-cert", "", "PEM certificate of the broker; with --tls-key turns TLS on")
	fs.StringVar(&keyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.IntVar(&cfg.Partitions, "partitions", 1, "partitions of auto-created topics")
	fs.BoolVar(&debug, "debug", false, "log every request at DEBUG level")
	fs.BoolVar(&version, "version", false, "print the version, commit and Go release, then exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if version {
		fmt.Println(buildinfo.Read().Line("broker"))
		return 0
	}
	log := observe.NewLogger(os.Stdout, debug)
	cfg.Users = us
	if (certFile == "") != (keyFile == "") {
		log.Error("invalid configuration", "err", "--tls-cert and --tls-key go together")
		return 2
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			log.Error("invalid configuration", "err", fmt.Sprintf("loading TLS pair %s, %s: %v", certFile, keyFile, err))
			return 2
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	b, err := broker.Start(cfg, log)
	if err != nil {
		log.Error("broker failed to start", "err", err.Error())
		return 1
	}
	log.Info("broker listening (embedded single-node broker: development, CI and small installs)",
		"addr", b.Addr(), "data_dir", cfg.DataDir, "sync_writes", cfg.SyncWrites,
		"tls", cfg.TLS != nil, "sasl_users", us.String())
	<-ctx.Done()
	log.Info("shutting down")
	b.Close()
	log.Info("broker stopped")
	return 0
}
