package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

var (
	postgres = Dialect{Name: "postgres", MaxIdentLen: 63, LenInBytes: true, Lowercase: true, MaxColumns: 1600}
	mysql    = Dialect{Name: "mysql", MaxIdentLen: 64, FoldsNames: true, MaxColumns: 4096}
)

// TestGolden builds each testdata/*.ndjson batch and compares the table,
// rows and notes with its golden file. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	conflictsTable := Table{Name: "conflicts", Columns: []Column{
		{Name: "id", Type: Int}, {Name: "score", Type: Int}, {Name: "price", Type: Float},
		{Name: "flag", Type: Bool}, {Name: "name", Type: Text}, {Name: "at", Type: Timestamp},
		{Name: "doc", Type: JSON, SQLType: "jsonb"},
	}}
	mysqlTable := Table{Name: "Users", Columns: []Column{
		{Name: "UserName", Type: Text, SQLType: "varchar(255)"}, {Name: "score", Type: Int},
		{Name: UnmappedColumn, Type: JSON},
	}, PrimaryKey: []string{"UserName"}}
	tests := []struct {
		golden  string
		fixture string
		d       Dialect
		table   string
		opts    TableOptions
		stored  *Table
	}{
		{golden: "widening", fixture: "widening", d: postgres, table: "widening"},
		{golden: "numbers", fixture: "numbers", d: postgres, table: "numbers"},
		{golden: "timestamps", fixture: "timestamps", d: postgres, table: "timestamps"},
		{golden: "strings", fixture: "strings", d: postgres, table: "strings"},
		{golden: "identifiers_postgres", fixture: "identifiers", d: postgres, table: "My.Events ü",
			opts: TableOptions{PrimaryKey: []string{"User Name", "order"}, TimestampColumn: "1st"}},
		{golden: "identifiers_mysql", fixture: "identifiers", d: mysql, table: "My.Events ü",
			opts: TableOptions{PrimaryKey: []string{"User Name", "order"}, TimestampColumn: "1st"}},
		{golden: "shape", fixture: "shape", d: postgres, table: "shape", opts: TableOptions{PrimaryKey: []string{"id"}}},
		{golden: "conflicts", fixture: "conflicts", d: postgres, table: "conflicts", stored: &conflictsTable,
			opts: TableOptions{PrimaryKey: []string{"id"}, TimestampColumn: "at"}},
		{golden: "stored_mysql", fixture: "stored_mysql", d: mysql, table: "users", stored: &mysqlTable},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			events := readEvents(t, filepath.Join("testdata", tt.fixture+".ndjson"))
			want, b, notes := Build(tt.d, tt.table, tt.opts, events, tt.stored)
			checkBatch(t, want, b)
			if tt.stored != nil {
				checkAdditive(t, *tt.stored, want)
			}
			got := render(want, b, notes)
			path := filepath.Join("testdata", tt.golden+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("%s differs from the output; run go test -update and review the diff.\ngot:\n%s", path, got)
			}
		})
	}
}

func readEvents(t testing.TB, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, err := Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// checkBatch asserts the invariants every batch must hold: rows aligned
// with the columns, each value of its column's Go type.
func checkBatch(t *testing.T, want Table, b Batch) {
	t.Helper()
	if b.Table.Name != want.Name || len(b.Table.Columns) != len(want.Columns) {
		t.Fatalf("batch table %v differs from want %v", b.Table, want)
	}
	seen := map[string]bool{}
	for _, c := range want.Columns {
		if c.Type == Null {
			t.Errorf("column %s has no type", c.Name)
		}
		if seen[fold(c.Name)] {
			t.Errorf("column %s twice", c.Name)
		}
		seen[fold(c.Name)] = true
	}
	for r, row := range b.Rows {
		if len(row) != len(want.Columns) {
			t.Fatalf("row %d has %d values for %d columns", r, len(row), len(want.Columns))
		}
		for j, v := range row {
			if v.IsNull() || v.IsAbsent() {
				continue
			}
			if !goTypeOK(want.Columns[j].Type, v) {
				t.Errorf("row %d column %s (%s) holds %s", r, want.Columns[j].Name, want.Columns[j].Type, v.Type)
			}
		}
	}
}

// checkAdditive asserts that the stored columns are kept, first, unchanged.
func checkAdditive(t *testing.T, stored, want Table) {
	t.Helper()
	for i, c := range stored.Columns {
		got := Column{}
		if i < len(want.Columns) {
			got = want.Columns[i]
		}
		if c.Key == "" {
			got.Key = "" // a column no key owned may gain one
		}
		if got != c {
			t.Fatalf("stored column %v changed in %v", c, want.Columns)
		}
	}
}

func goTypeOK(dt DataType, val Value) bool {
	switch v := val.Any().(type) {
	case bool:
		return dt == Bool
	case int64:
		return dt == Int
	case float64:
		return dt == Float && !math.IsNaN(v) && !math.IsInf(v, 0)
	case time.Time:
		return dt == Timestamp && v.Location() == time.UTC
	case string:
		return dt == Text
	case json.RawMessage:
		return dt == JSON && json.Valid(v)
	}
	return false
}

type goldenTable struct {
	Name            string   `json:"name"`
	Columns         []string `json:"columns"`
	PrimaryKey      []string `json:"primary_key,omitempty"`
	TimestampColumn string   `json:"timestamp_column,omitempty"`
}

type golden struct {
	Table goldenTable `json:"table"`
	Rows  [][]string  `json:"rows"`
	Notes []string    `json:"notes,omitempty"`
}

// render prints a batch for golden files: one "column: type value" line
// per present value, so a diff reads like the table.
func render(want Table, b Batch, notes []Note) []byte {
	g := golden{Table: goldenTable{Name: want.Name, PrimaryKey: want.PrimaryKey, TimestampColumn: want.TimestampColumn}}
	for _, c := range want.Columns {
		s := c.Name + " " + c.Type.String()
		if c.SQLType != "" {
			s += " (" + c.SQLType + ")"
		}
		g.Table.Columns = append(g.Table.Columns, s)
	}
	for _, row := range b.Rows {
		var out []string
		for j, v := range row {
			if !v.IsAbsent() {
				out = append(out, want.Columns[j].Name+": "+renderValue(v))
			}
		}
		g.Rows = append(g.Rows, out)
	}
	for _, n := range notes {
		g.Notes = append(g.Notes, fmt.Sprintf("row %d: %s", n.Row, n))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func renderValue(val Value) string {
	switch v := val.Any().(type) {
	case nil:
		return "null"
	case bool:
		return "bool " + strconv.FormatBool(v)
	case int64:
		return "int " + strconv.FormatInt(v, 10)
	case float64:
		return "float " + strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return "timestamp " + v.Format(time.RFC3339Nano)
	case string:
		return "text " + strconv.QuoteToGraphic(v)
	case json.RawMessage:
		return "json " + string(v)
	}
	return fmt.Sprintf("unexpected %v", val)
}

// TestValueAssign guards Value.assign, which copies field by field: a
// field added to Value and not to assign would be lost from every row.
func TestValueAssign(t *testing.T) {
	values := []Value{
		NullValue(), BoolValue(true), IntValue(-7), FloatValue(2.5), TextValue("x"), JSONValue(`{"a":1}`),
		TimeValue(time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)),
	}
	// Every field set to something other than its zero value.
	all := Value{s: "s", n: 1, nsec: 2, Type: JSON, numText: true, set: true}
	if n := reflect.TypeOf(all).NumField(); n != 6 {
		t.Fatalf("Value has %d fields; assign copies 6: update it and this test", n)
	}
	for _, v := range append(values, all) {
		var got Value
		got.assign(&v)
		if got != v {
			t.Errorf("assign(%+v) = %+v", v, got)
		}
	}
}

// Rows built in a RowSlab are those Build makes, whether the slab was
// reset after its last rows or not, and whatever it held before: a value
// left from an earlier, wider build never shows as a column's value.
func TestBuildInRowSlab(t *testing.T) {
	wide := []Event{mustParse(t, `{"a":1,"b":"x","c":true,"d":2.5}`), mustParse(t, `{"a":2,"b":"y","c":false,"d":3.5}`),
		mustParse(t, `{"a":4,"b":"w","c":true,"d":4.5}`)}
	narrow := []Event{mustParse(t, `{"a":3}`), mustParse(t, `{"b":"z"}`)} // fewer rows: the slab's memory is reused
	table := Table{Name: "t", Columns: []Column{{Name: "a", Type: Int}, {Name: "b", Type: Text}, {Name: "c", Type: Bool}, {Name: "d", Type: Float}}}
	_, want, _ := Build(postgres, "t", TableOptions{}, narrow, &table)
	for _, reset := range []bool{false, true} {
		var rs RowSlab
		BuildIn(&rs, postgres, "t", TableOptions{}, wide, &table)
		if reset {
			rs.Reset()
		}
		_, got, _ := BuildIn(&rs, postgres, "t", TableOptions{}, narrow, &table)
		if !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Errorf("reset %v: rows %v, want %v", reset, got.Rows, want.Rows)
		}
	}
}
