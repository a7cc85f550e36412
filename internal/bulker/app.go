// Package bulker is the composition root of the bulker service: it opens
// the destinations, starts the embedded broker when no Kafka is
// configured, the loaders and the HTTP API, and shuts them down in order,
// within one bound.
package bulker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/console"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/observe"
	"github.com/streamforge/streamforge/internal/replay"
	"github.com/streamforge/streamforge/internal/sink"
)

// Options are what cmd/bulker hands to Run.
type Options struct {
	Config    config.Config
	Environ   []string // for BULKER_DESTINATION_* variables
	Factories map[string]destination.Factory
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
	dests := sink.NewRegistry(o.Factories, log)
	defer dests.Close()
	sources, err := config.Open(cfg.Sources, o.Environ)
	if err != nil {
		return err
	}
	defer sources.Close()
	topicSources := &sourceSet{}
	if err := loadDestinations(ctx, sources, dests, topicSources, cfg, log); err != nil {
		return err
	}
	if err := o.Registry.Register(dests.UnsupportedCollector()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}

	kcfg := cfg.Kafka
	if cfg.EmbeddedKafka {
		var stop func()
		if kcfg, stop, err = embeddedKafka(cfg.EmbeddedKafkaAddr, cfg.DataDir, cfg.Topics.MaxMessageBytes, log); err != nil {
			return err
		}
		defer stop()
		kcfg.ClientID, kcfg.MaxBatchBytes, kcfg.Compression = cfg.Kafka.ClientID, cfg.Kafka.MaxBatchBytes, cfg.Kafka.Compression
	}
	client, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		return fmt.Errorf("connecting to kafka: %w", err)
	}
	defer client.Close()
	if cfg.Ingest.MaxEventSize, err = prepareTopics(ctx, client, cfg, log); err != nil {
		return err
	}

	events, closeEvents, err := eventsLog(cfg.EventsLog)
	if err != nil {
		return err
	}
	defer closeEvents()

	loaderMetrics, err := loader.NewMetrics(o.Registry)
	if err != nil {
		return err
	}
	manager := loader.NewManager(cfg.Loader, loader.Deps{
		Destinations: dests,
		Admin:        client,
		NewConsumer: func(ctx context.Context, co kafka.ConsumerOptions) (loader.Consumer, error) {
			// Static membership: a replica restarted after a crash takes
			// its partitions back at once.
			co.InstanceID = cfg.InstanceID
			return kafka.NewConsumer(ctx, kcfg, log, co)
		},
		Producer: client,
		Events:   events,
		Log:      log,
		Metrics:  loaderMetrics,
		Sources:  topicSources,
		EnsureTopic: func(ctx context.Context, topic string) error {
			spec := cfg.Topics
			spec.Name = topic
			return client.EnsureTopic(ctx, spec)
		},
	})

	tokens, err := cfg.Auth.Tokens()
	if err != nil {
		return err
	}
	if !tokens.Enabled() {
		log.Warn("no API token configured (BULKER_RAW_AUTH_TOKENS / BULKER_AUTH_TOKENS): the API is open to anyone who can reach it", "addr", cfg.HTTP.Addr())
	}
	failed := kafka.Reader{Config: kcfg, Log: log}
	replayer, err := replay.New(cfg.TopicPrefix, cfg.Ingest.FailedScan, replay.Deps{
		Reader:   failed,
		Producer: client,
		EnsureTopic: func(ctx context.Context, _ string) error {
			return client.EnsureTopic(ctx, markerTopicSpec(cfg))
		},
		Events:     events,
		Registerer: o.Registry,
	})
	if err != nil {
		return err
	}
	pub := kafka.NewPublisher(client, cfg.Topics, manager.Notify)
	api, err := ingest.New(cfg.Ingest, ingest.Deps{
		Producer:     pub,
		Kafka:        pub,
		Destinations: dests,
		Events:       events,
		Bulk:         dests,
		Failed:       failed,
		Replay:       replayer,
		Test:         dests,
		Auth:         tokens,
		Ready:        readiness{client},
		Metrics:      promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}),
		Registerer:   o.Registry,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	con, err := console.New(console.Deps{
		Destinations: dests,
		Sources:      topicSources,
		Events:       events,
		Metrics:      o.Registry,
		Auth:         tokens,
		Log:          log,
	})
	if err != nil {
		return err
	}
	con.Register(api)
	ln, err := net.Listen("tcp", cfg.HTTP.Addr())
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.HTTP.Addr(), err)
	}
	var metricsSrv *observe.Server
	if cfg.MetricsPort != 0 {
		addr := net.JoinHostPort(cfg.HTTP.Host, strconv.Itoa(cfg.MetricsPort))
		if metricsSrv, err = observe.Listen(addr, o.Registry, readiness{client}.Ready, log); err != nil {
			_ = ln.Close()
			return fmt.Errorf("BULKER_METRICS_PORT: %w", err)
		}
	} else if cfg.ShutdownExtraDelay > 0 {
		log.Warn("BULKER_SHUTDOWN_EXTRA_DELAY_SEC keeps the metrics port serving after shutdown; without BULKER_METRICS_PORT it has nothing to keep")
	}
	log.Info("bulker listening", "addr", ln.Addr().String(), "kafka", kcfg.Addrs(), "destinations", sources.String())
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	srv := httpServer(api, cfg.HTTP)

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
		g.Go(func() error { return servePprof(gctx, cfg.PprofAddr, cfg.HTTP, log) })
	}
	// The metrics port outlives the rest by BULKER_SHUTDOWN_EXTRA_DELAY_SEC,
	// so a last scrape sees the final counts.
	metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMetrics()
	metricsDone := make(chan error, 1)
	if metricsSrv != nil {
		go func() { metricsDone <- metricsSrv.Serve(metricsCtx) }()
	} else {
		metricsDone <- nil
	}
	loadersDone := make(chan error, 1)
	if cfg.EnableConsumers {
		go func() { loadersDone <- manager.Run(loadCtx) }()
	} else {
		log.Info("BULKER_ENABLE_CONSUMERS is false: serving the API only; other instances load the events")
		loadersDone <- nil
	}
	g.Go(func() error {
		reloadDestinations(gctx, sources, dests, topicSources, cfg, log)
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
	if metricsSrv != nil && cfg.ShutdownExtraDelay > 0 && ctx.Err() != nil {
		log.Info("serving metrics a little longer for a last scrape", "delay", cfg.ShutdownExtraDelay.String())
		time.Sleep(cfg.ShutdownExtraDelay)
	}
	stopMetrics()
	if merr := <-metricsDone; merr != nil && err == nil {
		err = merr
	}
	log.Info("bulker stopped")
	return err
}

// httpServer serves h with the timeouts of c, so that no listener of
// bulker lets a slow or silent client hold a connection without bound.
// There is no WriteTimeout: a /bulk load or a profile may take minutes.
func httpServer(h http.Handler, c config.HTTP) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		IdleTimeout:       c.IdleTimeout,
	}
}

// readiness reports ready while a Kafka broker answers.
type readiness struct{ c *kafka.Client }

func (r readiness) Ready(ctx context.Context) error {
	if err := r.c.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}
