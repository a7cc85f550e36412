// Package probe is the logic of debug-producer: it sends commands to the
// control topic and matches the answers read from the events topic, which
// it subscribes to before sending so no fast answer is missed. Ping round
// trips are measured with the local monotonic clock and can be reused by a
// benchmark through Ping or PingRTTs.
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Publisher writes one record and returns once the broker acknowledged it.
type Publisher interface {
	Produce(ctx context.Context, topic string, key, value []byte, headers []kafka.Header) error
}

// EventReader yields records of the events topic produced after it was
// opened.
type EventReader interface {
	Poll(ctx context.Context, max int) ([]kafka.Record, error)
}

// Topics names the topics a probe talks over.
type Topics struct {
	Control string
	Events  string
}

// DefaultTopics returns the platform's default topics.
func DefaultTopics() Topics { return Topics{Control: "queue-control", Events: "queue-events"} }

// ErrNoAnswer is wrapped by errors about answers that did not arrive.
var ErrNoAnswer = errors.New("no answer")

type received struct {
	ev control.Event
	at time.Time
}

// Prober sends commands and waits for their answers.
type Prober struct {
	pub     Publisher
	control string
	log     *slog.Logger
	events  chan received

	stop    context.CancelFunc
	wg      sync.WaitGroup
	closers []func()
}

// New starts reading events from r; Close stops it.
func New(pub Publisher, r EventReader, controlTopic string, log *slog.Logger) *Prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prober{pub: pub, control: controlTopic, log: log, events: make(chan received, 1024), stop: cancel}
	p.wg.Go(func() { p.read(ctx, r) })
	return p
}

// Dial connects to Kafka: the events topic is subscribed from its current
// end before Dial returns, then a producer is connected.
func Dial(ctx context.Context, cfg kafka.Config, log *slog.Logger, t Topics) (*Prober, error) {
	r, err := kafka.NewTailReader(ctx, cfg, log, t.Events)
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", t.Events, err)
	}
	pub, err := kafka.Connect(ctx, cfg, log)
	if err != nil {
		r.Close()
		return nil, err
	}
	p := New(pub, r, t.Control, log)
	p.closers = []func(){r.Close, pub.Close}
	return p, nil
}

// Close stops reading and closes what Dial opened.
func (p *Prober) Close() {
	p.stop()
	p.wg.Wait()
	for _, c := range p.closers {
		c()
	}
}

func (p *Prober) read(ctx context.Context, r EventReader) {
	for {
		recs, err := r.Poll(ctx, 0)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.log.Warn("reading events failed, retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		at := time.Now()
		for _, rec := range recs {
			ev, err := control.DecodeEvent(rec.Value)
			if err != nil {
				p.log.Debug("skipping an event that is not JSON", "offset", rec.Offset, "err", err)
				continue
			}
			select {
			case p.events <- received{ev: ev, at: at}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Send writes one command and returns once the broker acknowledged it.
func (p *Prober) Send(ctx context.Context, c control.Command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding command: %w", err)
	}
	if err := p.pub.Produce(ctx, p.control, []byte(c.QueueID), b, nil); err != nil {
		return fmt.Errorf("sending %s to %s: %w", c.Command, p.control, err)
	}
	return nil
}

// PingOptions configure Ping.
type PingOptions struct {
	QueueID  string        // a queue, or "*" to accept the first pong of any service
	Count    int           // pings to send
	Interval time.Duration // between sends; pings are in flight concurrently
	Timeout  time.Duration // per ping: no pong within it means lost
}

// Result is the fate of one ping.
type Result struct {
	Seq      int     // 1-based
	SentAt   float64 // the command's sent_at, echoed as the pong's ping_ts
	Answered bool
	QueueID  string // of the answering service
	// RTT is from just before sending to reading the pong, on the local
	// monotonic clock.
	RTT time.Duration
	// ServiceDelay is ponged_at − sent_at: the way there plus the service's
	// work, subject to clock skew between the machines.
	ServiceDelay time.Duration

	start    time.Time
	deadline time.Time
}

// Ping sends o.Count pings and matches pongs by ping_ts, so several may be
// in flight and answered out of order. each, when not nil, is called as
// soon as a ping is answered or lost. It returns every result in send
// order; an error only for a failed send or the end of ctx.
func (p *Prober) Ping(ctx context.Context, o PingOptions, each func(Result)) ([]Result, error) {
	if o.Count <= 0 {
		return nil, nil
	}
	if o.Timeout <= 0 {
		return nil, errors.New("ping timeout must be positive")
	}
	results := make([]Result, 0, o.Count)
	pending := map[float64]int{}
	sendTimer := time.NewTimer(0)
	defer sendTimer.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	var lastTS float64
	report := func(i int) {
		if each != nil {
			each(results[i])
		}
	}
	for len(results) < o.Count || len(pending) > 0 {
		var expC <-chan time.Time
		if len(pending) > 0 {
			next := time.Time{}
			for _, i := range pending {
				if next.IsZero() || results[i].deadline.Before(next) {
					next = results[i].deadline
				}
			}
			expiry.Reset(time.Until(next))
			expC = expiry.C
		}
		var sendC <-chan time.Time
		if len(results) < o.Count {
			sendC = sendTimer.C
		}
		select {
		case <-ctx.Done():
			return results, ctx.Err()
		case <-sendC:
			start := time.Now()
			// sent_at identifies the ping, so it must be unique even when
			// two pings fall within the float's resolution.
			ts := control.UnixSeconds(start)
			if ts <= lastTS {
				ts = math.Nextafter(lastTS, math.Inf(1))
			}
			lastTS = ts
			results = append(results, Result{Seq: len(results) + 1, SentAt: ts, start: start, deadline: start.Add(o.Timeout)})
			pending[ts] = len(results) - 1
			if err := p.Send(ctx, control.Command{QueueID: o.QueueID, Command: control.CmdPing, SentAt: &ts}); err != nil {
				return results, err
			}
			if len(results) < o.Count {
				sendTimer.Reset(o.Interval)
			}
		case r := <-p.events:
			ev := r.ev
			if ev.Event != control.EventPong || ev.PingTS == nil || (o.QueueID != control.Wildcard && ev.QueueID != o.QueueID) {
				continue
			}
			i, ok := pending[*ev.PingTS]
			if !ok {
				continue
			}
			delete(pending, *ev.PingTS)
			res := &results[i]
			res.Answered, res.QueueID = true, ev.QueueID
			res.RTT = r.at.Sub(res.start)
			res.ServiceDelay = time.Duration((ev.PongedAt - res.SentAt) * float64(time.Second))
			report(i)
		case now := <-expC:
			lost := make([]int, 0, len(pending))
			for ts, i := range pending {
				if !now.Before(results[i].deadline) {
					delete(pending, ts)
					lost = append(lost, i)
				}
			}
			slices.Sort(lost)
			for _, i := range lost {
				report(i)
			}
		}
	}
	return results, nil
}

// WaitTerminal waits up to timeout for the terminal event (interrupted,
// finished or error) of queueID, or of any service when queueID is "*".
func (p *Prober) WaitTerminal(ctx context.Context, queueID string, timeout time.Duration) (control.Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return control.Event{}, ctx.Err()
		case <-t.C:
			return control.Event{}, fmt.Errorf("%w: no terminal event from %s within %s", ErrNoAnswer, queueID, timeout)
		case r := <-p.events:
			if control.IsTerminal(r.ev.Event) && (queueID == control.Wildcard || r.ev.QueueID == queueID) {
				return r.ev, nil
			}
		}
	}
}

// Summary condenses the results of Ping.
type Summary struct {
	Sent, Answered, Lost int
	Min, P50, P99, Max   time.Duration
}

// RTTs returns the round trips of the answered pings, in send order.
func RTTs(rs []Result) []time.Duration {
	out := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		if r.Answered {
			out = append(out, r.RTT)
		}
	}
	return out
}

// Summarize counts results and takes nearest-rank percentiles of the RTTs.
func Summarize(rs []Result) Summary {
	rtts := RTTs(rs)
	s := Summary{Sent: len(rs), Answered: len(rtts), Lost: len(rs) - len(rtts)}
	if len(rtts) == 0 {
		return s
	}
	slices.Sort(rtts)
	s.Min, s.Max = rtts[0], rtts[len(rtts)-1]
	s.P50, s.P99 = Percentile(rtts, 0.50), Percentile(rtts, 0.99)
	return s
}

// Percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted values.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// PingRTTs connects with cfg, sends n pings to queueID on the default
// topics and returns the RTTs of the answered ones; an error wrapping
// ErrNoAnswer says how many were lost.
func PingRTTs(ctx context.Context, cfg kafka.Config, log *slog.Logger, queueID string, n int, interval, timeout time.Duration) ([]time.Duration, error) {
	p, err := Dial(ctx, cfg, log, DefaultTopics())
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rs, err := p.Ping(ctx, PingOptions{QueueID: queueID, Count: n, Interval: interval, Timeout: timeout}, nil)
	if err != nil {
		return RTTs(rs), err
	}
	if s := Summarize(rs); s.Lost > 0 {
		return RTTs(rs), fmt.Errorf("%w: %d of %d pings to %s got no pong within %s", ErrNoAnswer, s.Lost, s.Sent, queueID, timeout)
	}
	return RTTs(rs), nil
}
