package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
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
