// Command debug-producer sends a command to queue-control and waits for the
// answer on queue-events: ping round-trip times, or the terminal event of a
// stop. Results go to stdout, JSON logs to stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/observe"
	"github.com/streamforge/streamforge/internal/probe"
)

func main() { os.Exit(run()) }

func run() int {
	o, err := probe.ParseArgs(os.Args[1:], os.Environ(), os.Stderr)
	switch {
	case errors.Is(err, probe.ErrHelp):
		return 0
	case errors.Is(err, probe.ErrVersion):
		fmt.Println(buildinfo.Read().Line("debug-producer"))
		return 0
	}
	log := observe.NewLogger(os.Stderr, o.Debug)
	if err != nil {
		log.Error("invalid command line", "err", err.Error())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := probe.Dial(ctx, o.Kafka, log, o.Topics)
	if err != nil {
		log.Error("connecting to kafka failed", "err", err.Error())
		return 1
	}
	defer p.Close()
	ok, err := probe.Run(ctx, o, p, os.Stdout, log)
	if err != nil {
		log.Error("debug-producer failed", "err", err.Error())
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}
