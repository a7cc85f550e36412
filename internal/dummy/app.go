package dummy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/observe"
)

// RunApp is the whole dummy-service program: it finds or starts a broker,
// serves metrics, connects to Kafka and runs the service until its
// terminal event. It returns ErrFailed (wrapped) after fail-after, and
// other errors for faults such as an unreachable broker.
func RunApp(ctx context.Context, o Options, log *slog.Logger) error {
	cfg := o.Service.withDefaults()
	log.Info("dummy-service starting",
		"queue_id", cfg.QueueID, "symbol", cfg.Symbol, "type", cfg.Type, "time_range", cfg.TimeRange,
		"interval", cfg.Interval, "producer", cfg.ProducerID, "kafka_topic", cfg.KafkaTopic,
		"events_topic", cfg.EventsTopic, "control_topic", cfg.ControlTopic,
		"k8s_namespace", cfg.K8sNamespace, "pod_name", cfg.PodName, "noop", cfg.Noop,
		"exit_on_ping", cfg.ExitOnPing, "simulate_loading", cfg.SimulateLoading,
		"exit_after", cfg.ExitAfter.String(), "fail_after", cfg.FailAfter.String())
	if len(o.Arango) > 0 {
		log.Info("ArangoDB settings present (reported only, not used)", "arango", o.Arango)
	}

	reg := observe.NewRegistry()
	// "dummy" is the prefix of every dummy-service metric: dummy_build_info.
	if err := observe.RegisterBuildInfo(reg, "dummy", buildinfo.Read()); err != nil {
		return err
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return err
	}
	kc := o.Kafka
	if len(kc.Brokers) == 0 {
		b, err := broker.EnsureLocal(broker.Config{Addr: o.BrokerAddr, DataDir: o.DataDir}, log)
		if err != nil {
			return err
		}
		if b != nil {
			defer b.Close()
		}
		kc.Brokers = []string{o.BrokerAddr}
	}

	// The server answers /readyz before the service exists.
	var current atomic.Pointer[readiness]
	ready := func(ctx context.Context) error {
		r := current.Load()
		if r == nil {
			return errors.New("starting")
		}
		return r.check(ctx)
	}
	srv, err := observe.Listen(o.MetricsAddr, reg, ready, log)
	if err != nil {
		return err
	}
	srvCtx, stopServer := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(srvCtx); err != nil {
			log.Error("metrics server failed", "err", err)
		}
	})
	defer func() {
		stopServer()
		wg.Wait()
	}()

	log.Info("connecting to kafka", "brokers", kc.Addrs(), "security_protocol", kc.Protocol(), "user", kc.User, "ca_path", kc.CAPath)
	pub, err := kafka.Connect(ctx, kc, log)
	if err != nil {
		return fmt.Errorf("connecting to kafka: %w", err)
	}
	defer pub.Close()
	if err := pub.EnsureTopic(ctx, kafka.TopicSpec{Name: cfg.EventsTopic}); err != nil {
		return err
	}
	var cmds CommandReader
	clients := []*kafka.Client{pub}
	if !cfg.Noop {
		c, err := kafka.NewConsumer(ctx, kc, log, kafka.ConsumerOptions{
			Group: cfg.Group(), Topics: []string{cfg.ControlTopic}, FromLatest: true,
		})
		if err != nil {
			return fmt.Errorf("joining consumer group %s: %w", cfg.Group(), err)
		}
		defer c.Close()
		cmds = c
		clients = append(clients, c.Client)
		log.Info("consuming commands", "topic", cfg.ControlTopic, "group", cfg.Group())
	}

	svc := New(cfg, pub, cmds, log, m)
	current.Store(&readiness{svc: svc, clients: clients})
	runErr := svc.Run(ctx)
	if o.MetricsLinger > 0 && ctx.Err() == nil {
		log.Info("serving final metrics before exit", "for", o.MetricsLinger.String())
		select {
		case <-ctx.Done():
		case <-time.After(o.MetricsLinger):
		}
	}
	return runErr
}

// readiness is the answer of /readyz: ready while the service runs and
// its Kafka clients reach a broker.
type readiness struct {
	svc     *Service
	clients []*kafka.Client // the publisher first
}

func (r *readiness) check(ctx context.Context) error {
	if !r.svc.Ready() {
		return errors.New("the service is not running")
	}
	// The consumer's fetches tell of a lost broker without a request; an
	// idle publisher, as under --noop, learns it by asking.
	for _, c := range r.clients[1:] {
		if _, err := c.Reachability(); err != nil {
			return err
		}
	}
	return r.clients[0].Ping(ctx)
}
