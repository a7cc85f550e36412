package bulker

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/sink"
)

// LocalDestination is the id of the SQLite destination bulker offers when
// no destination is configured.
const LocalDestination = "local"

// localPeriod is the batch period of the local destination: a newcomer
// sees an event in SQLite a second after posting it.
const localPeriod = 1.0 / 60 // minutes

// loadDestinations reads the configured destinations and sources; with no
// destination, it offers the local SQLite destination in the data
// directory. Nothing changes unless both are valid.
func loadDestinations(ctx context.Context, src *config.Sources, dests *sink.Registry, sources *sourceSet, cfg config.Config, log *slog.Logger) error {
	cfgs, srcs, err := src.Read(ctx)
	if err != nil {
		return err
	}
	if len(cfgs) == 0 {
		path := filepath.Join(cfg.DataDir, "local.db")
		cfgs = []destination.Config{{
			ID: LocalDestination, Type: "sqlite",
			Options:     destination.Options{Mode: destination.Batch, Frequency: localPeriod},
			Credentials: destination.Credentials{Database: path},
		}}
		log.Info("no destination configured: serving the local SQLite destination", "destination", LocalDestination, "path", path)
	}
	if err := checkSources(srcs, cfgs, dests.Types(), cfg.TopicPrefix); err != nil {
		return err
	}
	if err := dests.Set(cfgs); err != nil {
		return err
	}
	sources.set(srcs)
	return nil
}

// reloadDestinations re-reads the sources periodically; a bad read keeps
// the configuration in force.
func reloadDestinations(ctx context.Context, src *config.Sources, dests *sink.Registry, sources *sourceSet, cfg config.Config, log *slog.Logger) {
	t := time.NewTicker(cfg.Sources.ReloadPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := loadDestinations(ctx, src, dests, sources, cfg, log); err != nil && ctx.Err() == nil {
				log.Error("reloading destinations failed; keeping the previous configuration", "err", err)
			}
		}
	}
}

// redisEventsPrefix starts the keys of the events log in Redis; every
// instance of bulker shares them.
const redisEventsPrefix = "bulker:events:"

// eventsLog opens the events log: in Redis when configured, else in memory.
func eventsLog(c config.EventsLog) (ingest.EventsLog, func(), error) {
	if c.RedisURL == "" {
		return eventslog.NewMemory(c.MaxSize), func() {}, nil
	}
	opts, err := redis.ParseURL(c.RedisURL.Reveal())
	if err != nil {
		return nil, nil, errors.New("BULKER_REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(opts)
	return eventslog.NewRedis(rdb, redisEventsPrefix, c.MaxSize), func() { _ = rdb.Close() }, nil
}
