package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// Rows encoded ahead of the load, in chunks and followed by rows that were
// not, are stored exactly as the same rows written by Write alone: every
// type, NULL, an absent value, text PostgreSQL would refuse (NUL), jsonb
// and json columns.
func TestEncodedRowsLoadAsRows(t *testing.T) {
	env := newTestEnv(t)
	d := env.open(t)
	ctx := context.Background()
	cols := []schema.Column{
		{Name: "id", Type: schema.Int}, {Name: "b", Type: schema.Bool}, {Name: "f", Type: schema.Float},
		{Name: "ts", Type: schema.Timestamp}, {Name: "s", Type: schema.Text},
		{Name: "jb", Type: schema.JSON}, {Name: "j", Type: schema.JSON, SQLType: "json"},
	}
	at := time.Date(2026, 12, 2, 10, 11, 12, 123456789, time.UTC)
	var rows [][]any
	for i := range 1000 {
		rows = append(rows, []any{int64(i), i%2 == 0, float64(i) / 3, at.Add(time.Duration(i) * time.Second),
			fmt.Sprintf("row %d \x00 ü", i), json.RawMessage(fmt.Sprintf(`{"n":%d,"s":"\u0000"}`, i)), json.RawMessage(`[1, 2]`)})
	}
	rows[7][2], rows[8][4], rows[9][5] = nil, nil, nil
	built := schematest.Rows(rows)
	built[10][6] = schema.Absent

	load := func(name string, encoded int) [][]string {
		t.Helper()
		stored, err := d.EnsureTable(ctx, schema.Table{Name: name, Columns: cols})
		if err != nil {
			t.Fatal(err)
		}
		p, err := destination.NewPlan(schema.Batch{Table: stored, Rows: built[encoded:]}, destination.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for lo := 0; lo < encoded; lo += 256 {
			buf, ok := d.Encode(nil, stored, built[lo:min(lo+256, encoded)])
			if !ok {
				t.Fatalf("Encode declined the rows of %s", name)
			}
			p.Encoded = append(p.Encoded, buf)
		}
		p.EncodedRows = encoded
		if err := d.Write(ctx, p); err != nil {
			t.Fatal(err)
		}
		return destinationtest.Query(t, env.db, fmt.Sprintf(`SELECT * FROM %s ORDER BY id`, d.ident(name)))
	}
	want := load("encoded_none", 0)
	if len(want) != len(rows) {
		t.Fatalf("%d rows stored, want %d", len(want), len(rows))
	}
	destinationtest.Equal(t, load("encoded_all", len(rows)), want)
	destinationtest.Equal(t, load("encoded_most", 900), want)
}

// Encode declines rows that Write loads through the temporary table, and
// a value that is not of its column's type, which Write then reports.
func TestEncodeDeclines(t *testing.T) {
	d := newTestEnv(t).open(t)
	row := schematest.Rows([][]any{{int64(1), "abc"}})
	for _, c := range []struct {
		name string
		cols []schema.Column
		row  [][]schema.Value
	}{
		{"varchar column", []schema.Column{{Name: "id", Type: schema.Int, SQLType: "bigint"}, {Name: "s", Type: schema.Text, SQLType: "varchar(4)"}}, row},
		{"numeric column", []schema.Column{{Name: "id", Type: schema.Int, SQLType: "numeric"}, {Name: "s", Type: schema.Text, SQLType: "text"}}, row},
		{"value of another type", []schema.Column{{Name: "id", Type: schema.Int, SQLType: "bigint"}, {Name: "s", Type: schema.Int, SQLType: "bigint"}}, row},
	} {
		buf, ok := d.Encode([]byte("kept"), schema.Table{Name: "declined", Columns: c.cols}, c.row)
		if ok || string(buf) != "kept" {
			t.Errorf("%s: Encode = %q, %v; want the buffer unchanged, false", c.name, buf, ok)
		}
	}
}
