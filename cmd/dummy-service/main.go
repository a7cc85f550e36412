// Command dummy-service is StreamForge's command/telemetry test service: it
// answers commands from queue-control and publishes lifecycle events to
// queue-events. See the README for flags and environment variables.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/dummy"
	"github.com/streamforge/streamforge/internal/observe"
)

func main() { os.Exit(run()) }

func run() int {
	o, err := dummy.ParseArgs(os.Args[1:], os.Environ(), os.Stderr)
	switch {
	case errors.Is(err, dummy.ErrHelp):
		return 0
	case errors.Is(err, dummy.ErrVersion):
		fmt.Println(buildinfo.Read().Line("dummy-service"))
		return 0
	}
	log := observe.NewLogger(os.Stdout, o.Debug)
	if err != nil {
		log.Error("invalid configuration", "err", err.Error())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := dummy.RunApp(ctx, o, log); err != nil {
		log.Error("dummy-service exiting with an error", "err", err.Error())
		return 1
	}
	log.Info("dummy-service exited")
	return 0
}
