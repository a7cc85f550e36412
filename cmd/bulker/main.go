// Command bulker loads JSON events into SQL databases: HTTP ingest → Kafka →
// batched or streamed loads with automatic schema management. With nothing
// configured it runs the embedded broker and a local SQLite destination.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/bulker"
	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/mysql"
	"github.com/streamforge/streamforge/internal/destination/postgres"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/gcfloor"
	"github.com/streamforge/streamforge/internal/observe"
)

func main() {
	if code, done := parseFlags(os.Args[1:], os.Stdout, os.Stderr); done {
		os.Exit(code)
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulker: configuration:", err)
		os.Exit(2)
	}
	if cfg.PprofAddr == "" {
		// No profiler to read heap profiles from: sampling them would cost
		// a 1.4 MB table and a little CPU for nothing.
		runtime.MemProfileRate = 0
	}
	log := observe.NewLeveledLogger(os.Stdout, cfg.LogFormat == "text", cfg.LogLevel)
	for _, v := range config.Unknown(os.Environ()) {
		log.Warn("unknown variable ignored", "name", v)
	}
	if ig := config.Ignored(os.Environ()); len(ig) > 0 {
		log.Warn("Jitsu Bulker variables not supported here, ignored", "names", ig)
	}
	reg := observe.NewRegistry()
	if err := observe.RegisterBuildInfo(reg, "bulker", buildinfo.Read()); err != nil {
		log.Error("bulker failed", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case cfg.GCHeapFloorMB == 0:
	case os.Getenv("GOGC") != "":
		log.Info("GOGC is set: BULKER_GC_HEAP_FLOOR_MB not applied")
	default:
		// The operator's GOMEMLIMIT stays; else the floor keeps a backstop.
		gcfloor.Run(ctx, gcfloor.Options{Floor: uint64(cfg.GCHeapFloorMB) << 20, Limit: os.Getenv("GOMEMLIMIT") == ""})
	}
	err = bulker.Run(ctx, bulker.Options{
		Config:  cfg,
		Environ: os.Environ(),
		// A destination type is one line here and one folder under
		// internal/destination.
		Factories: map[string]destination.Factory{
			"postgres": postgres.Open,
			"mysql":    mysql.Open,
			"sqlite":   sqlite.Open,
		},
		Log:      log,
		Registry: reg,
	})
	if err != nil {
		log.Error("bulker failed", "err", err)
		os.Exit(1)
	}
}
