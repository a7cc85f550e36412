package sink

import (
	"context"
	"database/sql"
	"log/slog"
	"reflect"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/destination/sqlite/sqlitetest"
	"github.com/streamforge/streamforge/internal/schema"
)

func openSQLite(t *testing.T) (*sqlite.DB, *sql.DB) {
	db := sqlitetest.Open(t)
	return db, db.SQL()
}

func parse(t *testing.T, lines ...string) []schema.Event {
	t.Helper()
	out := make([]schema.Event, len(lines))
	for i, l := range lines {
		ev, err := schema.Parse([]byte(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out[i] = ev
	}
	return out
}

func eventsOf(evs []schema.Event) func() []schema.Event { return func() []schema.Event { return evs } }

func append1(t *testing.T, w *Table, rows *Rows, evs []schema.Event) {
	t.Helper()
	if _, err := w.Append(context.Background(), rows, eventsOf(evs)); err != nil {
		t.Fatal(err)
	}
}

// The writer creates the table, adds columns as keys appear, and prepares
// rows without the database only while they fit the table.
func TestAppendCreatesAndWidens(t *testing.T) {
	d, db := openSQLite(t)
	w := NewTable(d, "Items", Options{PrimaryKey: []string{"id"}, Upsert: true}, slog.New(slog.DiscardHandler))
	first := parse(t, `{"id":1,"v":"a"}`)
	if w.Prepare(first, nil) != nil {
		t.Fatal("Prepare built rows for a table it has never seen")
	}
	append1(t, w, nil, first)
	if rows := w.Prepare(parse(t, `{"id":2,"v":"b"}`), nil); rows == nil || rows.Len() != 1 {
		t.Fatalf("Prepare of a batch that fits = %v", rows)
	}
	if w.Prepare(parse(t, `{"id":2,"w":true}`), nil) != nil {
		t.Fatal("Prepare built rows that need a column the table lacks")
	}
	append1(t, w, nil, parse(t, `{"id":2,"w":true}`, `{"id":1,"v":"a2"}`))
	destinationtest.Equal(t, destinationtest.Query(t, db, `SELECT id, v, w FROM items ORDER BY id`),
		[][]string{{"1", "a2", "NULL"}, {"2", "NULL", "1"}})
}

// Rows prepared against a table shape that has changed since are built
// again against the new shape before they load: here the table was
// re-created outside bulker without a column the rows carry.
func TestRowsPreparedAgainstAnOlderShapeAreRebuilt(t *testing.T) {
	d, db := openSQLite(t)
	w := NewTable(d, "items", Options{}, slog.New(slog.DiscardHandler))
	append1(t, w, nil, parse(t, `{"id":1,"v":"a"}`))
	next := parse(t, `{"id":2,"v":"b"}`)
	rows := w.Prepare(next, nil)
	if rows == nil {
		t.Fatal("no rows prepared for a batch that fits the table")
	}
	if _, err := db.Exec(`DROP TABLE items; CREATE TABLE items (id INTEGER, x TEXT)`); err != nil {
		t.Fatal(err)
	}
	append1(t, w, rows, next) // fails once, reads the table again, rebuilds
	destinationtest.Equal(t, destinationtest.Query(t, db, `SELECT id, x, v FROM items ORDER BY id`),
		[][]string{{"2", "NULL", "b"}})
}

// Rows prepared chunk by chunk and joined are the rows of the whole batch,
// with the notes of values kept in _unmapped_data grouped as for the
// whole; parts prepared against different shapes of the table do not join.
func TestJoinChunks(t *testing.T) {
	d, _ := openSQLite(t)
	w := NewTable(d, "items", Options{}, slog.New(slog.DiscardHandler))
	append1(t, w, nil, parse(t, `{"id":1,"v":"a"}`))
	append1(t, w, nil, parse(t, `{"id":"x","v":"b"}`)) // makes _unmapped_data
	all := parse(t, `{"id":2,"v":"c"}`, `{"id":"y","v":"d"}`, `{"id":3,"v":4}`, `{"id":"z"}`, `{"v":"e"}`)
	whole := w.Prepare(all, nil)
	if whole == nil || len(whole.notes) == 0 {
		t.Fatalf("Prepare of the whole batch = %+v, want rows with notes", whole)
	}
	for _, cut := range [][]int{{1}, {2}, {1, 3}, {1, 2, 3, 4}} {
		var parts []*Rows
		lo := 0
		for _, hi := range append(cut, len(all)) {
			parts = append(parts, w.Prepare(all[lo:hi], nil))
			lo = hi
		}
		joined := Join(parts)
		if joined == nil {
			t.Fatalf("cut at %v: Join = nil", cut)
		}
		if !reflect.DeepEqual(joined.batch, whole.batch) || !reflect.DeepEqual(joined.notes, whole.notes) {
			t.Errorf("cut at %v: joined rows %v notes %v, whole batch %v notes %v",
				cut, joined.batch.Rows, joined.notes, whole.batch.Rows, whole.notes)
		}
	}
	before := w.Prepare(all[:1], nil)
	append1(t, w, nil, parse(t, `{"id":4,"w":true}`)) // a new column: a new shape
	if rows := Join([]*Rows{before, w.Prepare(all[1:], nil)}); rows != nil {
		t.Errorf("Join of rows prepared against two shapes = %d rows, want nil", rows.Len())
	}
	if rows := Join([]*Rows{w.Prepare(all[:1], nil), nil}); rows != nil {
		t.Errorf("Join with a missing part = %d rows, want nil", rows.Len())
	}
}

// Replace swaps the table or a partition, or adds rows, and the next
// Append sees the table as replaced.
func TestReplaceThenAppend(t *testing.T) {
	d, db := openSQLite(t)
	w := NewTable(d, "items", Options{}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	append1(t, w, nil, parse(t, `{"id":1,"old":"x"}`))
	if _, err := w.Replace(ctx, parse(t, `{"id":5,"p":1}`, `{"id":6,"p":1}`), Replacement{Mode: destination.ReplaceTable}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Replace(ctx, parse(t, `{"id":7,"p":2}`), Replacement{Mode: destination.ReplacePartition, Partition: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Replace(ctx, parse(t, `{"id":8,"p":2}`), Replacement{Mode: destination.ReplacePartition, Partition: "b"}); err != nil {
		t.Fatal(err)
	}
	append1(t, w, nil, parse(t, `{"id":9,"q":"new"}`))
	// Jitsu's /bulk modes batch and stream add rows, all or nothing.
	if _, err := w.Replace(ctx, parse(t, `{"id":10,"q":"bulk"}`), Replacement{Mode: destination.Append}); err != nil {
		t.Fatal(err)
	}
	destinationtest.Equal(t, destinationtest.Query(t, db, `SELECT id, p, __partition_id, q FROM items ORDER BY id`),
		[][]string{{"5", "1", "NULL", "NULL"}, {"6", "1", "NULL", "NULL"}, {"8", "2", "b", "NULL"}, {"9", "NULL", "NULL", "new"}, {"10", "NULL", "NULL", "bulk"}})
	if _, err := w.Replace(ctx, nil, Replacement{Mode: destination.LoadMode(99)}); err == nil {
		t.Fatal("Replace in an unknown mode must fail")
	}
}

// Rows built for a table that did not exist are loaded as built once the
// destination made the table they asked for; any other table built them
// again.
func TestMadeAs(t *testing.T) {
	want := schema.Table{Name: "t", Columns: []schema.Column{
		{Name: "id", Type: schema.Int, Key: "id"},
		{Name: "v", Type: schema.Text, SQLType: "varchar(10)", Key: "v"},
	}, TimestampColumn: "id"}
	made := func(edit func(*schema.Table)) schema.Table {
		s := want
		s.Columns = []schema.Column{
			{Name: "id", Type: schema.Int, SQLType: "bigint", Key: "id"},
			{Name: "v", Type: schema.Text, SQLType: "varchar(10)", Key: "v"},
		}
		if edit != nil {
			edit(&s)
		}
		return s
	}
	for _, tt := range []struct {
		name   string
		stored schema.Table
		same   bool
	}{
		{"as asked, types filled in", made(nil), true},
		{"hinted type stored otherwise", made(func(s *schema.Table) { s.Columns[1].SQLType = "character varying(10)" }), false},
		{"another type", made(func(s *schema.Table) { s.Columns[0].Type = schema.Float }), false},
		{"another key", made(func(s *schema.Table) { s.Columns[1].Key = "w" }), false},
		{"a column more", made(func(s *schema.Table) { s.Columns = append(s.Columns, schema.Column{Name: "x", Type: schema.Text}) }), false},
		{"no timestamp index", made(func(s *schema.Table) { s.TimestampColumn = "" }), false},
	} {
		if got := madeAs(tt.stored, want); got != tt.same {
			t.Errorf("%s: madeAs = %v, want %v", tt.name, got, tt.same)
		}
	}
}
