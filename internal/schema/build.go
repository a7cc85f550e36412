package schema

import (
	"fmt"
	"slices"
	"strconv"
)

// TableOptions are a destination's per-table settings.
type TableOptions struct {
	// PrimaryKey and TimestampColumn name keys as flattened (see FlatKey),
	// or columns.
	PrimaryKey      []string
	TimestampColumn string
	// RefusedHints are SQL types the destination refused: a key hinted
	// with one gets the type its values infer instead.
	RefusedHints map[string]bool
	// SchemaFreeze makes no column: values of keys without one go to
	// UnmappedColumn.
	SchemaFreeze bool
	// MaxColumns caps the table's columns below the dialect's limit; 0:
	// the dialect's.
	MaxColumns int
	// OmitNils treats a null as a missing key.
	OmitNils bool
}

// Reasons of a Note.
const (
	// ReasonTypeConflict: the value cannot be cast to the column's type
	// without loss; it went to UnmappedColumn.
	ReasonTypeConflict = "type_conflict"
	// ReasonColumnLimit: the table is at the dialect's column or row size
	// limit; the value went to UnmappedColumn.
	ReasonColumnLimit = "column_limit"
	// ReasonNearColumnLimit warns that the table uses 90% or more of the
	// dialect's column or row size limit; Count is its number of columns.
	ReasonNearColumnLimit = "near_column_limit"
)

// Note reports, for one batch, values that were put into UnmappedColumn
// instead of their own column, or a warning about the table. Notes are
// grouped by column, key, reason and value type.
type Note struct {
	Table      string
	Column     string // sanitised column name; empty for a table warning
	Key        string // the key (see KeyString)
	Reason     string // one of the Reason constants
	StoredType string // the column's type
	ValueType  string // the type inferred for the value
	Row        int    // index of the first event concerned; -1 for the table
	Count      int    // values concerned in the batch
}

func (n Note) String() string {
	switch n.Reason {
	case ReasonNearColumnLimit:
		return fmt.Sprintf("table %s: %d columns, near the column or row size limit", n.Table, n.Count)
	case ReasonColumnLimit:
		return fmt.Sprintf("table %s: no room for a column of key %q: %d value(s) of type %s kept in %s",
			n.Table, n.Key, n.Count, n.ValueType, UnmappedColumn)
	default:
		return fmt.Sprintf("table %s: column %s (key %q) of type %s cannot hold %d value(s) of type %s: kept in %s",
			n.Table, n.Column, n.Key, n.StoredType, n.Count, n.ValueType, UnmappedColumn)
	}
}

// keyInfo is what a batch says about one key.
type keyInfo struct {
	key  string
	typ  DataType // lowest common type of the values
	hint string   // first type hint seen
}

// Build reconciles a batch of events with the table as stored (nil when
// the table does not exist) and returns the table the batch needs and the
// rows to load into it.
//
// want is the stored table plus the columns it lacks, appended; existing
// columns never change type. Each key maps to one column, as mapKeys says:
// a function of the key and the table alone, one-to-one. want records the
// key of each column it maps a key to; a stored column that had none gains
// one, which the destination records with the columns it adds. A new
// column takes the hint's type when a hint is given, else the lowest
// common type of the batch (see Common), or Text when every value is null;
// it is made only if a value fills it. Values are cast to their column's
// type (see Cast); a value that cannot be cast without loss, or whose
// column would exceed the dialect's column or row size limit, is kept in
// the JSON object of UnmappedColumn, nested as it was sent, and reported
// by a Note.
//
// Every row has one value per column of want: a value of the column's
// type, SQL NULL for a JSON null, or Absent for a key the event lacks.
func Build(d Dialect, tableName string, o TableOptions, events []Event, stored *Table) (want Table, b Batch, notes []Note) {
	return BuildIn(nil, d, tableName, o, events, stored)
}

// BuildIn is Build with the rows cut from rs, which they hold until the
// next BuildIn in it or its Reset; nil: an allocation.
func BuildIn(rs *RowSlab, d Dialect, tableName string, o TableOptions, events []Event, stored *Table) (want Table, b Batch, notes []Note) {
	bd := builder{d: d, opts: o, storedBytes: -1, slab: rs}
	bd.collect(events)
	bd.want.Name = SanitizeIdent(d, tableName)
	if stored != nil {
		bd.want = *stored
		bd.want.Columns = append(make([]Column, 0, len(stored.Columns)+len(bd.infos)+1), stored.Columns...)
	}
	bd.plan(events)
	b.Rows = bd.rows(events)
	bd.options()
	if bd.nearLimit() {
		bd.notes = append(bd.notes, Note{Table: bd.want.Name, Reason: ReasonNearColumnLimit, Row: -1, Count: len(bd.want.Columns)})
	}
	b.Table = bd.want
	return bd.want, b, bd.notes
}

// builder holds the state of one Build.
type builder struct {
	d    Dialect
	opts TableOptions
	want Table
	// keyIdx maps each key of the batch to its index in infos and keyCol.
	keyIdx map[string]int
	// fieldKey is the key index of every field of the batch in order, so
	// rows need not hash the keys again.
	fieldKey []int32
	infos    []keyInfo
	keyCol   []int // column of want, or -1: the key's values go to UnmappedColumn

	unmapped    int // column of UnmappedColumn, perhaps one past the end
	hasUnmapped bool
	// storedBytes and newBytes sum TypeBytes over the stored columns (-1:
	// not yet) and the new ones.
	storedBytes, newBytes int
	notes                 []Note
	noteIdx               map[noteKey]int
	slab                  *RowSlab // where rows are cut from; nil: an allocation
}

// collect gathers the batch's keys in first-seen order with their types.
func (bd *builder) collect(events []Event) {
	keys := 0
	if len(events) > 0 {
		// Most events of a batch have the same keys: room for them at once.
		keys = len(events[0].Fields)
	}
	bd.keyIdx = make(map[string]int, keys)
	n := 0
	for _, e := range events {
		n += len(e.Fields)
	}
	bd.fieldKey = make([]int32, 0, n)
	var prev []Field // the previous event, whose key indexes end fieldKey
	for _, e := range events {
		// Events of a batch mostly have the keys of the one before, in the
		// same order: comparing them is cheaper than hashing each again.
		same := len(e.Fields) == len(prev)
		for j := 0; same && j < len(prev); j++ {
			same = e.Fields[j].Key == prev[j].Key
		}
		base := len(bd.fieldKey) - len(prev)
		for j, f := range e.Fields {
			var i int
			if same {
				i = int(bd.fieldKey[base+j])
			} else {
				var ok bool
				if i, ok = bd.keyIdx[f.Key]; !ok {
					i = len(bd.infos)
					bd.keyIdx[f.Key] = i
					bd.infos = append(bd.infos, keyInfo{key: f.Key})
				}
			}
			bd.fieldKey = append(bd.fieldKey, int32(i))
			in := &bd.infos[i]
			in.typ = Common(in.typ, f.Type)
			if in.hint == "" && e.SQLTypes != nil {
				in.hint = e.SQLTypes[f.Key]
			}
		}
		prev = e.Fields
	}
}

// rows converts the events, one row each, from one slab of values.
func (bd *builder) rows(events []Event) [][]Value {
	width := len(bd.want.Columns)
	if !bd.hasUnmapped {
		width++
	}
	slab, rows := bd.slab.take(len(events), width) // all Absent
	// The event's fields for UnmappedColumn.
	var left []Field
	usedUnmapped := false
	next := 0 // index in fieldKey
	for r, e := range events {
		row := slab[r*width : (r+1)*width : (r+1)*width]
		left = left[:0]
		for k := range e.Fields {
			f := &e.Fields[k]
			i := bd.fieldKey[next]
			next++
			if f.Type == Null && bd.opts.OmitNils {
				continue
			}
			if j := bd.keyCol[i]; j >= 0 {
				t := bd.want.Columns[j].Type
				if f.Type == t || f.Type == Null { // Cast's common case, inline
					row[j].assign(&f.Value)
					continue
				}
				if v, ok := Cast(f.Value, t); ok {
					row[j] = v
					continue
				}
				bd.note(r, *f, bd.want.Columns[j], ReasonTypeConflict)
			} else {
				bd.note(r, *f, Column{Type: bd.infos[i].typ}, ReasonColumnLimit)
			}
			left = append(left, *f)
		}
		if len(left) > 0 {
			usedUnmapped = true
			obj := JSONValue(string(appendNested(nil, left)))
			row[bd.unmapped] = obj
			if bd.hasUnmapped {
				if v, ok := Cast(obj, bd.want.Columns[bd.unmapped].Type); ok {
					row[bd.unmapped] = v
				}
			}
		}
		rows[r] = row
	}
	if !bd.hasUnmapped {
		if usedUnmapped {
			bd.want.Columns = append(bd.want.Columns, Column{Name: UnmappedColumn, Type: JSON})
		} else {
			for r := range rows {
				rows[r] = rows[r][:width-1]
			}
		}
	}
	return rows
}

// RowSlab is scratch memory for the rows of one Build at a time, for a
// caller done with them before it builds again: one that encodes them for
// its destination at once. Rows allocated for every chunk of a batch were
// most of what a loader allocated, and the collector runs as often as a
// loader allocates. The zero value is ready.
type RowSlab struct {
	// values and rows are the last rows built, up to their lengths; past
	// them, up to their capacities, the memory is zero, so that taking it
	// again needs no clearing.
	values []Value
	rows   [][]Value
}

// Reset drops the rows built in the slab: old values must not keep the
// strings they point into alive.
func (s *RowSlab) Reset() {
	clear(s.values)
	clear(s.rows)
	s.values, s.rows = s.values[:0], s.rows[:0]
}

// take returns room for n rows of width Absent values; from a nil slab, an
// allocation. The rows are not cut yet.
func (s *RowSlab) take(n, width int) ([]Value, [][]Value) {
	if s == nil {
		return make([]Value, n*width), make([][]Value, n)
	}
	s.Reset() // nothing to clear when the caller reset it
	if cap(s.values) < n*width {
		s.values = make([]Value, n*width)
	}
	if cap(s.rows) < n {
		s.rows = make([][]Value, n)
	}
	s.values, s.rows = s.values[:n*width], s.rows[:n]
	return s.values, s.rows
}

// note records a value kept in UnmappedColumn, grouped with its likes.
func (bd *builder) note(row int, f Field, col Column, reason string) {
	k := noteKey{f.Key, col.Name, reason, f.Type}
	if i, ok := bd.noteIdx[k]; ok {
		bd.notes[i].Count++
		return
	}
	if bd.noteIdx == nil {
		bd.noteIdx = make(map[noteKey]int)
	}
	bd.noteIdx[k] = len(bd.notes)
	bd.notes = append(bd.notes, Note{Table: bd.want.Name, Column: col.Name, Key: KeyString(f.Key), Reason: reason,
		StoredType: col.Type.String(), ValueType: f.Type.String(), Row: row, Count: 1})
}

// options sets the primary key and timestamp column, named by key or by
// column; without options the stored ones stay.
func (bd *builder) options() {
	o := bd.opts
	if len(o.PrimaryKey) > 0 {
		bd.want.PrimaryKey = make([]string, len(o.PrimaryKey))
		for i, k := range o.PrimaryKey {
			bd.want.PrimaryKey[i] = bd.columnFor(k)
		}
	}
	if o.TimestampColumn != "" {
		// Only a column the table has can be indexed: a table whose events
		// lack the field gets no timestamp index rather than a failed DDL.
		if ts := bd.columnFor(o.TimestampColumn); slices.ContainsFunc(bd.want.Columns, func(c Column) bool { return c.Name == ts }) {
			bd.want.TimestampColumn = ts
		}
	}
}

// columnFor is the column an option names: the column of the batch's key
// whose flattened form it is (a plain key first), else the column so
// named, else the name sanitised.
func (bd *builder) columnFor(name string) string {
	best, bestRank := -1, 3
	for i, in := range bd.infos {
		if bd.keyCol[i] < 0 || FlatKey(in.key) != name {
			continue
		}
		if r := rank(bd.d, in.key); r < bestRank {
			best, bestRank = i, r
		}
	}
	if best >= 0 {
		return bd.want.Columns[bd.keyCol[best]].Name
	}
	if i, ok := findColumn(bd.d, bd.want.Columns, name); ok {
		return bd.want.Columns[i].Name
	}
	return SanitizeIdent(bd.d, name)
}

// nearLimit reports whether want uses 90% or more of a limit.
func (bd *builder) nearLimit() bool {
	d := bd.d
	if n := bd.maxColumns(); n > 0 && len(bd.want.Columns)*10 >= n*9 {
		return true
	}
	return d.MaxRowBytes > 0 && rowBytes(d, bd.want.Columns)*10 >= d.MaxRowBytes*9
}

// maxColumns is the column limit: the dialect's, or the destination's
// when lower.
func (bd *builder) maxColumns() int {
	n, o := bd.d.MaxColumns, bd.opts.MaxColumns
	if o > 0 && (n == 0 || o < n) {
		return o
	}
	return n
}

type noteKey struct {
	key, column, reason string
	typ                 DataType
}

// Cast converts a value to type t, if that loses nothing: a null stays
// null; any value fits JSON (as its JSON text) and Text (numbers as
// written, timestamps as sent, JSON as its text); booleans fit Int and
// Float as 1 and 0; integral numbers ("1.0", "1e3") fit Int; integers fit
// Float up to 2^53; strings that are JSON numbers fit Int and Float on the
// same terms; 0 and 1 and "true" and "false" fit Bool; nothing else fits
// Timestamp. A column of type Null (an SQL type the destination does not
// know) takes text.
func Cast(v Value, t DataType) (Value, bool) {
	if v.Type == Null || v.Type == t {
		return v, true
	}
	switch t {
	case Text, Null:
		return TextValue(v.text()), true
	case JSON:
		return JSONValue(string(v.appendJSON(nil))), true
	case Int:
		switch v.Type {
		case Bool:
			return IntValue(int64(v.n)), true
		case Float:
			i, ok := exactInt(v.literal())
			return IntValue(i), ok
		case Text:
			i, err := strconv.ParseInt(v.s, 10, 64)
			return IntValue(i), err == nil && strconv.FormatInt(i, 10) == v.s
		}
	case Float:
		switch v.Type {
		case Bool:
			return FloatValue(float64(v.n)), true
		case Int:
			f, ok := exactFloat(v.Int())
			return FloatValue(f), ok
		case Text:
			return textFloat(v.s)
		}
	case Bool:
		switch v.Type {
		case Int:
			i := v.Int()
			return BoolValue(i == 1), i == 0 || i == 1
		case Text:
			return BoolValue(v.s == "true"), v.s == "true" || v.s == "false"
		}
	}
	return Value{}, false
}

// textFloat converts a string holding a JSON number; an integer must be
// exact in a float64.
func textFloat(s string) (Value, bool) {
	if !isJSONNumber(s) {
		return Value{}, false
	}
	v := number(s)
	switch v.Type {
	case Float:
		return FloatValue(v.Float()), true
	case Int:
		f, ok := exactFloat(v.Int())
		return FloatValue(f), ok
	}
	return Value{}, false
}
