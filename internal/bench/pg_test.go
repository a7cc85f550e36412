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

	"github.com/jackc/pgx/v5"

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
	for _, c := range []Copy{{}, {Warm: true}, {NoIndex: true}, {Batch: batch}} {
		if rate, err := pg.CopyRows(ctx, rows, c); err != nil || rate <= 0 {
			t.Errorf("CopyRows(%+v) = %v, %v", c, rate, err)
		}
	}
	if rate, err := pg.LoadBatches(ctx, rows, log); err != nil || rate <= 0 {
		t.Errorf("LoadBatches = %v, %v", rate, err)
	}
}

// TestCommCPUMeterEndedBackends checks the PostgreSQL CPU meter against
// backends that end while it runs: one started meanwhile counts with all
// it used, one started before counts only for what it used since.
func TestCommCPUMeterEndedBackends(t *testing.T) {
	pg := testPG(t)
	ctx := context.Background()
	connect := func() *pgx.Conn {
		c, err := pgx.ConnectConfig(ctx, pg.conn.Config().Copy())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// burn keeps c's backend busy until it has used at least d of CPU.
	burn := func(c *pgx.Conn, d float64) {
		for {
			s, err := ProcCPUSeconds(int(c.PgConn().PID()))
			if err != nil {
				t.Fatalf("reading the backend's CPU time: %v", err)
			}
			if s >= d {
				return
			}
			if _, err := c.Exec(ctx, "SELECT count(*) FROM generate_series(1, 200000)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// end closes c and waits until its backend is gone, its time then
	// in the postmaster's.
	end := func(c *pgx.Conn) {
		pid := c.PgConn().PID()
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				return
			}
		}
		t.Fatalf("backend %d still there 10 s after its connection closed", pid)
	}

	meter := CommCPUMeter("postgres")
	c := connect()
	burn(c, 0.3)
	end(c)
	// No upper bound: other packages' tests may keep PostgreSQL busy on
	// the other core meanwhile.
	if used := meter(); used < 0.25 {
		t.Errorf("a backend that used 0.3 s and ended while metered: %.2f s counted, want at least 0.25", used)
	}

	c = connect()
	burn(c, 1)
	meter = CommCPUMeter("postgres")
	end(c)
	// Other tests' backends may add some in this short window, not 0.5 s.
	if used := meter(); used > 0.5 {
		t.Errorf("a backend that used 1 s before the meter started, then ended: %.2f s counted, want its time before the start left out", used)
	}
}

// A table the loader has not created yet counts 0; one it creates between
// the failed count and the check is counted again.
func TestCountOrAbsent(t *testing.T) {
	missing := fmt.Errorf("relation does not exist")
	for _, c := range []struct {
		name    string
		counts  []error // outcome of each count: nil counts 7
		exists  bool
		checkOK bool
		want    int64
		wantErr bool
	}{
		{name: "exists", counts: []error{nil}, want: 7},
		{name: "absent", counts: []error{missing}, checkOK: true, want: 0},
		{name: "created in between", counts: []error{missing, nil}, exists: true, checkOK: true, want: 7},
		{name: "failing", counts: []error{missing, missing}, exists: true, checkOK: true, wantErr: true},
		{name: "check fails", counts: []error{missing}, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			count := func() (int64, error) {
				if calls >= len(c.counts) {
					t.Fatalf("count called %d times, want at most %d", calls+1, len(c.counts))
				}
				err := c.counts[calls]
				calls++
				if err != nil {
					return 0, err
				}
				return 7, nil
			}
			exists := func() (bool, error) {
				if !c.checkOK {
					return false, fmt.Errorf("connection lost")
				}
				return c.exists, nil
			}
			n, err := countOrAbsent("t", count, exists)
			if n != c.want || (err != nil) != c.wantErr {
				t.Errorf("countOrAbsent = %d, %v; want %d, error %v", n, err, c.want, c.wantErr)
			}
		})
	}
}
