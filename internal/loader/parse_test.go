package loader

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/bench"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite/sqlitetest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/sink"
	"github.com/streamforge/streamforge/internal/topics"
)

// The reader builds a batch's rows a chunk at a time while they fit the
// table: the rows are those of the whole batch's parsed events, in record
// order, without the records that went to the dead-letter topic. A chunk
// that needs a column the table lacks leaves the rows to the loader, and
// every event can still be had.
func TestParseBuildsRowsChunkByChunk(t *testing.T) {
	n := 2*chunkSize + chunkSize/2
	bad := map[int]bool{0: true, chunkSize - 1: true, chunkSize: true, n - 1: true}
	tests := []struct {
		name     string
		newKeyAt int // -1: none
		prepared bool
	}{
		{"rows fit the table", -1, true},
		{"a new column in the second chunk", chunkSize + 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := sqlitetest.Open(t)
			tbl := sink.NewTable(db, "items", sink.Options{}, slog.New(slog.DiscardHandler))
			for _, first := range []string{`{"id":-1,"v":"x"}`, `{"id":"x"}`} { // the second makes _unmapped_data
				ev, _ := schema.Parse([]byte(first))
				if _, err := tbl.Append(ctx, nil, func() []schema.Event { return []schema.Event{ev} }); err != nil {
					t.Fatal(err)
				}
			}
			recs := make([]kafka.Record, n)
			for i := range recs {
				switch {
				case bad[i]:
					recs[i].Value = []byte(`{"id":`)
				case i == tt.newKeyAt:
					recs[i].Value = fmt.Appendf(nil, `{"id":%d,"w":true}`, i)
				case i%7 == 0: // a type conflict: kept in _unmapped_data, noted
					recs[i].Value = fmt.Appendf(nil, `{"id":"n%d","v":"%d"}`, i, i)
				default:
					recs[i].Value = fmt.Appendf(nil, `{"id":%d,"v":"%d"}`, i, i)
				}
				recs[i].Offset = int64(i)
			}
			p := &flakyProducer{}
			w := tableless(t, workerConfig{Topic: "in.id.lite.m.batch.t.items", Name: topics.Name{Destination: "lite", Mode: "batch", Table: "items"},
				Dest: destination.Config{ID: "lite"}, BatchSize: n, Period: time.Second}, &fakeConsumer{}, p)
			w.table = func() (*sink.Table, error) { return tbl, nil }
			b, err := w.parse(lifetime{work: ctx, retry: ctx}, recs)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.got) != len(bad) {
				t.Errorf("%d records dead-lettered, want %d", len(p.got), len(bad))
			}
			if len(b.items) != n-len(bad) {
				t.Fatalf("%d items, want %d", len(b.items), n-len(bad))
			}
			for i, it := range b.items {
				if i > 0 && it.rec.Offset <= b.items[i-1].rec.Offset {
					t.Fatalf("item %d is record %d, after record %d", i, it.rec.Offset, b.items[i-1].rec.Offset)
				}
			}
			all := events(b.items)
			if !tt.prepared {
				if b.rows != nil {
					t.Errorf("rows prepared for events that need a new column")
				}
				for i, ev := range all {
					if len(ev.Fields) != 2 {
						t.Fatalf("event of record %d has %d fields, want 2", b.items[i].rec.Offset, len(ev.Fields))
					}
				}
				return
			}
			if want := tbl.Prepare(all, nil); b.rows == nil || !reflect.DeepEqual(b.rows, want) {
				t.Errorf("rows built chunk by chunk differ from the rows of the whole batch (%d rows, want %d)", b.rows.Len(), want.Len())
			}
		})
	}
}

// A loader started on a table that exists prepares the rows of its first
// batch itself, as of every batch after: it reads the table's shape while
// the first records are fetched.
func TestFirstBatchIsPreparedForAnExistingTable(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	ev, _ := schema.Parse([]byte(`{"id":1,"v":"a"}`))
	earlier := sink.NewTable(db, "items", sink.Options{}, slog.New(slog.DiscardHandler))
	if _, err := earlier.Append(ctx, nil, func() []schema.Event { return []schema.Event{ev} }); err != nil {
		t.Fatal(err)
	}
	// A restart: this process has never seen the table.
	tbl := sink.NewTable(db, "items", sink.Options{}, slog.New(slog.DiscardHandler))
	w := tableless(t, workerConfig{Topic: "in.id.lite.m.batch.t.items", Name: topics.Name{Destination: "lite", Mode: "batch", Table: "items"},
		Dest: destination.Config{ID: "lite"}, BatchSize: 10, Period: time.Second}, &fakeConsumer{}, &flakyProducer{})
	w.table = func() (*sink.Table, error) { return tbl, nil }
	in, out := make(chan []kafka.Record, 1), make(chan *batch, 1)
	in <- []kafka.Record{{Value: []byte(`{"id":2,"v":"b"}`)}, {Offset: 1, Value: []byte(`{"id":3,"v":"c"}`)}}
	close(in)
	w.parseAll(lifetime{work: ctx, retry: ctx}, in, out)
	if b := <-out; b.rows == nil || b.rows.Len() != 2 {
		t.Fatalf("first batch's rows = %v, want 2 prepared", b.rows)
	}
}

// The reader's work on one batch of make bench's events for a table that
// exists: parse them and build their rows. On a busy machine compare its
// CPU time (user and system) over a fixed count of batches
// (-test.benchtime=200x) rather than ns/op.
func BenchmarkParseBatch(b *testing.B) {
	ctx := context.Background()
	tbl := sink.NewTable(sqlitetest.Open(b), "load", sink.Options{}, slog.New(slog.DiscardHandler))
	ts := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	recs := make([]kafka.Record, 10000)
	for i := range recs {
		recs[i] = kafka.Record{Offset: int64(i), Value: bench.Event(i, ts)}
	}
	ev, _ := schema.Parse(recs[0].Value)
	if _, err := tbl.Append(ctx, nil, func() []schema.Event { return []schema.Event{ev} }); err != nil {
		b.Fatal(err)
	}
	w := tableless(b, workerConfig{Topic: "in.id.lite.m.batch.t.load", Name: topics.Name{Destination: "lite", Mode: "batch", Table: "load"},
		Dest: destination.Config{ID: "lite"}, BatchSize: len(recs), Period: time.Second}, &fakeConsumer{}, &flakyProducer{})
	w.table = func() (*sink.Table, error) { return tbl, nil }
	for b.Loop() {
		bt, err := w.parse(lifetime{work: ctx, retry: ctx}, recs)
		if err != nil || bt.rows == nil || bt.rows.Len() != len(recs) {
			b.Fatalf("batch of %d records: %v rows prepared, err %v", len(recs), bt.rows, err)
		}
	}
}
