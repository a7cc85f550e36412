package schema

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// loadAll runs batches through Build as a destination would, each
// against the table the previous one left, and returns the table and, for
// every key, the columns its values landed in.
func loadAll(t *testing.T, d Dialect, stored *Table, batches ...[]string) (Table, map[string]map[string]bool) {
	t.Helper()
	landed := map[string]map[string]bool{}
	for _, lines := range batches {
		events := make([]Event, len(lines))
		for i, l := range lines {
			events[i] = mustParse(t, l)
		}
		want, b, _ := Build(d, "t", TableOptions{}, events, stored)
		checkBatch(t, want, b)
		for r, e := range events {
			for _, f := range e.Fields {
				for c, col := range want.Columns {
					if col.Key == f.Key && !b.Rows[r][c].IsAbsent() {
						if landed[f.Key] == nil {
							landed[f.Key] = map[string]bool{}
						}
						landed[f.Key][col.Name] = true
					}
				}
			}
		}
		stored = &want
	}
	return *stored, landed
}

// oneToOne fails unless each key landed in exactly one column and no two
// keys share one.
func oneToOne(t *testing.T, landed map[string]map[string]bool) map[string]string {
	t.Helper()
	col := map[string]string{}
	owner := map[string]string{}
	for k, cols := range landed {
		if len(cols) != 1 {
			t.Errorf("key %s landed in %v", KeyString(k), slices.Sorted(maps.Keys(cols)))
			continue
		}
		for c := range cols {
			col[k] = c
			if o, ok := owner[c]; ok {
				t.Errorf("keys %s and %s share column %s", KeyString(o), KeyString(k), c)
			}
			owner[c] = k
		}
	}
	return col
}

// mysqlLower folds names like bulker's MySQL driver.
var mysqlLower = Dialect{Name: "mysql", MaxIdentLen: 64, Lowercase: true, FoldsNames: true, MaxColumns: 4096}

// The column of a key is a function of the key and the table: it does not
// depend on what else is in the batch, nor on the order of keys.
func TestMappingIsStable(t *testing.T) {
	tests := []struct {
		name    string
		d       Dialect
		batches [][]string
		want    map[string]string // key (as KeyOf path joined with "/") → column
	}{
		{"case: the issue's three batches", postgres, [][]string{
			{`{"id":1,"A":"upper","a":"lower"}`}, {`{"id":2,"a":"lower2"}`}, {`{"id":4,"a":"lower4","A":"upper4"}`},
		}, map[string]string{"id": "id", "a": "a", "A": "a_" + hexHash("A")}},
		{"case: the other key first", postgres, [][]string{
			{`{"id":1,"A":"upper"}`}, {`{"id":2,"a":"lower2"}`}, {`{"id":4,"a":"lower4","A":"upper4"}`},
		}, map[string]string{"id": "id", "A": "a", "a": "a_" + hexHash("a")}},
		{"case in mysql", mysqlLower, [][]string{
			{`{"Name":1,"name":2}`}, {`{"NAME":3}`}, {`{"name":4,"Name":5,"NAME":6}`},
		}, map[string]string{"name": "name", "Name": "name_" + hexHash("Name"), "NAME": "name_" + hexHash("NAME")}},
		{"flattening: a_b, a.b and a/b in one batch", postgres, [][]string{
			{`{"a_b":"u","a":{"b":"n"},"a.b":"d"}`}, {`{"a":{"b":"n2"}}`}, {`{"a.b":"d2"}`}, {`{"a_b":"u2"}`},
		}, map[string]string{"a_b": "a_b", "a/b": "a_b_" + hexHash(KeyOf("a", "b")), "a.b": "a_b_" + hexHash("a.b")}},
		{"flattening: nested first, then the plain key", postgres, [][]string{
			{`{"a":{"b":"n"}}`}, {`{"a_b":"u"}`}, {`{"a_b":"u2","a":{"b":"n2"}}`},
		}, map[string]string{"a/b": "a_b", "a_b": "a_b_" + hexHash("a_b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, landed := loadAll(t, tt.d, nil, tt.batches...)
			got := oneToOne(t, landed)
			for k, col := range tt.want {
				key := KeyOf(strings.Split(k, "/")...)
				if got[key] != col {
					t.Errorf("key %s in %q, want %q", KeyString(key), got[key], col)
				}
			}
		})
	}
}

// Long keys cut to the same prefix keep separate columns, and so they do
// whichever batches bring them.
func TestMappingLongKeys(t *testing.T) {
	long := strings.Repeat("k", 80)
	var batch []string
	for i := range 50 {
		batch = append(batch, fmt.Sprintf(`{%q:%d}`, long+fmt.Sprint(i), i))
	}
	table, landed := loadAll(t, postgres, nil, batch[:25], batch, batch[10:30])
	oneToOne(t, landed)
	for _, c := range table.Columns {
		if len(c.Name) > postgres.MaxIdentLen {
			t.Errorf("column %q is longer than %d bytes", c.Name, postgres.MaxIdentLen)
		}
	}
}

// Tables another tool made, with no key recorded: a key loads into the
// column bearing its name — Jitsu's case-kept and hashed names too — and
// takes it for good; another key with the same name gets a column of its
// own.
func TestMappingAdoptsColumnsWithoutOwner(t *testing.T) {
	jitsu := &Table{Name: "t", Columns: []Column{
		{Name: "camelCase", Type: Text}, {Name: "a_b", Type: Text}, {Name: "_unnamed", Type: Int},
		{Name: "column_" + md5hex("?!"), Type: Int}, {Name: "Test Name_ x", Type: Int},
	}}
	table, landed := loadAll(t, postgres, jitsu,
		[]string{`{"camelCase":"x","a":{"b":"nested"},"":1,"?!":2,"Test Name; x":3}`},
		[]string{`{"a_b":"plain"}`},
	)
	got := oneToOne(t, landed)
	for key, col := range map[string]string{
		"camelCase": "camelCase", KeyOf("a", "b"): "a_b", KeyOf(""): "_unnamed", "?!": "column_" + md5hex("?!"),
		"Test Name; x": "Test Name_ x", "a_b": "a_b_" + hexHash("a_b"),
	} {
		if got[key] != col {
			t.Errorf("key %s in %q, want %q", KeyString(key), got[key], col)
		}
	}
	for _, c := range table.Columns {
		if c.Key == "" {
			t.Errorf("column %s has no key recorded after the load", c.Name)
		}
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A new column is made only when a value fills it: a hint whose type none
// of the values has leaves them in UnmappedColumn, with a note.
func TestMappingMakesNoEmptyColumn(t *testing.T) {
	events := []Event{mustParse(t, `{"id":1,"n":"abc","__sql_type_n":"bigint"}`)}
	want, b, notes := Build(postgres, "t", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	if _, ok := want.Column("n"); ok {
		t.Fatalf("column n made for a hint no value fits: %+v", want.Columns)
	}
	if len(notes) != 1 || notes[0].Reason != ReasonColumnLimit && notes[0].Reason != ReasonTypeConflict {
		t.Errorf("notes %+v", notes)
	}
	refused := TableOptions{RefusedHints: map[string]bool{"bigint": true}}
	want, _, _ = Build(postgres, "t", refused, events, nil)
	if c, ok := want.Column("n"); !ok || c.Type != Text || c.SQLType != "" {
		t.Errorf("with the hint refused, n is %+v; want a text column", c)
	}
}

// Values with no column of their own keep their path in UnmappedColumn,
// so keys that flatten alike stay apart there too.
func TestUnmappedIsNested(t *testing.T) {
	d := postgres
	d.MaxColumns = 3 // id, one more, UnmappedColumn
	events := []Event{mustParse(t, `{"id":1,"x":0,"a_b":"u","a":{"b":"n","c":{"d":true}},"z":[1]}`)}
	want, b, _ := Build(d, "t", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	var got map[string]any
	if err := json.Unmarshal([]byte(b.Rows[0][len(want.Columns)-1].Str()), &got); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"a":{"b":"n","c":{"d":true}},"a_b":"u","z":[1]}`
	if b, _ := json.Marshal(got); string(b) != wantJSON {
		t.Errorf("%s = %s, want %s", UnmappedColumn, b, wantJSON)
	}
}

// A very wide event fills the table up to the dialect's column and row
// size limits; the rest goes to UnmappedColumn.
func TestMappingRowSizeLimit(t *testing.T) {
	d := postgres
	d.MaxRowBytes, d.TypeBytes = 1000, [JSON + 1]int{Int: 8, Text: 20, JSON: 20}
	events := []Event{mustParse(t, wideEvent(500))}
	want, b, notes := Build(d, "wide", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	if n := rowBytes(d, want.Columns); n > d.MaxRowBytes {
		t.Errorf("row of %d bytes over the limit %d", n, d.MaxRowBytes)
	}
	if len(want.Columns) != 123 || want.Columns[122].Name != UnmappedColumn {
		t.Errorf("%d columns, last %s", len(want.Columns), want.Columns[len(want.Columns)-1].Name)
	}
	if len(notes) == 0 {
		t.Error("no note for the overflow")
	}
}

// Jitsu's table options: schemaFreeze makes no column, maxColumnsCount
// caps them, omitNils reads a null as a missing key.
func TestTableOptions(t *testing.T) {
	stored := &Table{Name: "t", Columns: []Column{{Name: "id", Type: Int, Key: "id"}}}
	events := []Event{mustParse(t, `{"id":1,"new":"x","n":null}`), mustParse(t, `{"id":2,"n":null,"other":1}`)}

	want, b, _ := Build(postgres, "t", TableOptions{SchemaFreeze: true}, events, stored)
	checkBatch(t, want, b)
	if len(want.Columns) != 2 || want.Columns[1].Name != UnmappedColumn || b.Rows[0][1].Str() != `{"n":null,"new":"x"}` {
		t.Errorf("schemaFreeze: columns %v, row 0 %v", want.Columns, b.Rows[0])
	}

	want, b, _ = Build(postgres, "t", TableOptions{MaxColumns: 3}, events, stored)
	checkBatch(t, want, b)
	if len(want.Columns) != 3 || want.Columns[1].Name != "new" || want.Columns[2].Name != UnmappedColumn {
		t.Errorf("maxColumnsCount 3: columns %v", want.Columns)
	}

	want, b, _ = Build(postgres, "t", TableOptions{OmitNils: true}, events, stored)
	checkBatch(t, want, b)
	if _, ok := want.Column("n"); ok {
		t.Errorf("omitNils made a column for a key that is only null: %v", want.Columns)
	}
	for r, row := range b.Rows {
		for j, v := range row {
			if v.IsNull() {
				t.Errorf("omitNils: row %d column %s holds a null, want it absent", r, want.Columns[j].Name)
			}
		}
	}
}
