package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// BenchmarkLoad loads batches of 10,000 web-analytics-like rows by COPY.
func BenchmarkLoad(b *testing.B) {
	env := newTestEnv(b)
	d := env.open(b)
	ctx := context.Background()
	for _, dedup := range []bool{false, true} {
		b.Run(fmt.Sprintf("dedup=%v", dedup), func(b *testing.B) {
			batch := benchBatch(fmt.Sprintf("bench_%v", dedup), 10_000)
			if _, err := d.EnsureTable(ctx, batch.Table); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Load(ctx, batch, destination.LoadOptions{Dedup: dedup}); err != nil {
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

func benchBatch(table string, n int) schema.Batch {
	cols := []schema.Column{
		{Name: "message_id", Type: schema.Text}, {Name: "timestamp", Type: schema.Timestamp},
		{Name: "type", Type: schema.Text}, {Name: "user_id", Type: schema.Int},
		{Name: "anonymous_id", Type: schema.Text}, {Name: "context_page_url", Type: schema.Text},
		{Name: "context_ip", Type: schema.Text}, {Name: "properties_amount", Type: schema.Float},
		{Name: "properties_first", Type: schema.Bool}, {Name: "context_traits", Type: schema.JSON},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		var amount any = float64(i%500) + 0.99
		if i%7 == 0 {
			amount = nil
		}
		rows[i] = []any{
			fmt.Sprintf("msg-%08d", i), start.Add(time.Duration(i) * time.Millisecond), "track",
			int64(i % 2000), fmt.Sprintf("anon-%d", i%3000), fmt.Sprintf("https://example.com/page/%d?utm_source=x", i%50),
			fmt.Sprintf("10.0.%d.%d", i%256, i%200), amount, i%10 == 0,
			json.RawMessage(fmt.Sprintf(`{"plan":"pro","seats":%d,"tags":["a","b"]}`, i%9)),
		}
	}
	return schema.Batch{Table: schema.Table{Name: table, Columns: cols, PrimaryKey: []string{"message_id"}, TimestampColumn: "timestamp"}, Rows: rows}
}
