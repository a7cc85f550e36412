package destinationtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// BenchBatch is n page-view-like events for table.
func BenchBatch(table string, n int) schema.Batch {
	tbl := schema.Table{
		Name: table,
		Columns: []schema.Column{
			{Name: "message_id", Type: schema.Text},
			{Name: "user_id", Type: schema.Int},
			{Name: "event", Type: schema.Text},
			{Name: "url", Type: schema.Text},
			{Name: "timestamp", Type: schema.Timestamp},
			{Name: "revenue", Type: schema.Float},
			{Name: "consent", Type: schema.Bool},
			{Name: "context", Type: schema.JSON},
		},
		PrimaryKey:      []string{"message_id"},
		TimestampColumn: "timestamp",
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{
			fmt.Sprintf("msg-%08d", i), int64(i % 977), "page_view",
			fmt.Sprintf("https://example.com/products/%d?ref=campaign", i%313),
			at.Add(time.Duration(i) * time.Millisecond), float64(i%100) / 4, i%3 == 0,
			json.RawMessage(`{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","locale":"en-US"}`),
		}
	}
	return schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}
}

// BenchLoad measures dedup loads of 10,000 BenchBatch rows into the table
// "bench" of d, reporting rows/s. Upserting the same keys keeps the table's
// size steady.
func BenchLoad(b *testing.B, d destination.Driver) {
	ctx := context.Background()
	batch := BenchBatch("bench", 10000)
	if _, err := d.EnsureTable(ctx, batch.Table); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(ctx, d, batch, destination.LoadOptions{Upsert: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Rows))/b.Elapsed().Seconds(), "rows/s")
}
