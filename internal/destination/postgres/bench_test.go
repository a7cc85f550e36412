package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// benchRows is the batch size of the load benchmarks.
const benchRows = 10_000

// BenchmarkLoad loads batches of 10,000 web-analytics-like rows by COPY:
// without dedup straight into the table, with dedup through the staging
// table. Compare dedup=false with BenchmarkCopyFromRaw.
func BenchmarkLoad(b *testing.B) {
	env := newTestEnv(b)
	d := env.open(b)
	ctx := context.Background()
	for _, dedup := range []bool{false, true} {
		b.Run(fmt.Sprintf("dedup=%v", dedup), func(b *testing.B) {
			batch := benchBatch(fmt.Sprintf("bench_%v", dedup), benchRows)
			if _, err := d.EnsureTable(ctx, batch.Table); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := destinationtest.Write(ctx, d, batch, destination.LoadOptions{Upsert: dedup}); err != nil {
					b.Fatal(err)
				}
				if !dedup {
					b.StopTimer()
					if _, err := env.db.Exec("TRUNCATE " + d.ident(batch.Table.Name)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(len(batch.Rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkCopyFromRaw is the floor for BenchmarkLoad/dedup=false: a bare
// pgx CopyFrom, in a transaction, of the same rows (Absent as nil) into a
// table of the same shape, as the values come.
func BenchmarkCopyFromRaw(b *testing.B) {
	env := newTestEnv(b)
	d := env.open(b)
	ctx := context.Background()
	batch := benchBatch("bench_raw", benchRows)
	if _, err := d.EnsureTable(ctx, batch.Table); err != nil {
		b.Fatal(err)
	}
	names := make([]string, len(batch.Table.Columns))
	for i, c := range batch.Table.Columns {
		names[i] = c.Name
	}
	rows := schematest.AnyRows(batch.Rows)
	table := pgx.Identifier{env.schema, batch.Table.Name}
	b.ReportAllocs()
	for b.Loop() {
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, table, names, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := env.db.Exec("TRUNCATE " + d.ident(batch.Table.Name)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchBatch is n rows of 14 columns as schema.Build makes them: string,
// int64, float64, bool, time.Time (milliseconds) and json.RawMessage
// values, nil for a JSON null and Absent for a missing key.
func benchBatch(table string, n int) schema.Batch {
	cols := []schema.Column{
		{Name: "message_id", Type: schema.Text}, {Name: "timestamp", Type: schema.Timestamp},
		{Name: "type", Type: schema.Text}, {Name: "event", Type: schema.Text},
		{Name: "user_id", Type: schema.Int}, {Name: "anonymous_id", Type: schema.Text},
		{Name: "context_page_url", Type: schema.Text}, {Name: "context_page_title", Type: schema.Text},
		{Name: "context_ip", Type: schema.Text}, {Name: "context_user_agent", Type: schema.Text},
		{Name: "properties_amount", Type: schema.Float}, {Name: "properties_first", Type: schema.Bool},
		{Name: "sent_at", Type: schema.Timestamp}, {Name: "context_traits", Type: schema.JSON},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		ts := start.Add(time.Duration(i) * time.Millisecond)
		var amount any = float64(i%500) + 0.99
		if i%7 == 0 {
			amount = nil
		}
		var title any = fmt.Sprintf("Page %d — Example", i%50)
		if i%5 == 0 {
			title = schema.Absent
		}
		rows[i] = []any{
			fmt.Sprintf("msg-%08d", i), ts, "track", fmt.Sprintf("Event %d", i%20),
			int64(i % 2000), fmt.Sprintf("anon-%d", i%3000),
			fmt.Sprintf("https://example.com/page/%d?utm_source=x", i%50), title,
			fmt.Sprintf("10.0.%d.%d", i%256, i%200),
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
			amount, i%10 == 0, ts.Add(-time.Second),
			json.RawMessage(fmt.Sprintf(`{"plan":"pro","seats":%d,"tags":["a","b"]}`, i%9)),
		}
	}
	return schema.Batch{Table: schema.Table{Name: table, Columns: cols, PrimaryKey: []string{"message_id"}, TimestampColumn: "timestamp"}, Rows: schematest.Rows(rows)}
}

// BenchmarkCopyEncode is the client's share of BenchmarkLoad/dedup=false
// and BenchmarkCopyFromRaw without a server: the rows planned and encoded by
// Load's binary COPY encoder, the same rows encoded ahead by Encode as a
// loader does, and as pgx's CopyFrom encodes them.
func BenchmarkCopyEncode(b *testing.B) {
	batch := benchBatch("bench", benchRows)
	stored := batch.Table
	stored.Columns = append([]schema.Column(nil), batch.Table.Columns...)
	oids := make([]uint32, len(stored.Columns))
	for i, c := range stored.Columns {
		stored.Columns[i].SQLType = defaultTypes[c.Type]
		oids[i] = map[schema.DataType]uint32{
			schema.Text: pgtype.TextOID, schema.Timestamp: pgtype.TimestamptzOID, schema.Int: pgtype.Int8OID,
			schema.Float: pgtype.Float8OID, schema.Bool: pgtype.BoolOID, schema.JSON: pgtype.JSONBOID,
		}[c.Type]
	}
	raw := schematest.AnyRows(batch.Rows)
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := storedPlan(b, schema.Batch{Table: stored, Rows: batch.Rows})
			enc := newCopyEncoder(&p)
			if _, err := io.Copy(io.Discard, enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(batch.Rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("ahead", func(b *testing.B) { // Encode, in a loader's chunks
		d := &DB{} // Encode needs no connection
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			for lo := 0; lo < len(batch.Rows); lo += 256 {
				var ok bool
				if buf, ok = d.Encode(buf[:0], stored, batch.Rows[lo:min(lo+256, len(batch.Rows))]); !ok {
					b.Fatal("Encode declined the rows")
				}
			}
		}
		b.ReportMetric(float64(len(batch.Rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("raw", func(b *testing.B) {
		m := pgtype.NewMap()
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			src := pgx.CopyFromRows(raw)
			for src.Next() {
				values, err := src.Values()
				if err != nil {
					b.Fatal(err)
				}
				buf = buf[:0]
				for i, v := range values {
					out, err := m.Encode(oids[i], pgtype.BinaryFormatCode, v, buf)
					if err != nil {
						b.Fatal(err)
					}
					if out != nil { // nil for NULL
						buf = out
					}
				}
			}
		}
		b.ReportMetric(float64(len(batch.Rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// storedPlan is the plan of writing b into its table as stored, whose SQL
// types b's columns carry.
func storedPlan(tb testing.TB, b schema.Batch) plan {
	tb.Helper()
	dp, err := destination.NewPlan(b, destination.LoadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return newPlan(dp, storedTypes(b.Table))
}
