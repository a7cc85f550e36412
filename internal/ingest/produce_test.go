package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
)

// heldProducer keeps every record's done callback for the test to call,
// as franz-go does with a record whose fate it does not know yet.
type heldProducer struct {
	mu    sync.Mutex
	dones []func(error)
	full  bool              // TryProduce answers ErrBufferFull
	ctxs  []context.Context // of ProduceAsync
	held  chan struct{}     // a record was handed over
}

func newHeldProducer() *heldProducer { return &heldProducer{held: make(chan struct{}, 10)} }

func (p *heldProducer) TryProduce(_ context.Context, _ kafka.Record, done func(error)) {
	if p.full {
		done(fmt.Errorf("producing: %w", kafka.ErrBufferFull))
		return
	}
	p.hold(done)
}

func (p *heldProducer) ProduceAsync(ctx context.Context, _ kafka.Record, done func(error)) {
	p.mu.Lock()
	p.ctxs = append(p.ctxs, ctx)
	p.mu.Unlock()
	p.hold(done)
}

func (p *heldProducer) hold(done func(error)) {
	p.mu.Lock()
	p.dones = append(p.dones, done)
	p.mu.Unlock()
	p.held <- struct{}{}
}

func (p *heldProducer) answer(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.dones {
		d(err)
	}
	p.dones = nil
}

func TestPostProduceTimeout(t *testing.T) {
	p := newHeldProducer()
	e := newEnv(t, false, func(d *setup) { d.Producer = p; d.ProduceTimeout = 50 * time.Millisecond })
	start := time.Now()
	r := e.do(t, "POST", "/post/pg?tableName=t", `{"a":1}`, "")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.resp.Error, "not stored") {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %s", d)
	}
	// The acknowledgement coming late neither blocks nor reaches the next
	// request, which waits for its own.
	<-p.held
	p.answer(nil)
	done := make(chan result)
	go func() { done <- e.do(t, "POST", "/post/pg?tableName=t", `{"a":2}`, "") }()
	<-p.held
	p.answer(nil)
	if r := <-done; r.code != 200 {
		t.Fatalf("next request: %d %s", r.code, r.body)
	}
	if out := gathered(t, e); !strings.Contains(out, `reason="kafka_unavailable",status="rejected"`) {
		t.Errorf("timeout not counted: %s", out)
	}
	if !strings.Contains(e.logText(), "did not acknowledge within 50ms") {
		t.Errorf("log: %s", e.logText())
	}
}

func TestPostClientGone(t *testing.T) {
	p := newHeldProducer()
	e := newEnv(t, false, func(d *setup) { d.Producer = p })
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "POST", "/post/pg?tableName=t", strings.NewReader(`{"a":1}`))
	rec := httptest.NewRecorder()
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.srv.ServeHTTP(rec, req)
	}()
	<-p.held
	cancel()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler waits on after the client left")
	}
	p.answer(nil) // late, and harmless
	if out := gathered(t, e); !strings.Contains(out, `reason="client_gone",status="rejected"`) {
		t.Errorf("client_gone not counted: %s", out)
	}
}

// reachability is a Kafka whose loss the test announces by closing lost.
type reachability struct{ lost chan struct{} }

func (r reachability) Reachability() (<-chan struct{}, error) { return r.lost, nil }

func TestPostKafkaLostWhileWaiting(t *testing.T) {
	p := newHeldProducer()
	k := reachability{lost: make(chan struct{})}
	e := newEnv(t, false, func(d *setup) { d.Producer = p; d.Kafka = k; d.ProduceTimeout = time.Minute })
	done := make(chan result)
	start := time.Now()
	go func() { done <- e.do(t, "POST", "/post/pg?tableName=t", `{"a":1}`, "") }()
	<-p.held
	close(k.lost)
	r := <-done
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.resp.Error, "not stored") {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	// Answered at the loss, not at the produce timeout.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("answered after %s", d)
	}
	if !strings.Contains(e.logText(), "unreachable before acknowledging") {
		t.Errorf("log: %s", e.logText())
	}
	p.answer(nil) // late, and harmless
}

func TestPostBufferFull(t *testing.T) {
	p := newHeldProducer()
	p.full = true
	e := newEnv(t, false, func(d *setup) { d.Producer = p; d.ProduceTimeout = time.Minute })
	done := make(chan result)
	go func() { done <- e.do(t, "POST", "/post/pg?tableName=t", `{"a":1}`, "") }()
	<-p.held
	p.mu.Lock()
	ctx := p.ctxs[0]
	p.mu.Unlock()
	// Waiting for room ends with the produce timeout.
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Minute || time.Until(dl) < 30*time.Second {
		t.Errorf("deadline %v %v, want about a minute from now", dl, ok)
	}
	p.answer(nil)
	if r := <-done; r.code != 200 {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if ctx.Err() == nil {
		t.Error("the waiting context outlives the request")
	}
}
