// Package destinationtest holds the fixtures and checks that the tests of
// bulker's MySQL and SQLite drivers share: a table with one column of each
// logical type, a read-back of rows as a SQL shell shows them, the upsert
// and replace-mode scenarios, and the load benchmark. What every driver
// must pass is in package conformance; this is for checks whose expected
// text only fits dialects that show booleans as 1 and 0.
package destinationtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// Events is the table "events" with a column of each logical type, keyed
// by id and timestamped by at.
func Events() schema.Table {
	return schema.Table{
		Name: "events",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int},
			{Name: "name", Type: schema.Text},
			{Name: "ok", Type: schema.Bool},
			{Name: "score", Type: schema.Float},
			{Name: "at", Type: schema.Timestamp},
			{Name: "props", Type: schema.JSON},
		},
		PrimaryKey:      []string{"id"},
		TimestampColumn: "at",
	}
}

// Query returns every row of q as strings (see Rows), failing the test on
// an error.
func Query(t testing.TB, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	out, err := Rows(db, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// Rows returns every row of q as strings, as a SQL shell shows them:
// "NULL" for null, times in RFC 3339 in UTC. Unlike Query it returns the
// error, for polling a table that may not exist yet.
func Rows(db *sql.DB, q string, args ...any) ([][]string, error) {
	rows, err := db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				r[i] = "NULL"
			case []byte:
				r[i] = string(x)
			case time.Time:
				r[i] = x.UTC().Format(time.RFC3339Nano)
			default:
				r[i] = fmt.Sprint(x)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Equal fails the test unless got, from Query, is want.
func Equal(t testing.TB, got, want [][]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows:\n got %q\nwant %q", got, want)
	}
}

// Write plans the load of b and writes it, as package sink does. Columns
// of b without an SQLType take the stored one, as sink's rows do, so that
// a test can name a table's columns without their SQL types.
func Write(ctx context.Context, d destination.Driver, b schema.Batch, o destination.LoadOptions) error {
	if o.Mode != destination.ReplaceTable {
		stored, ok, err := d.Describe(ctx, b.Table.Name)
		if err != nil {
			return err
		}
		if ok {
			b.Table.Columns = slices.Clone(b.Table.Columns)
			for i, c := range b.Table.Columns {
				if sc, found := destination.FindColumn(stored, c.Name); found && c.SQLType == "" {
					b.Table.Columns[i].SQLType = sc.SQLType
				}
			}
		}
	}
	p, err := destination.NewPlan(b, o)
	if err != nil {
		return err
	}
	return d.Write(ctx, p)
}

// Load loads rows into tbl and fails the test on error.
func Load(t testing.TB, d destination.Driver, tbl schema.Table, o destination.LoadOptions, rows ...[]any) {
	t.Helper()
	if err := Write(context.Background(), d, schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}, o); err != nil {
		t.Fatal(err)
	}
}

// Upsert checks dedup loads into Events, which must not exist yet in d,
// read back through db: the last row of a key in a batch wins, Absent keeps
// the stored value and an explicit null overwrites it.
func Upsert(t testing.TB, d destination.Driver, db *sql.DB) {
	t.Helper()
	tbl, err := d.EnsureTable(context.Background(), Events())
	if err != nil {
		t.Fatal(err)
	}
	dedup := destination.LoadOptions{Upsert: true}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	a := schema.Absent
	Load(t, d, tbl, dedup,
		[]any{int64(1), "first", true, 1.0, at, json.RawMessage(`{}`)},
		[]any{int64(2), "two", false, 2.0, at, json.RawMessage(`{}`)},
		[]any{int64(1), "newest", a, a, a, a},
	)
	Load(t, d, tbl, dedup,
		[]any{int64(2), "older", a, nil, a, a},
		[]any{int64(2), "two v2", a, a, a, a},
		[]any{int64(3), a, true, a, a, a},
		[]any{int64(1), a, a, a, a, a},
	)
	Equal(t, Query(t, db, `SELECT id, name, ok, score, props FROM events ORDER BY id`), [][]string{
		{"1", "newest", "1", "1", "{}"},
		{"2", "two v2", "0", "NULL", "{}"},
		{"3", "NULL", "1", "NULL", "NULL"},
	})
}

// PartitionRow is a row of the table ReplaceModes returns.
func PartitionRow(id int64, name, partition string) []any {
	return []any{id, name, nil, nil, nil, nil, partition}
}

// ReplaceModes checks ReplacePartition and ReplaceTable on Events with the
// partition column, which must not exist yet in d, read back through db. It
// returns the table, for the driver's own checks of what it leaves behind.
func ReplaceModes(t testing.TB, d destination.Driver, db *sql.DB) schema.Table {
	t.Helper()
	ctx := context.Background()
	tbl := Events()
	tbl.Columns = append(tbl.Columns, schema.Column{Name: destination.PartitionColumn, Type: schema.Text})
	tbl, err := d.EnsureTable(ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	Load(t, d, tbl, destination.LoadOptions{}, PartitionRow(1, "a", "p1"), PartitionRow(2, "b", "p1"), PartitionRow(3, "c", "p2"))
	Load(t, d, tbl, destination.LoadOptions{Mode: destination.ReplacePartition, Partition: "p1"}, PartitionRow(4, "d", "p1"))
	Equal(t, Query(t, db, `SELECT id, name, __partition_id FROM events ORDER BY id`),
		[][]string{{"3", "c", "p2"}, {"4", "d", "p1"}})

	Load(t, d, tbl, destination.LoadOptions{Mode: destination.ReplaceTable}, PartitionRow(9, "z", "p9"))
	Equal(t, Query(t, db, `SELECT id, name FROM events`), [][]string{{"9", "z"}})
	got, ok, err := d.Describe(ctx, "events")
	if err != nil || !ok || got.TimestampColumn != "at" || fmt.Sprint(got.PrimaryKey) != "[id]" {
		t.Fatalf("after replace: %+v %v %v", got, ok, err)
	}
	return tbl
}

// EnsureConcurrently calls EnsureTable(tables[i]) on dests[i], all at once
// as separate processes would, and fails the test for each error.
func EnsureConcurrently(t testing.TB, dests []destination.Driver, tables []schema.Table) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(dests))
	for i, d := range dests {
		wg.Go(func() {
			_, err := d.EnsureTable(context.Background(), tables[i])
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
