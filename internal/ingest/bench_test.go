package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/auth"
	"github.com/streamforge/streamforge/internal/bench"
	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
)

var benchEvent = []byte(`{"user_id":123,"action":"test","props":{"a":1,"b":[1,2,3]},"ts":"2026-01-01T00:00:00Z"}`)

// benchWriter is a reusable ResponseWriter: the benchmarks measure the
// handler, not a recorder's allocations.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteString is there as on net/http's writer.
func (w *benchWriter) WriteString(s string) (int, error) { return len(s), nil }

// benchURL posts to a batch destination without a primary key, as `make
// bench` does; pkURL to one with a primary key, whose events are parsed
// for their partition key. Both with benchSetup's one raw token.
const (
	benchURL = "http://bulker/post/bench?tableName=events"
	pkURL    = "http://bulker/post/pg?tableName=events"
)

// benchSetup is newEnv's set-up as `make bench` runs bulker: the bench
// destination beside the test ones, auth with one raw token, info logs
// (bulker's default level: the accepted path logs nothing).
func benchSetup(d *setup) {
	dests := testDestinations()
	dests["bench"] = destination.Config{ID: "bench", Type: "postgres", Options: destination.Options{Mode: destination.Batch}}
	d.Destinations = dests
	a, err := auth.New([]string{rawToken}, nil, nil)
	if err != nil {
		panic(err)
	}
	d.Auth = a
	d.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// postLoop posts benchEvent to url until the benchmark ends, building each
// request as net/http would hand it to a handler, without httptest's
// request parsing and its 4 KiB buffer.
func postLoop(b *testing.B, srv http.Handler, url string, loop func() bool) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background()) // the connection's
	defer cancel()
	rd := bytes.NewReader(benchEvent)
	w := &benchWriter{h: http.Header{}}
	authz := []string{"Bearer " + rawToken}
	for loop() {
		rd.Reset(benchEvent)
		req, err := http.NewRequestWithContext(ctx, "POST", url, io.NopCloser(rd))
		if err != nil {
			b.Error(err)
			return
		}
		req.ContentLength = int64(len(benchEvent))
		req.Header["Authorization"] = authz
		clear(w.h)
		w.code = http.StatusOK
		srv.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Errorf("status %d", w.code) // not Fatal: may run in RunParallel's goroutines
			return
		}
	}
}

// BenchmarkPost measures the handler's own cost over a producer that
// acknowledges at once.
func BenchmarkPost(b *testing.B) {
	e := newEnv(b, false, benchSetup, func(d *setup) { d.Producer = discardProducer{} })
	b.ReportAllocs()
	postLoop(b, e.srv, benchURL, b.Loop)
}

// BenchmarkPostPrimaryKey is BenchmarkPost to a destination with a primary
// key: each event is parsed for its partition key.
func BenchmarkPostPrimaryKey(b *testing.B) {
	e := newEnv(b, false, benchSetup, func(d *setup) { d.Producer = discardProducer{} })
	b.ReportAllocs()
	postLoop(b, e.srv, pkURL, b.Loop)
}

// discardProducer acknowledges at once. Produce serves the baseline.
type discardProducer struct{}

func (discardProducer) TryProduce(_ context.Context, _ kafka.Record, done func(error)) { done(nil) }

func (discardProducer) ProduceAsync(_ context.Context, _ kafka.Record, done func(error)) { done(nil) }

func (discardProducer) Produce(context.Context, string, []byte, []byte, []kafka.Header) error {
	return nil
}

// BenchmarkPostBaseline is the floor BenchmarkPost compares with: the
// benchmark's minimal handler that reads the body and produces it.
func BenchmarkPostBaseline(b *testing.B) {
	b.ReportAllocs()
	postLoop(b, bench.BaselineHandler(discardProducer{}, "t"), benchURL, b.Loop)
}

// BenchmarkPostKafka adds the produce path: franz-go to the embedded
// broker (in this process, so its CPU counts too), 16 requests at a time.
func BenchmarkPostKafka(b *testing.B) {
	cl := benchClient(b)
	e := newEnv(b, false, benchSetup, func(d *setup) { d.Producer = cl })
	postParallel(b, e.srv)
}

// BenchmarkPostKafkaBaseline is BenchmarkPostKafka's floor.
func BenchmarkPostKafkaBaseline(b *testing.B) {
	postParallel(b, bench.BaselineHandler(benchClient(b), "in.id.bench.m.batch.t.events"))
}

// benchClient connects to a plaintext embedded broker.
func benchClient(b *testing.B) *kafka.Client {
	br := brokertest.StartWith(b, brokertest.Options{Plaintext: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kafka.Connect(ctx, br.Kafka, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// postParallel reports cpu-ns/op besides ns/op: the machine's other load
// skews wall time more than the process's CPU time.
func postParallel(b *testing.B, srv http.Handler) {
	once := true
	postLoop(b, srv, benchURL, func() bool { ok := once; once = false; return ok }) // creates the topic
	b.ReportAllocs()
	b.SetParallelism(8)
	start := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) { postLoop(b, srv, benchURL, pb.Next) })
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
