package sink

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
)

// encodingDriver is an SQLite driver that encodes rows ahead, as a
// reference to a copy of them, and writes what it encoded as rows again.
type encodingDriver struct {
	destination.Driver
	saved   [][][]schema.Value
	decline bool
}

func (d *encodingDriver) Encode(buf []byte, _ schema.Table, rows [][]schema.Value) ([]byte, bool) {
	if d.decline {
		return buf, false
	}
	d.saved = append(d.saved, cloneRows(rows))
	return binary.AppendUvarint(buf, uint64(len(d.saved)-1)), true
}

func (d *encodingDriver) Write(ctx context.Context, p *destination.Plan) error {
	var rows [][]schema.Value
	for _, chunk := range p.Encoded {
		i, _ := binary.Uvarint(chunk)
		rows = append(rows, d.saved[i]...)
	}
	if len(rows) != p.EncodedRows {
		return fmt.Errorf("%d rows encoded, plan says %d", len(rows), p.EncodedRows)
	}
	p.Rows, p.Encoded, p.EncodedRows = append(rows, p.Rows...), nil, 0
	all, err := destination.NewPlan(schema.Batch{Table: p.Table, Rows: p.Rows}, destination.LoadOptions{})
	if err != nil {
		return err
	}
	return d.Driver.Write(ctx, all)
}

// Chunks prepared one after the other in the same scratch memory are
// encoded before it is reused, joined in order and loaded as encoded; a
// driver that declines keeps rows of their own, and an upserted table is
// never encoded.
func TestPreparedRowsEncoded(t *testing.T) {
	for _, c := range []struct {
		name            string
		decline, upsert bool
	}{{"encoded", false, false}, {"declined", true, false}, {"upserted", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			sq, db := openSQLite(t)
			d := &encodingDriver{Driver: sq, decline: c.decline}
			w := NewTable(d, "items", Options{PrimaryKey: []string{"id"}, Upsert: c.upsert}, slog.New(slog.DiscardHandler))
			append1(t, w, nil, parse(t, `{"id":0,"v":"first"}`))
			want := [][]string{{"0", "first"}}
			var rs schema.RowSlab
			var parts []*Rows
			var all []schema.Event
			for chunk := range 3 {
				var lines []string
				for i := range 4 {
					id := 1 + chunk*4 + i
					lines = append(lines, fmt.Sprintf(`{"id":%d,"v":"chunk %d row %d"}`, id, chunk, i))
					want = append(want, []string{fmt.Sprint(id), fmt.Sprintf("chunk %d row %d", chunk, i)})
				}
				evs := parse(t, lines...)
				all = append(all, evs...)
				parts = append(parts, w.Prepare(evs, &rs))
			}
			rows := Join(parts)
			if rows == nil || rows.Len() != 12 {
				t.Fatalf("joined rows = %+v, want 12", rows)
			}
			if encoded := rows.encodedRows > 0; encoded != (!c.decline && !c.upsert) {
				t.Errorf("%d of %d rows encoded", rows.encodedRows, rows.Len())
			}
			append1(t, w, rows, all)
			destinationtest.Equal(t, destinationtest.Query(t, db, `SELECT id, v FROM items ORDER BY id`), want)
			if !slices.ContainsFunc(d.saved, func(r [][]schema.Value) bool { return len(r) == 4 }) && !c.decline && !c.upsert {
				t.Error("no chunk was encoded")
			}
		})
	}
}

// Parts of which some were encoded and some not do not join.
func TestJoinEncodedWithRows(t *testing.T) {
	sq, _ := openSQLite(t)
	d := &encodingDriver{Driver: sq}
	w := NewTable(d, "items", Options{}, slog.New(slog.DiscardHandler))
	append1(t, w, nil, parse(t, `{"id":0}`))
	encoded := w.Prepare(parse(t, `{"id":1}`), nil)
	d.decline = true
	plain := w.Prepare(parse(t, `{"id":2}`), nil)
	if encoded == nil || plain == nil || encoded.encodedRows != 1 || plain.encodedRows != 0 {
		t.Fatalf("prepared %+v and %+v, want one encoded row and one not", encoded, plain)
	}
	if rows := Join([]*Rows{encoded, plain}); rows != nil {
		t.Errorf("Join of encoded and plain rows = %d rows, want nil", rows.Len())
	}
}

// Rows released once loaded give their buffers to the batches after them,
// which still load as prepared; releasing twice, or nil, does nothing.
func TestReleasedRowsBuffersServeLaterBatches(t *testing.T) {
	sq, db := openSQLite(t)
	d := &encodingDriver{Driver: sq}
	w := NewTable(d, "items", Options{}, slog.New(slog.DiscardHandler))
	append1(t, w, nil, parse(t, `{"id":0,"v":"first"}`))
	want := [][]string{{"0", "first"}}
	prepare := func(id int) (*Rows, []schema.Event) {
		t.Helper()
		evs := parse(t, fmt.Sprintf(`{"id":%d,"v":"batch %d"}`, id, id))
		rows := w.Prepare(evs, nil)
		if rows == nil || rows.encodedRows != 1 {
			t.Fatalf("batch %d prepared as %+v, want one encoded row", id, rows)
		}
		want = append(want, []string{fmt.Sprint(id), fmt.Sprintf("batch %d", id)})
		return rows, evs
	}
	for id := 1; id <= 5; id += 2 {
		// Two batches prepared at once: were a's buffer pooled twice, both
		// would encode into it.
		a, aEvs := prepare(id)
		b, bEvs := prepare(id + 1)
		append1(t, w, a, aEvs)
		append1(t, w, b, bEvs)
		a.Release()
		a.Release() // b is left to the collector, as rows given up may be
	}
	(*Rows)(nil).Release()
	destinationtest.Equal(t, destinationtest.Query(t, db, `SELECT id, v FROM items ORDER BY id`), want)
}
