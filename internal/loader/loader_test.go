package loader_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/sink"
	"github.com/streamforge/streamforge/internal/topics"
	"github.com/streamforge/streamforge/internal/wait"
)

// A row the destination rejects is isolated from its batch, retried the
// configured number of times through the retry topic, then dead-lettered
// with its reason; the other rows load and nothing is lost. A type hint
// the destination refuses does not stop its event: the column takes the
// values' type, and the events log says why.
func TestBadRowIsRetriedThenDeadLettered(t *testing.T) {
	k := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	client := k.Client(t)

	path, db, dests := checkedItems(t, log)
	if err := dests.Set([]destination.Config{{ID: "lite", Type: "sqlite",
		Options: destination.Options{Mode: destination.Batch}, Credentials: destination.Credentials{Database: path}}}); err != nil {
		t.Fatal(err)
	}
	topic, _ := topics.Incoming("", topics.Name{Destination: "lite", Mode: "batch", Table: "items"})
	const badRow = `{"id":2,"x":1000}`
	for _, v := range []string{`{"id":1}`, badRow, `{"id":3}`, `{"id":4,"__sql_type_y":"text; DROP TABLE items","y":1}`, `not json`, `{}`} {
		if err := client.Produce(ctx, topic, nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	events := eventslog.NewMemory(100)
	reg := prometheus.NewRegistry()
	metrics, err := loader.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m := loader.NewManager(loader.Config{
		BatchSize: 100, BatchPeriod: 200 * time.Millisecond, Discover: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		Retry:        loader.RetryPolicy{Attempts: 2, Base: 1, MaxDelay: 1, Unit: 100 * time.Millisecond},
		EventsLogMax: 100,
	}, loader.Deps{
		Destinations: dests,
		Admin:        client,
		NewConsumer: func(ctx context.Context, o kafka.ConsumerOptions) (loader.Consumer, error) {
			o.MaxWait = 100 * time.Millisecond
			return kafka.NewConsumer(ctx, k.Kafka, log, o)
		},
		Producer: client,
		Events:   events,
		Log:      log,
		Metrics:  metrics,
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()

	wait.For(t, 30*time.Second, "good rows loaded", func() bool {
		var n int
		return db.QueryRow("SELECT COUNT(*) FROM items WHERE id IN (1, 3, 4)").Scan(&n) == nil && n == 3
	})
	var dead []kafka.Record
	wait.For(t, 30*time.Second, "the bad row, the invalid JSON and the empty event dead-lettered", func() bool {
		dead, err = kafka.ReadAll(ctx, k.Kafka, log, topics.Dead(""), 0)
		return err == nil && len(dead) == 3
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	byValue := map[string]kafka.Record{}
	for _, r := range dead {
		byValue[string(r.Value)] = r
	}
	bad := byValue[badRow]
	if bad.Header(topics.HeaderAttempt) != "3" || bad.Header(topics.HeaderRetryTopic) != topic || bad.Header(topics.HeaderError) == "" {
		t.Errorf("bad row: attempts %q, topic %q, error %q; want 3 attempts, its topic and an error", bad.Header(topics.HeaderAttempt), bad.Header(topics.HeaderRetryTopic), bad.Header(topics.HeaderError))
	}
	if invalid := byValue["not json"]; invalid.Header(topics.HeaderAttempt) != "1" || !strings.Contains(invalid.Header(topics.HeaderError), "pars") {
		t.Errorf("invalid JSON must be dead at once with its reason: attempts %q, error %q", invalid.Header(topics.HeaderAttempt), invalid.Header(topics.HeaderError))
	}
	if empty := byValue["{}"]; !strings.Contains(empty.Header(topics.HeaderError), "no fields") {
		t.Errorf("empty event error = %q, want a reason", empty.Header(topics.HeaderError))
	}
	retried, err := kafka.ReadAll(ctx, k.Kafka, log, topics.Retry(""), 0)
	if err != nil || len(retried) != 2 {
		t.Errorf("retry topic holds %d records (%v), want the 2 retries of the bad row", len(retried), err)
	}
	list, _ := events.List(ctx, eventslog.Filter{Statuses: []eventslog.Status{eventslog.Dead}})
	if len(list) != 3 {
		t.Errorf("events log has %d dead entries, want 3", len(list))
	}
	warns, _ := events.List(ctx, eventslog.Filter{Statuses: []eventslog.Status{eventslog.Warning}})
	if len(warns) != 1 || !strings.Contains(warns[0].Error, "text; DROP TABLE items") || !strings.Contains(warns[0].Error, "refused") {
		t.Errorf("events log warnings %+v, want the refused hint once with its reason", warns)
	}
	var yType string
	if err := db.QueryRow(`SELECT type FROM pragma_table_info('items') WHERE name = 'y'`).Scan(&yType); err != nil || yType != "BIGINT" {
		t.Errorf("column y: type %q (%v), want the values' type BIGINT", yType, err)
	}
	// The outage counter exists at zero although no outage happened: an
	// alert's increase() sees the first one after a restart.
	for _, c := range []struct {
		name   string
		labels string
		want   float64
	}{
		{"bulker_rows_loaded_total", `destination=lite,table=items`, 3},
		{"bulker_events_rejected_total", `destination=lite,status=failed,table=items`, 2},
		{"bulker_events_rejected_total", `destination=lite,status=dead,table=items`, 3},
		{"bulker_events_requeued_total", ``, 2},
		{"bulker_load_errors_total", `destination=lite,kind=outage,table=items`, 0},
	} {
		if got, ok := counter(t, reg, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}

// counter finds the counter name whose labels, as sorted name=value pairs
// joined by commas, are labels.
func counter(t *testing.T, reg *prometheus.Registry, name, labels string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(ls, ",") == labels {
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	p := loader.RetryPolicy{Attempts: 5, Base: 5, MaxDelay: 1440, Unit: time.Minute}
	for n, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 25 * time.Minute, 3: 125 * time.Minute, 5: 1440 * time.Minute} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %s, want %s", n, got, want)
		}
	}
}

// closeTracked counts the open consumers of each group; Close takes a
// while, as a last batch loading at shutdown does.
type closeTracked struct {
	loader.Consumer
	group string
	open  *sync.Map // group → *atomic.Int32
}

func (c closeTracked) Close() {
	time.Sleep(500 * time.Millisecond)
	c.Consumer.Close()
	n, _ := c.open.Load(c.group)
	n.(*atomic.Int32).Add(-1)
}

// When a destination changes, its loader is replaced; the new one joins
// the topic's group with the same instance id only once the old one ended,
// or it would take the partitions the old one still loads and commits.
func TestChangedDestinationsLoaderEndsBeforeItsSuccessorStarts(t *testing.T) {
	k := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	client := k.Client(t)
	path := filepath.Join(t.TempDir(), "lite.db")
	dests := sink.NewRegistry(map[string]destination.Factory{"sqlite": sqlite.Open}, log)
	defer dests.Close()
	config := func(batchSize int) []destination.Config {
		return []destination.Config{{ID: "lite", Type: "sqlite", Options: destination.Options{Mode: destination.Stream, BatchSize: batchSize},
			Credentials: destination.Credentials{Database: path}}}
	}
	if err := dests.Set(config(10)); err != nil {
		t.Fatal(err)
	}
	topic, _ := topics.Incoming("", topics.Name{Destination: "lite", Mode: "stream", Table: "items"})
	if err := client.Produce(ctx, topic, nil, []byte(`{"id":1}`), nil); err != nil {
		t.Fatal(err)
	}
	metrics, err := loader.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var open sync.Map
	var overlaps, started atomic.Int32
	m := loader.NewManager(loader.Config{BatchSize: 10, BatchPeriod: time.Second, Discover: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second}, loader.Deps{
		Destinations: dests,
		Admin:        client,
		NewConsumer: func(ctx context.Context, o kafka.ConsumerOptions) (loader.Consumer, error) {
			o.MaxWait, o.InstanceID = 100*time.Millisecond, "one"
			c, err := kafka.NewConsumer(ctx, k.Kafka, log, o)
			if err != nil {
				return nil, err
			}
			n, _ := open.LoadOrStore(o.Group, new(atomic.Int32))
			if n.(*atomic.Int32).Add(1) > 1 {
				overlaps.Add(1)
			}
			if o.Group == topic {
				started.Add(1)
			}
			return closeTracked{Consumer: c, group: o.Group, open: &open}, nil
		},
		Producer: client,
		Log:      log,
		Metrics:  metrics,
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	wait.For(t, 20*time.Second, "the loader started", func() bool { return started.Load() == 1 })
	if err := dests.Set(config(20)); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 20*time.Second, "the loader replaced", func() bool { return started.Load() == 2 })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d consumers joined a group while another of this instance was still in it", n)
	}
}

// checkedItems makes a SQLite database at path holding the table a user
// made, items, with a rule the data can break (x < 100), and a registry of
// SQLite destinations; all closed at the end of the test.
func checkedItems(t *testing.T, log *slog.Logger) (path string, db *sql.DB, dests *sink.Registry) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "lite.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE items (id BIGINT, x BIGINT CHECK (x < 100))`); err != nil {
		t.Fatal(err)
	}
	dests = sink.NewRegistry(map[string]destination.Factory{"sqlite": sqlite.Open}, log)
	t.Cleanup(dests.Close)
	return path, db, dests
}
