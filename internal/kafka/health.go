package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Probing a broker known to be down: how often, and how long each try may
// take. Short, so that producing resumes within about a second of the
// broker's return.
const (
	probeInterval = 500 * time.Millisecond
	probeTimeout  = time.Second
)

// health follows whether the client can reach any broker, from franz-go's
// own connection attempts: the client is down once the last attempt to
// every address it tried failed, and up again at the first success. While
// down, a probe dials every probeInterval, since a caller that fails fast
// sends nothing that would make franz-go dial.
type health struct {
	// ping is set once the client exists, which may dial (and fail) first.
	ping      atomic.Pointer[func(ctx context.Context) error]
	log       *slog.Logger
	closed    chan struct{}
	closeOnce sync.Once

	// now is read on every produce, without a lock.
	now atomic.Pointer[status]

	mu     sync.Mutex       // serialises changes of failed and now
	failed map[string]error // by broker address: the last attempt's error, nil after a success
}

// status is one state of a health: down is nil while a broker can be
// reached, and lost is closed when that ends.
type status struct {
	down error
	lost chan struct{}
}

func newHealth(log *slog.Logger) *health {
	h := &health{log: log, closed: make(chan struct{}), failed: map[string]error{}}
	h.now.Store(&status{lost: make(chan struct{})})
	return h
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if errors.Is(err, context.Canceled) {
		return // the caller gave up: says nothing of the broker
	}
	h.record(net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port))), err)
}

// record notes the outcome of one connection attempt to addr.
func (h *health) record(addr string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed[addr] = err
	if err == nil {
		h.markUp()
		return
	}
	cur := h.now.Load()
	if cur.down != nil { // still down: keep the latest reason
		h.now.Store(&status{down: fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err), lost: cur.lost})
		return
	}
	for _, e := range h.failed {
		if e == nil {
			return
		}
	}
	down := fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	h.now.Store(&status{down: down, lost: cur.lost})
	close(cur.lost)
	h.log.Warn("no kafka broker reachable: failing fast and probing until one answers", "err", down)
	go h.probe()
}

// state returns why the client cannot reach a broker, or nil and a channel
// closed once that becomes known.
func (h *health) state() (<-chan struct{}, error) {
	s := h.now.Load()
	return s.lost, s.down
}

// probe pings until a broker answers or the client closes.
func (h *health) probe() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-h.closed:
			return
		case <-t.C:
		}
		if _, err := h.state(); err == nil {
			return
		}
		ping := h.ping.Load()
		if ping == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		err := (*ping)(ctx) // a dial's outcome reaches OnBrokerConnect too
		cancel()
		if err == nil {
			h.recovered()
			return
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			return
		}
	}
}

// recovered marks the client up after a broker answered.
func (h *health) recovered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markUp()
}

// markUp is recovered with h.mu held.
func (h *health) markUp() {
	if h.now.Load().down != nil {
		h.now.Store(&status{lost: make(chan struct{})})
		h.log.Info("kafka broker reachable again")
	}
}

// close stops the probe; it may be called more than once.
func (h *health) close() { h.closeOnce.Do(func() { close(h.closed) }) }
