package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

func open(t testing.TB, path string) *DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sub", "dir", "test.db")
	}
	c := destination.Config{ID: "local", Type: "sqlite", Credentials: destination.Credentials{Database: path}}
	db, err := New(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEnsureTable(t *testing.T) {
	ctx := context.Background()
	db := open(t, "")
	want := destinationtest.Events()
	got, err := db.EnsureTable(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.PrimaryKey) != "[id]" || got.TimestampColumn != "at" || len(got.Columns) != 6 {
		t.Fatalf("stored table = %+v", got)
	}
	for i, c := range got.Columns {
		if c.Name != want.Columns[i].Name || c.Type != want.Columns[i].Type {
			t.Errorf("column %d = %+v, want %+v", i, c, want.Columns[i])
		}
	}

	// Adding columns, one with a hint, keeps the old ones; repeating is a no-op.
	want.Columns = append(want.Columns, schema.Column{Name: "code", Type: schema.Text, SQLType: "varchar(4)"},
		schema.Column{Name: "n", Type: schema.Int})
	for range 2 {
		if got, err = db.EnsureTable(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	c, ok := got.Column("code")
	if len(got.Columns) != 8 || !ok || c.SQLType != "varchar(4)" || c.Type != schema.Text {
		t.Fatalf("after adding columns: %+v", got)
	}
	d, ok, err := db.Describe(ctx, "events")
	if err != nil || !ok || fmt.Sprint(d) != fmt.Sprint(got) {
		t.Fatalf("Describe = %+v, %v, %v; want %+v", d, ok, err, got)
	}
	if _, ok, err := db.Describe(ctx, "missing"); ok || err != nil {
		t.Fatalf("Describe(missing) = %v, %v", ok, err)
	}
}

func TestEnsureTableRejectsBadHint(t *testing.T) {
	db := open(t, "")
	for _, hint := range []string{"int); drop table x; --", "text default 'x'", "json\n"} {
		tbl := schema.Table{Name: "t", Columns: []schema.Column{{Name: "a", Type: schema.Text, SQLType: hint}}}
		if _, err := db.EnsureTable(context.Background(), tbl); !errors.Is(err, destination.ErrData) {
			t.Errorf("hint %q: err = %v, want ErrData", hint, err)
		}
	}
}

func TestLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := open(t, "")
	tbl, err := db.EnsureTable(ctx, destinationtest.Events())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("", 3*3600))
	rows := [][]any{
		{int64(1)<<60 + 1, "🎉 party", true, 1.5, at, json.RawMessage(`{"a":[1,2]}`)},
		{int64(-9007199254740993), "строка\nвторая 第二行", false, -0.25, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), json.RawMessage(`[]`)},
		{int64(3), "", nil, nil, nil, schema.Absent},
	}
	if err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	got := destinationtest.Query(t, db.SQL(), `SELECT id, name, ok, score, CAST(at AS TEXT), props FROM events ORDER BY score DESC`)
	destinationtest.Equal(t, got, [][]string{
		{"1152921504606846977", "🎉 party", "1", "1.5", "2024-03-01T09:30:45.123456Z", `{"a":[1,2]}`},
		{"-9007199254740993", "строка\nвторая 第二行", "0", "-0.25", "0001-01-01T00:00:00.000000Z", "[]"},
		{"3", "", "NULL", "NULL", "NULL", "NULL"},
	})
	// SQLite's own date functions understand the stored text.
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT datetime(at) FROM events WHERE id > 100`), [][]string{{"2024-03-01 09:30:45"}})
}

func TestUpsert(t *testing.T) {
	db := open(t, "")
	destinationtest.Upsert(t, db, db.SQL())
}

func TestReplaceModes(t *testing.T) {
	db := open(t, "")
	tbl := destinationtest.ReplaceModes(t, db, db.SQL())
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT count(*) FROM sqlite_master WHERE name LIKE '%tmp%'`), [][]string{{"0"}})

	// Replacing a table that does not exist yet creates it.
	tbl.Name = "fresh"
	destinationtest.Load(t, db, tbl, destination.LoadOptions{Mode: destination.ReplaceTable}, destinationtest.PartitionRow(1, "x", ""))
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT id, name FROM fresh`), [][]string{{"1", "x"}})
}

func TestDataErrorAppliesNothing(t *testing.T) {
	ctx := context.Background()
	db := open(t, "")
	tbl, err := db.EnsureTable(ctx, destinationtest.Events())
	if err != nil {
		t.Fatal(err)
	}
	ok := []any{int64(1), "kept", nil, nil, nil, nil}
	if err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{ok})}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := map[string][][]any{
		"duplicate key": {{int64(2), "new", nil, nil, nil, nil}, {int64(1), "dup", nil, nil, nil, nil}},
		"null key":      {{int64(5), "new", nil, nil, nil, nil}, {nil, "no key", nil, nil, nil, nil}},
		"NaN":           {{int64(6), "new", nil, nil, nil, nil}, {int64(7), "nan", nil, nil, nil, nil}},
	}
	bad["NaN"][1][3] = nanValue()
	for name, rows := range bad {
		err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}, destination.LoadOptions{})
		if !errors.Is(err, destination.ErrData) {
			t.Errorf("%s: err = %v, want ErrData", name, err)
		}
	}
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT id, name FROM events`), [][]string{{"1", "kept"}})
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// Two processes (two DB values on one file) adding the same columns at once
// both succeed.
func TestConcurrentAddColumn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	dbs := []*DB{open(t, path), open(t, path), open(t, path)}
	base := schema.Table{Name: "t", Columns: []schema.Column{{Name: "id", Type: schema.Int}}}
	if _, err := dbs[0].EnsureTable(ctx, base); err != nil {
		t.Fatal(err)
	}
	wider := base
	for i := range 20 {
		wider.Columns = append(wider.Columns, schema.Column{Name: fmt.Sprintf("c%d", i), Type: schema.Text})
	}
	var dests []destination.Driver
	var tables []schema.Table
	for _, db := range dbs {
		for range 2 {
			dests, tables = append(dests, db), append(tables, wider)
		}
	}
	destinationtest.EnsureConcurrently(t, dests, tables)
	got, _, err := dbs[2].Describe(ctx, "t")
	if err != nil || len(got.Columns) != 21 {
		t.Fatalf("columns = %d, err %v", len(got.Columns), err)
	}
}

func TestNewFailsClearly(t *testing.T) {
	dir := t.TempDir()
	c := destination.Config{ID: "x", Credentials: destination.Credentials{Database: filepath.Join(dir, "db", "f.db")}}
	if _, err := New(context.Background(), destination.Config{ID: "x"}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("no error without a database path")
	}
	// A file where the directory should be.
	if err := os.WriteFile(filepath.Join(dir, "db"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), c, slog.New(slog.DiscardHandler))
	if err == nil || errors.Is(err, destination.ErrData) || !strings.Contains(err.Error(), c.Credentials.Database) {
		t.Fatalf("err = %v, want an outage naming the file", err)
	}
}

// A path with characters that mean something in a URI still names the file.
func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c#d%20.db")
	db := open(t, path)
	if _, err := db.EnsureTable(context.Background(), destinationtest.Events()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
