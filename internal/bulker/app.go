package bulker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/topics"
)

// LocalDestination is the id of the SQLite destination bulker offers when
// no destination is configured.
const LocalDestination = "local"

// Options are what cmd/bulker hands to Run.
type Options struct {
	Config    config.Config
	Environ   []string // for BULKER_DESTINATION_* variables
	Factories map[string]Factory
	Log       *slog.Logger
	Registry  *prometheus.Registry
	// Listening, when set, is called with the HTTP address once bound.
	Listening func(addr string)
}

// Run serves until ctx ends, then shuts down in order: stop accepting HTTP
// requests, let the loaders load and commit the batches they hold, close
// Kafka clients, destinations and the embedded broker — all within
// Config.ShutdownTimeout.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Log
	// Destinations first: a bad one fails start-up before anything runs.
	reg := NewRegistry(o.Factories, log)
	defer reg.Close()
	sources, err := config.Open(cfg, o.Environ)
	if err != nil {
		return err
	}
	defer sources.Close()
	if err := loadDestinations(ctx, sources, reg, cfg.DataDir, log); err != nil {
		return err
	}

	kcfg := cfg.Kafka
	if cfg.EmbeddedKafka {
		var stop func()
		var err error
		if kcfg, stop, err = embeddedKafka(cfg.EmbeddedKafkaAddr, cfg.DataDir, log); err != nil {
			return err
		}
		defer stop()
	}
	kcfg.ClientID = "bulker-" + cfg.InstanceID

	producer, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		return fmt.Errorf("connecting to kafka: %w", err)
	}
	defer producer.Close()

	events, closeEvents, err := eventsLog(cfg)
	if err != nil {
		return err
	}
	defer closeEvents()

	manager := loader.NewManager(loader.Config{
		Prefix:    cfg.TopicPrefix,
		BatchSize: cfg.BatchSize,
		Period:    cfg.BatchPeriod,
		Retry: loader.RetryPolicy{Attempts: cfg.RetryCount, Base: cfg.RetryBackoffBase,
			MaxDelay: cfg.RetryBackoffMaxDelay.Minutes(), Unit: time.Minute},
		ShutdownTimeout: cfg.ShutdownTimeout,
		EventsLogMax:    cfg.EventsLogMaxSize,
	}, loader.Deps{
		Destinations: reg,
		Admin:        producer,
		NewConsumer: func(ctx context.Context, group, topic string) (loader.Consumer, error) {
			o := kafka.ConsumerOptions{Group: group, Topics: []string{topic}}
			if n, err := topics.Parse(cfg.TopicPrefix, topic); err == nil {
				o.MinBytes, o.MaxWait = fetchWait(n.Mode)
			}
			return kafka.NewConsumer(ctx, kcfg, log, o)
		},
		Producer: producer,
		Events:   events,
		Log:      log,
		Metrics:  loader.NewMetrics(o.Registry),
	})

	tokens, err := cfg.Tokens()
	if err != nil {
		return err
	}
	if !tokens.Enabled() {
		log.Warn("no API token configured (BULKER_RAW_AUTH_TOKENS / BULKER_AUTH_TOKENS): the API is open to anyone who can reach it", "addr", cfg.Addr())
	}
	api, err := ingest.New(ingest.Deps{
		Producer:     newPublisher(producer, -1, int16(cfg.TopicReplicationFactor), cfg.TopicRetention, manager.Notify),
		Destinations: reg,
		Events:       events,
		Bulk:         bulkLoader{dests: reg},
		Failed:       failedReader{kafka: kcfg, prefix: cfg.TopicPrefix, log: log, scan: 10000},
		Auth:         tokens,
		Ready:        readiness{producer},
		Metrics:      promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}),
		Registerer:   o.Registry,
		Logger:       log,
		TopicPrefix:  cfg.TopicPrefix,
		MaxEventSize: cfg.MaxEventSize,
		MaxBulkSize:  cfg.MaxBulkSize,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr(), err)
	}
	log.Info("bulker listening", "addr", ln.Addr().String(), "kafka", kcfg.Addrs(), "destinations", sources.String())
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}

	loadCtx, stopLoaders := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoaders()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP: %w", err)
		}
		return nil
	})
	if cfg.PprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, cfg.PprofAddr, log) })
	}
	loadersDone := make(chan error, 1)
	go func() { loadersDone <- manager.Run(loadCtx) }()
	g.Go(func() error {
		reloadDestinations(gctx, sources, reg, cfg, log)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Both within one timeout: HTTP stops taking events and answers the
		// requests in flight while the loaders finish and commit the batches
		// they hold (events produced meanwhile wait in Kafka for the next run).
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		stopLoaders()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("HTTP shutdown timed out", "err", err)
		}
		select {
		case <-loadersDone:
		case <-sctx.Done():
			log.Warn("loaders did not stop within the shutdown timeout; unloaded events stay in kafka")
		}
		return nil
	})
	err = g.Wait()
	log.Info("bulker stopped")
	return err
}

// fetchWait is how long the broker may hold a loader's fetch for data to
// pile up, and how much is enough. Fetches answered at the first record
// cost the broker and bulker a round trip per handful of events. A batch
// waits for its period anyway; a stream trades 20 ms of latency for
// loading tens of events per transaction instead of a few.
func fetchWait(mode string) (minBytes int32, maxWait time.Duration) {
	if mode == destination.ModeStream {
		return 256 << 10, 20 * time.Millisecond
	}
	return 1 << 20, 100 * time.Millisecond
}

// loadDestinations reads the configured destinations; with none, it offers
// the local SQLite destination in the data directory.
func loadDestinations(ctx context.Context, src config.Source, reg *Registry, dataDir string, log *slog.Logger) error {
	dests, err := src.Destinations(ctx)
	if err != nil {
		return err
	}
	if len(dests) == 0 {
		path := filepath.Join(dataDir, "local.db")
		dests = []destination.Config{{
			ID: LocalDestination, Type: "sqlite",
			Options:     destination.Options{Mode: destination.ModeBatch, Frequency: 1.0 / 60},
			Credentials: destination.Credentials{Database: path},
		}}
		log.Info("no destination configured: serving the local SQLite destination", "destination", LocalDestination, "path", path)
	}
	return reg.Set(dests)
}

// reloadDestinations re-reads the sources periodically; a bad read keeps
// the configuration in force.
func reloadDestinations(ctx context.Context, src config.Source, reg *Registry, cfg config.Config, log *slog.Logger) {
	if cfg.ConfigReloadPeriod <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(cfg.ConfigReloadPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := loadDestinations(ctx, src, reg, cfg.DataDir, log); err != nil && ctx.Err() == nil {
				log.Error("reloading destinations failed; keeping the previous configuration", "err", err)
			}
		}
	}
}

func eventsLog(cfg config.Config) (ingest.EventsLog, func(), error) {
	if cfg.RedisURL == "" {
		return eventslog.NewMemory(cfg.EventsLogMaxSize), func() {}, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL.Reveal())
	if err != nil {
		return nil, nil, errors.New("BULKER_REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(opts)
	return eventslog.NewRedis(rdb, "bulker:events:", cfg.EventsLogMaxSize), func() { _ = rdb.Close() }, nil
}

// readiness reports ready while a Kafka broker answers.
type readiness struct{ c *kafka.Client }

func (r readiness) Ready(ctx context.Context) error {
	if err := r.c.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}
