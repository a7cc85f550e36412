// Package dummy is the dummy-service: it reads commands for its queue from
// the control topic, answers pings, simulates loading and failure, and
// publishes lifecycle events, ending every run with exactly one terminal
// event (interrupted, finished or error).
package dummy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Publisher writes one record and returns once the broker acknowledged it.
type Publisher interface {
	Produce(ctx context.Context, topic string, key, value []byte, headers []kafka.Header) error
}

// CommandReader is the control topic seen through the service's consumer
// group.
type CommandReader interface {
	Poll(ctx context.Context, max int) ([]kafka.Record, error)
	Commit(ctx context.Context, recs []kafka.Record) error
}

// ErrFailed is returned by Run after the error event of fail-after.
var ErrFailed = errors.New("dummy-service failed")

// Service is one run of the dummy-service.
type Service struct {
	cfg   Config
	pub   Publisher
	cmds  CommandReader
	log   *slog.Logger
	m     *Metrics
	now   func() time.Time
	ready atomic.Bool

	batches int64 // loading batches published; owned by Run
}

// New builds a service. cmds is nil in --noop mode.
func New(cfg Config, pub Publisher, cmds CommandReader, log *slog.Logger, m *Metrics) *Service {
	return &Service{cfg: cfg.withDefaults(), pub: pub, cmds: cmds, log: log, m: m, now: time.Now}
}

// Ready reports whether the service has started and not ended yet.
func (s *Service) Ready() bool { return s.ready.Load() }

// Run publishes started, then serves until a terminal event: a stop
// command (interrupted), exit-after, exit-on-ping, the end of ctx (a
// signal) or the end of a noop run (finished), fail-after (error, and Run
// returns ErrFailed). The terminal event is acknowledged by the broker
// before Run returns, or Run returns why it was not.
func (s *Service) Run(ctx context.Context) error {
	if err := s.publishStatus(control.EventStarted, "dummy-service started", ""); err != nil {
		return err
	}
	s.ready.Store(true)
	defer s.ready.Store(false)

	// The reader outlives ctx on purpose: a signal ends the run through the
	// loop below, which then stops the reader.
	readCtx, stopReading := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stopReading()
		wg.Wait()
	}()
	cmds := make(chan control.Command)
	if s.cmds != nil {
		wg.Go(func() { s.readCommands(readCtx, cmds) })
	} else if s.cfg.ExitAfter == 0 && s.cfg.FailAfter == 0 {
		return s.finish(control.EventFinished, "noop: started only")
	}

	var exitAfter, failAfter, loading <-chan time.Time
	if s.cfg.ExitAfter > 0 {
		t := time.NewTimer(s.cfg.ExitAfter)
		defer t.Stop()
		exitAfter = t.C
	}
	failTimer := time.NewTimer(time.Hour)
	failTimer.Stop()
	defer failTimer.Stop()
	if s.cfg.FailAfter > 0 {
		failTimer.Reset(s.cfg.FailAfter)
		failAfter = failTimer.C
	}
	ticker := time.NewTicker(s.cfg.LoadingInterval)
	ticker.Stop()
	defer ticker.Stop()
	if s.cfg.SimulateLoading {
		ticker.Reset(s.cfg.LoadingInterval)
		loading = ticker.C
	}

	for {
		select {
		case <-ctx.Done():
			return s.finish(control.EventFinished, "shutdown signal received")
		case <-exitAfter:
			return s.finish(control.EventFinished, fmt.Sprintf("exit-after %s elapsed", s.cfg.ExitAfter))
		case <-failAfter:
			return s.finish(control.EventError, "fail-after elapsed")
		case <-loading:
			s.batches++
			if err := s.publishStatus(control.EventLoading, fmt.Sprintf("loading batch %d", s.batches), ""); err != nil {
				s.log.Error("publishing loading event failed", "err", err)
			}
		case c := <-cmds:
			switch c.Command {
			case control.CmdPing:
				s.m.pings.Inc()
				s.pong(c)
				if s.cfg.ExitOnPing {
					return s.finish(control.EventFinished, "exit-on-ping: answered a ping")
				}
			case control.CmdStop:
				return s.finish(control.EventInterrupted, "stopped by command")
			case control.CmdSimulateLoading:
				if loading == nil {
					ticker.Reset(s.cfg.LoadingInterval)
					loading = ticker.C
				}
				s.log.Info("simulating loading", "interval", s.cfg.LoadingInterval.String())
			case control.CmdFailAfter:
				d, _ := c.Seconds() // validated by the reader
				failTimer.Reset(d)
				failAfter = failTimer.C
				s.log.Info("failing as asked", "after", d.String())
			}
		}
	}
}

// readCommands feeds commands for this queue to out until ctx ends. A
// polled batch is committed before its commands are handed on, so a stop
// that was read is never replayed after a restart; a batch of pings alone,
// harmless to answer twice, is committed after, which keeps the commit's
// round trip out of the ping's.
func (s *Service) readCommands(ctx context.Context, out chan<- control.Command) {
	for {
		recs, err := s.cmds.Poll(ctx, 0)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.m.errors.Inc()
			s.log.Warn("reading commands failed, retrying", "topic", s.cfg.ControlTopic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		var cmds []control.Command
		pingsOnly := true
		for _, r := range recs {
			if c, ok := s.accept(r); ok {
				cmds = append(cmds, c)
				pingsOnly = pingsOnly && c.Command == control.CmdPing
			}
		}
		if !pingsOnly {
			s.commit(ctx, recs)
		}
		for _, c := range cmds {
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
		if pingsOnly {
			s.commit(ctx, recs)
		}
	}
}

func (s *Service) commit(ctx context.Context, recs []kafka.Record) {
	if err := s.cmds.Commit(ctx, recs); err != nil && ctx.Err() == nil {
		s.m.errors.Inc()
		s.log.Warn("committing command offsets failed", "err", err)
	}
}

// accept decodes a record and decides whether it is a valid command for
// this service; malformed ones are logged and counted.
func (s *Service) accept(r kafka.Record) (control.Command, bool) {
	c, err := control.DecodeCommand(r.Value)
	if c.QueueID != "" && !c.For(s.cfg.QueueID) {
		s.log.Debug("command for another queue ignored", "queue_id", c.QueueID, "offset", r.Offset)
		return c, false
	}
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		reason, _ := control.ReasonOf(err)
		s.m.malformed.WithLabelValues(string(reason)).Inc()
		s.log.Warn("malformed command skipped", "reason", string(reason), "err", err.Error(),
			"partition", r.Partition, "offset", r.Offset)
		return c, false
	}
	s.log.Debug("command received", "command", c.Command, "queue_id", c.QueueID, "offset", r.Offset)
	return c, true
}

func (s *Service) pong(c control.Command) {
	ev := s.event(control.EventPong)
	ev.PingTS = c.SentAt
	ev.PongedAt = ev.SentAt
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.publish(ctx, ev); err != nil {
		s.log.Error("publishing pong failed", "err", err)
		return
	}
	s.m.pongs.Inc()
	// A negative delay says only that the two clocks disagree; it would
	// drag the histogram's sum below what any ping took.
	if c.SentAt != nil && ev.PongedAt >= *c.SentAt {
		s.m.pingDelay.Observe(ev.PongedAt - *c.SentAt)
	}
}

// finish publishes the run's terminal event within the shutdown timeout.
func (s *Service) finish(event, message string) error {
	s.ready.Store(false)
	errMsg := ""
	if event == control.EventError {
		s.m.errors.Inc()
		errMsg = message
		message = "dummy-service failed as asked"
	}
	if err := s.publishStatus(event, message, errMsg); err != nil {
		return err
	}
	s.log.Info("run ended", "event", event, "message", message)
	if event == control.EventError {
		return fmt.Errorf("%w: %s", ErrFailed, errMsg)
	}
	return nil
}

func (s *Service) publishStatus(event, message, errMsg string) error {
	ev := s.event(event)
	ev.Status = event
	ev.Message = message
	ev.Finished = event == control.EventFinished
	ev.RecordsWritten = s.batches * 100
	ev.TimeRange = s.cfg.TimeRange
	ev.KafkaTopic = s.cfg.KafkaTopic
	ev.K8sNamespace = s.cfg.K8sNamespace
	ev.ErrorMessage = errMsg
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.publish(ctx, ev); err != nil {
		return fmt.Errorf("publishing %s event: %w", event, err)
	}
	s.m.setStatus(event)
	s.log.Info("event published", "event", event, "message", message, "records_written", ev.RecordsWritten)
	return nil
}

func (s *Service) event(name string) control.Event {
	return control.Event{
		Event: name, QueueID: s.cfg.QueueID, Symbol: s.cfg.Symbol, Type: s.cfg.Type,
		Producer: s.cfg.ProducerID, SentAt: control.UnixSeconds(s.now()),
	}
}

func (s *Service) publish(ctx context.Context, ev control.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", ev.Event, err)
	}
	if err := s.pub.Produce(ctx, s.cfg.EventsTopic, []byte(s.cfg.QueueID), b, nil); err != nil {
		s.m.errors.Inc()
		return err
	}
	s.m.events.WithLabelValues(ev.Event).Inc()
	return nil
}
