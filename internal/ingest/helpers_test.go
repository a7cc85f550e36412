package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamforge/streamforge/internal/auth"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/secret"
	"github.com/streamforge/streamforge/internal/sink"
)

// destMap is a fixed set of destinations.
type destMap map[string]destination.Config

// Lookup finds the destinations of a type bulker supports, by id or by
// the id lower-cased, as sink.Registry does; the others are Unsupported.
func (m destMap) Lookup(id string) (destination.Config, bool) {
	c, ok := m.byID(id)
	return c, ok && c.Type != unsupportedType
}

func (m destMap) LookupUnsupported(id string) (destination.Config, bool) {
	c, ok := m.byID(id)
	return c, ok && c.Type == unsupportedType
}

func (m destMap) byID(id string) (destination.Config, bool) {
	c, ok := m[id]
	if !ok {
		c, ok = m[strings.ToLower(id)]
	}
	return c, ok
}

func (m destMap) Unsupported() []destination.Config {
	var out []destination.Config
	for _, c := range m {
		if c.Type == unsupportedType {
			out = append(out, c)
		}
	}
	return out
}

// unsupportedType is a type no test bulker can load.
const unsupportedType = "clickhouse"

func testDestinations() destMap {
	return destMap{
		"pg":    {ID: "pg", Type: "postgres", Options: destination.Options{Mode: "batch", PrimaryKey: "id, ts"}},
		"live":  {ID: "live", Type: "postgres", Options: destination.Options{Mode: "stream"}},
		"local": {ID: "local", Type: "sqlite"},
		"ch":    {ID: "ch", Type: unsupportedType},
		"parts": {ID: "parts", Type: "postgres", Options: destination.Options{Mode: "batch", PartitionID: "default-part"}},
	}
}

// memProducer records what it is given and answers at once; it is a fake
// for request-handling tests (the Kafka path is tested against the
// embedded broker).
type memProducer struct {
	mu   sync.Mutex
	recs []produced
	err  error
}

type produced struct {
	topic   string
	key     []byte
	value   []byte
	headers []kafka.Header
}

func (p *memProducer) TryProduce(_ context.Context, r kafka.Record, done func(error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		done(p.err)
		return
	}
	p.recs = append(p.recs, produced{r.Topic, r.Key, append([]byte(nil), r.Value...), r.Headers})
	done(nil)
}

func (p *memProducer) ProduceAsync(ctx context.Context, r kafka.Record, done func(error)) {
	p.TryProduce(ctx, r, done)
}

func (p *memProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.recs)
}

// fakeBulk records bulk requests and answers err.
type fakeBulk struct {
	mu   sync.Mutex
	reqs []sink.BulkRequest
	err  error
}

func (b *fakeBulk) Bulk(_ context.Context, req sink.BulkRequest) ([]sink.Warning, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	return nil, b.err
}

// fakeFailed holds the records of the retry and dead-letter topics.
type fakeFailed struct {
	topics map[string][]kafka.Record
	limits []int // of each ReadAll
}

func (f *fakeFailed) ReadAll(_ context.Context, topic string, limit int) ([]kafka.Record, error) {
	f.limits = append(f.limits, limit)
	recs := f.topics[topic]
	return recs[max(0, len(recs)-limit):], nil
}

type notReady struct{}

func (notReady) Ready(context.Context) error { return errors.New("kafka is down") }

// hangingReady answers only when its context ends, as a Kafka behind a
// firewall that drops packets does.
type hangingReady struct{}

func (hangingReady) Ready(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

type env struct {
	srv    *Server
	prod   *memProducer
	bulk   *fakeBulk
	failed *fakeFailed
	events *eventslog.Memory
	reg    *prometheus.Registry
	logs   *strings.Builder
	logMu  *sync.Mutex
	deps   Deps
}

// setup is what newEnv builds a server from.
type setup struct {
	Config
	Deps
}

const (
	rawToken    = "raw-Token-0123456789"
	hashedToken = "hashed-Token-ABCDEF"
	tokenSecret = "token-Secret"
)

// newEnv builds a server over fakes; with tokens true, auth is on with a
// raw and a hashed token.
func newEnv(t testing.TB, tokens bool, tweak ...func(*setup)) *env {
	t.Helper()
	e := &env{prod: &memProducer{}, bulk: &fakeBulk{}, failed: &fakeFailed{}, events: eventslog.NewMemory(100),
		reg: prometheus.NewRegistry(), logs: &strings.Builder{}, logMu: &sync.Mutex{}}
	d := setup{
		Config: Config{MaxEventSize: 1024, MaxBulkSize: 8192, ProduceTimeout: 30 * time.Second, FailedScan: 100},
		Deps: Deps{
			Producer: e.prod, Destinations: testDestinations(), Events: e.events, Bulk: e.bulk, Failed: e.failed,
			Registerer: e.reg, Metrics: promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}),
			Logger: slog.New(slog.NewJSONHandler(lockedWriter{e.logMu, e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
	}
	if tokens {
		a, err := auth.New([]string{rawToken}, []string{"salt." + auth.Hash(hashedToken, "salt", tokenSecret)}, []secret.String{tokenSecret})
		if err != nil {
			t.Fatal(err)
		}
		d.Auth = a
	}
	for _, f := range tweak {
		f(&d)
	}
	srv, err := New(d.Config, d.Deps)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.deps = srv, d.Deps
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (e *env) logText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

type result struct {
	code int
	body string
	resp answer
	hdr  http.Header
}

// do sends a request; auth is "" for none or the whole Authorization value.
func (e *env) do(t testing.TB, method, target, body, authz string) result {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	r := result{code: rec.Code, body: string(b), hdr: rec.Header()}
	_ = json.Unmarshal(b, &r.resp)
	return r
}

func utf8Valid(b []byte) bool { return utf8.Valid(b) }
