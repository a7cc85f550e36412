package conformance

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// wideTable: an event of many fields becomes as many columns.
func wideTable(h *harness) {
	d := h.open(h.T)
	n := h.spec.WideColumns
	cols := []schema.Column{col("id", schema.Int)}
	row1, row2 := []any{int64(1)}, []any{int64(2)}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("f%04d", i)
		switch i % 3 {
		case 0:
			cols = append(cols, col(name, schema.Int))
			row1, row2 = append(row1, int64(i)), append(row2, nil)
		case 1:
			cols = append(cols, col(name, schema.Text))
			row1, row2 = append(row1, fmt.Sprintf("value %d", i)), append(row2, schema.Absent)
		default:
			cols = append(cols, col(name, schema.Bool))
			row1, row2 = append(row1, i%2 == 0), append(row2, true)
		}
	}
	b := schema.Batch{Table: schema.Table{Name: h.name("wide"), Columns: cols}, Rows: schematest.Rows([][]any{row1, row2})}
	h.ensureLoad(d, b, destination.LoadOptions{})
	got := h.describe(d, b.Table.Name)
	if len(got.Columns) != n+1 {
		h.Fatalf("%d columns stored, want %d", len(got.Columns), n+1)
	}
	for i := range row2 {
		if row2[i] == schema.Absent {
			row2[i] = nil
		}
	}
	h.wantRows(b.Table.Name, cols, "id", [][]any{row1, row2})
}

// reservedNames: SQL keywords and mixed case as they leave the schema
// engine's sanitiser, as table, column and primary key names.
func reservedNames(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{
		col("select", schema.Int), col("user", schema.Text), col("order", schema.Int),
		col("default", schema.Bool), col("from", schema.Timestamp), col("group", schema.JSON),
		col(ident(d, "UserName"), schema.Text), col(ident(d, "Order_ID"), schema.Int),
	}
	table := schema.Table{Name: "user", Columns: cols, PrimaryKey: []string{"select"}, TimestampColumn: "from"}
	rows := [][]any{
		{int64(1), "u1", int64(10), true, ts1, json.RawMessage(`{"where":1}`), "Ann", int64(100)},
		{int64(2), "u2", int64(20), false, ts2, nil, "Bob", int64(200)},
	}
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows(rows)}, destination.LoadOptions{Upsert: true})
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(2), "u2b", schema.Absent, schema.Absent, schema.Absent, schema.Absent, schema.Absent, int64(201)},
	})}, destination.LoadOptions{Upsert: true})
	got := h.describe(d, table.Name)
	h.wantColumns(got, names(cols)...)
	h.wantTypes(got, cols...)
	rows[0][5] = `{"where":1}`
	rows[1] = []any{int64(2), "u2b", int64(20), false, ts2, nil, "Bob", int64(201)}
	h.wantRows(table.Name, cols, "select", rows)
}

func replaceTable(h *harness) {
	d := h.open(h.T)
	name := h.name("replace")
	old := []schema.Column{col("id", schema.Int), col("v", schema.Text), col("gone", schema.Int)}
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: name, Columns: old}, Rows: schematest.Rows([][]any{
		{int64(1), "a", int64(1)}, {int64(2), "b", int64(2)}, {int64(3), "c", int64(3)},
	})}, destination.LoadOptions{})
	cols := []schema.Column{col("id", schema.Int), col("v", schema.Text), col("added", schema.Float)}
	table := schema.Table{Name: name, Columns: cols, PrimaryKey: []string{"id"}}
	err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(10), "x", 1.5}, {int64(11), "y", nil},
	})}, destination.LoadOptions{Mode: destination.ReplaceTable})
	if err != nil {
		h.Fatalf("Load(ReplaceTable): %v", err)
	}
	got := h.describe(d, name)
	h.wantColumns(got, "id", "v", "added")
	h.wantRows(name, cols, "id", [][]any{{int64(10), "x", 1.5}, {int64(11), "y", nil}})
	// The swapped-in table takes ordinary loads and replaces again.
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(12), "z", 2.5}})}, destination.LoadOptions{Upsert: true})
	if err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(20), "w", 0.0}})},
		destination.LoadOptions{Mode: destination.ReplaceTable}); err != nil {
		h.Fatalf("second Load(ReplaceTable): %v", err)
	}
	h.wantRows(name, cols, "id", [][]any{{int64(20), "w", 0.0}})
	// No rows: the table is emptied and keeps the columns it is given.
	if err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: table}, destination.LoadOptions{Mode: destination.ReplaceTable}); err != nil {
		h.Fatalf("Load(ReplaceTable) of no rows: %v", err)
	}
	h.wantColumns(h.describe(d, name), "id", "v", "added")
	h.wantRows(name, cols, "id", nil)

	fresh := schema.Table{Name: h.name("replace_new"), Columns: cols}
	if err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: fresh, Rows: schematest.Rows([][]any{{int64(1), "n", nil}})},
		destination.LoadOptions{Mode: destination.ReplaceTable}); err != nil {
		h.Fatalf("Load(ReplaceTable) of a new table: %v", err)
	}
	h.wantRows(fresh.Name, cols, "id", [][]any{{int64(1), "n", nil}})
}

func replacePartition(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col(destination.PartitionColumn, schema.Text), col("v", schema.Text)}
	table := schema.Table{Name: h.name("partition"), Columns: cols}
	load := func(p string, rows ...[]any) {
		h.Helper()
		h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows(rows)},
			destination.LoadOptions{Mode: destination.ReplacePartition, Partition: p})
	}
	load("p1", []any{int64(1), "p1", "a"}, []any{int64(2), "p1", "b"})
	load("p2", []any{int64(3), "p2", "c"})
	load("p1", []any{int64(4), "p1", "d"})
	h.wantRows(table.Name, cols, "id", [][]any{{int64(3), "p2", "c"}, {int64(4), "p1", "d"}})
	load("p2")
	h.wantRows(table.Name, cols, "id", [][]any{{int64(4), "p1", "d"}})
}

// dataError: a batch the database rejects for its rows (here a duplicate
// primary key without dedup) is ErrData and leaves nothing behind.
func dataError(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("v", schema.Text)}
	table := schema.Table{Name: h.name("dataerr"), Columns: cols, PrimaryKey: []string{"id"}}
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(1), "kept"}})}, destination.LoadOptions{})
	err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(2), "new"}, {int64(3), "new"}, {int64(2), "duplicate"},
	})}, destination.LoadOptions{})
	if !isData(err) {
		h.Fatalf("Load(duplicate key) = %v, want an error matching destination.ErrData", err)
	}
	h.wantRows(table.Name, cols, "id", [][]any{{int64(1), "kept"}})
	// The destination still works after the failure.
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(2), "ok"}})}, destination.LoadOptions{})
	if n := h.count(table.Name); n != 2 {
		h.Errorf("%d rows after recovery, want 2", n)
	}
}

// concurrentEnsure: processes (separate destinations) adding the same
// columns at once all succeed, and each column exists once.
func concurrentEnsure(h *harness) {
	dests := []destination.Driver{h.open(h.T), h.open(h.T), h.open(h.T)}
	name := h.name("concurrent")
	const workers, steps = 6, 5
	ctx := h.ctx()
	var wg sync.WaitGroup
	errs := make(chan error, workers*steps)
	for w := range workers {
		d := dests[w%len(dests)]
		wg.Go(func() {
			for s := 1; s <= steps; s++ {
				t := schema.Table{Name: name, Columns: []schema.Column{col("id", schema.Int)}}
				for c := 1; c <= s; c++ {
					t.Columns = append(t.Columns, col(fmt.Sprintf("c%d", c), schema.Text))
				}
				if _, err := d.EnsureTable(ctx, t); err != nil {
					errs <- fmt.Errorf("worker %d step %d: %w", w, s, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.Error(err)
	}
	h.wantColumns(h.describe(dests[0], name), "id", "c1", "c2", "c3", "c4", "c5")
}

// recoverOutsideChange: a table dropped or altered outside bulker fails at
// most one load; the next EnsureTable re-reads the schema and recovers.
func recoverOutsideChange(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("a", schema.Text)}
	table := schema.Table{Name: h.name("outside"), Columns: cols}
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(1), "x"}})}, destination.LoadOptions{})

	retry := func(what string, row []any) {
		h.Helper()
		var err error
		for range 2 {
			if _, err = d.EnsureTable(h.ctx(), table); err != nil {
				continue
			}
			if err = destinationtest.Write(h.ctx(), d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{row})}, destination.LoadOptions{}); err == nil {
				return
			}
		}
		h.Fatalf("after %s, a second EnsureTable+Load still fails: %v", what, err)
	}
	h.exec("DROP TABLE " + h.spec.Table(table.Name))
	retry("DROP TABLE", []any{int64(2), "y"})
	h.wantRows(table.Name, cols, "id", [][]any{{int64(2), "y"}})

	h.exec("ALTER TABLE " + h.spec.Table(table.Name) + " DROP COLUMN " + h.spec.Quote("a"))
	retry("DROP COLUMN", []any{int64(3), "z"})
	h.wantRows(table.Name, cols, "id", [][]any{{int64(2), nil}, {int64(3), "z"}})
}
