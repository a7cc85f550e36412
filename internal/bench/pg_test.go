package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/postgres"
	"github.com/streamforge/streamforge/internal/schema"
)

func testPG(t *testing.T) *PG {
	t.Helper()
	dsn := os.Getenv("STREAMFORGE_TEST_PG")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pg, err := ConnectPG(ctx, dsn, "bench_test_"+strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
	if err != nil {
		t.Fatalf("PostgreSQL unreachable: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Errorf("dropping the schema: %v", err)
		}
	})
	return pg
}

func TestPGCountAndWaitRows(t *testing.T) {
	pg := testPG(t)
	ctx := context.Background()
	if n, err := pg.Count(ctx, "missing"); err != nil || n != 0 {
		t.Fatalf("Count(missing) = %d, %v; want 0, nil", n, err)
	}
	if _, err := pg.conn.Exec(ctx, "CREATE TABLE "+pg.schema+".t (a int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.conn.Exec(ctx, "INSERT INTO "+pg.schema+".t SELECT generate_series(1, 3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitRows(ctx, pg, "t", 3, 10*time.Millisecond, 10*time.Second, nil); err != nil {
		t.Fatalf("WaitRows: %v", err)
	}
	if _, err := WaitRows(ctx, pg, "t", 4, 10*time.Millisecond, 100*time.Millisecond, nil); err == nil {
		t.Error("WaitRows for more rows than exist returned no error")
	}
}

// TestLoadRowsBaselines checks that the load phase's baselines load the
// same distinct rows as bulker, every one of them, batched or not.
func TestLoadRowsBaselines(t *testing.T) {
	pg := testPG(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n, batch = 25, 10
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	event := func(i int) []byte { return Event(i, t0) }

	// The table as bulker creates it from the first batch.
	dest, err := postgres.New(ctx, destination.Config{ID: "t", Type: "postgres", Credentials: pg.Credentials()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	first, err := schema.Parse(event(0))
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := schema.Build(dest.Dialect(), "load", schema.TableOptions{}, []schema.Event{first}, nil)
	if _, err := dest.EnsureTable(ctx, want); err != nil {
		t.Fatal(err)
	}

	rows, err := pg.BuildRows(ctx, "load", n, batch, event, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Batches) != 3 || len(rows.Any) != n {
		t.Fatalf("%d batches, %d rows; want 3 batches of at most %d, %d rows", len(rows.Batches), len(rows.Any), batch, n)
	}
	id := slices.Index(rows.Columns, "event_id")
	for i, r := range rows.Any {
		if got, want := r[id], fmt.Sprintf("evt-%d", i); got != want {
			t.Fatalf("row %d: event_id %v, want %s: the rows must be the n events, in order", i, got, want)
		}
	}
	for _, c := range []struct {
		noIndex bool
		batch   int
	}{{false, 0}, {true, 0}, {false, batch}} {
		if rate, err := pg.CopyRows(ctx, rows, c.noIndex, c.batch); err != nil || rate <= 0 {
			t.Errorf("CopyRows(noIndex %v, batch %d) = %v, %v", c.noIndex, c.batch, rate, err)
		}
	}
	if rate, err := pg.LoadBatches(ctx, rows, log); err != nil || rate <= 0 {
		t.Errorf("LoadBatches = %v, %v", rate, err)
	}
}
