package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, s string) Event {
	t.Helper()
	e, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return e
}

func wideEvent(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%04d":%d`, i, i)
	}
	b.WriteString("}")
	return b.String()
}

func TestBuildThousandFields(t *testing.T) {
	events := []Event{mustParse(t, wideEvent(1000))}
	want, b, notes := Build(postgres, "wide", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	if len(want.Columns) != 1000 || len(notes) != 0 {
		t.Fatalf("%d columns, notes %v", len(want.Columns), notes)
	}
	for j, c := range want.Columns {
		if c.Name != fmt.Sprintf("f%04d", j) || b.Rows[0][j].Any() != int64(j) {
			t.Fatalf("column %d: %v = %v", j, c, b.Rows[0][j])
		}
	}
}

func TestBuildColumnLimit(t *testing.T) {
	d := postgres
	d.MaxColumns = 100
	events := []Event{mustParse(t, wideEvent(1000)), mustParse(t, `{"f0001":1,"f0999":2}`)}
	want, b, notes := Build(d, "wide", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	if len(want.Columns) != 100 || want.Columns[99].Name != UnmappedColumn {
		t.Fatalf("%d columns, last %v", len(want.Columns), want.Columns[len(want.Columns)-1])
	}
	var over map[string]int
	if err := json.Unmarshal([]byte(b.Rows[0][99].Str()), &over); err != nil {
		t.Fatal(err)
	}
	if len(over) != 901 || over["f0099"] != 99 || over["f0999"] != 999 {
		t.Fatalf("overflow holds %d keys: f0099=%d f0999=%d", len(over), over["f0099"], over["f0999"])
	}
	if got := b.Rows[1][99].Str(); got != `{"f0999":2}` || b.Rows[1][1].Any() != int64(1) {
		t.Fatalf("second row: %v, %s", b.Rows[1][1], got)
	}
	limitNotes, warned := 0, false
	for _, n := range notes {
		switch n.Reason {
		case ReasonColumnLimit:
			limitNotes++
			if n.Key == "f0999" && (n.Count != 2 || n.Row != 0 || n.ValueType != "int") {
				t.Errorf("note %+v", n)
			}
		case ReasonNearColumnLimit:
			warned = n.Count == 100 && n.Row == -1
		}
	}
	if limitNotes != 901 || !warned {
		t.Fatalf("%d column-limit notes, warned %v", limitNotes, warned)
	}
}

func TestBuildNearLimitWarning(t *testing.T) {
	// A stored PostgreSQL table of 1450 columns (90% of 1600) takes one
	// more column and warns; at 1599 there is room for _unmapped_data only.
	stored := Table{Name: "t"}
	for i := range 1450 {
		stored.Columns = append(stored.Columns, Column{Name: fmt.Sprintf("c%d", i), Type: Int})
	}
	events := []Event{mustParse(t, `{"c1":1,"extra":"x"}`)}
	want, _, notes := Build(postgres, "t", TableOptions{}, events, &stored)
	if len(want.Columns) != 1451 || len(notes) != 1 || notes[0].Reason != ReasonNearColumnLimit {
		t.Fatalf("%d columns, notes %v", len(want.Columns), notes)
	}
	for i := 1450; i < 1599; i++ {
		stored.Columns = append(stored.Columns, Column{Name: fmt.Sprintf("c%d", i), Type: Int})
	}
	want, b, notes := Build(postgres, "t", TableOptions{}, events, &stored)
	checkBatch(t, want, b)
	if len(want.Columns) != 1600 || want.Columns[1599].Name != UnmappedColumn ||
		b.Rows[0][1599].Str() != `{"extra":"x"}` {
		t.Fatalf("%d columns: %v", len(want.Columns), b.Rows[0][1590:])
	}
	if len(notes) != 2 || notes[0].Reason != ReasonColumnLimit || notes[1].Reason != ReasonNearColumnLimit {
		t.Fatalf("notes %v", notes)
	}
}

func TestBuildMissingNullEmpty(t *testing.T) {
	events := []Event{
		mustParse(t, `{"a":"x","b":"","c":null}`),
		mustParse(t, `{"b":null}`),
	}
	stored := Table{Name: "t", Columns: []Column{{Name: "stored", Type: Int}}}
	want, b, _ := Build(postgres, "t", TableOptions{}, events, &stored)
	if got := len(want.Columns); got != 4 {
		t.Fatalf("columns %v", want.Columns)
	}
	wantRows := [][]any{
		{Absent, "x", "", nil},
		{Absent, Absent, nil, Absent},
	}
	if got := anyRows(b.Rows); !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("rows %#v; want %#v", got, wantRows)
	}
	if want.Columns[3].Type != Text {
		t.Fatalf("an all-null new column is created as text: %v", want.Columns[3])
	}
}

func TestBuildAllNullStoredColumn(t *testing.T) {
	stored := Table{Name: "t", Columns: []Column{{Name: "n", Type: Int}}}
	events := []Event{mustParse(t, `{"n":null}`), mustParse(t, `{"n":null}`)}
	want, b, notes := Build(postgres, "t", TableOptions{}, events, &stored)
	owned := stored
	owned.Columns = []Column{{Name: "n", Type: Int, Key: "n"}}
	if !reflect.DeepEqual(want, owned) || len(notes) != 0 || !b.Rows[0][0].IsNull() || !b.Rows[1][0].IsNull() {
		t.Fatalf("want %v rows %v notes %v", want, b.Rows, notes)
	}
}

func TestBuildStableOrder(t *testing.T) {
	events := []Event{
		mustParse(t, `{"z":1,"m":{"x":1}}`),
		mustParse(t, `{"a":1,"z":2}`),
		mustParse(t, `{"m":{"y":2},"b":true}`),
	}
	stored := Table{Name: "t", Columns: []Column{{Name: "b", Type: Bool}, {Name: "old", Type: Text}}}
	first, _, _ := Build(postgres, "t", TableOptions{}, events, &stored)
	var names []string
	for _, c := range first.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "b,old,z,m_x,a,m_y" {
		t.Fatalf("columns %s", got)
	}
	for range 10 {
		again, _, _ := Build(postgres, "t", TableOptions{}, events, &stored)
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("Build is not deterministic: %v vs %v", again, first)
		}
	}
}

func TestBuildOptions(t *testing.T) {
	events := []Event{mustParse(t, `{"Event ID":1,"Created At":"2021-01-01"}`)}
	want, _, _ := Build(postgres, "T", TableOptions{PrimaryKey: []string{"Event ID"}, TimestampColumn: "Created At"},
		events, nil)
	if want.Name != "t" || !reflect.DeepEqual(want.PrimaryKey, []string{"event_id"}) || want.TimestampColumn != "created_at" {
		t.Fatalf("%+v", want)
	}
	stored := Table{Name: "t", Columns: []Column{{Name: "id", Type: Int}}, PrimaryKey: []string{"id"}, TimestampColumn: "id"}
	want, _, _ = Build(postgres, "t", TableOptions{}, events, &stored)
	if !reflect.DeepEqual(want.PrimaryKey, []string{"id"}) || want.TimestampColumn != "id" {
		t.Fatalf("stored options lost: %+v", want)
	}
	// A table whose events lack the timestamp field gets no index on it.
	want, _, _ = Build(postgres, "other", TableOptions{TimestampColumn: "at"}, events, nil)
	if want.TimestampColumn != "" {
		t.Fatalf("timestamp column %q set on a table without it", want.TimestampColumn)
	}
}

func TestBuildUnmappedIntoStoredText(t *testing.T) {
	stored := Table{Name: "t", Columns: []Column{{Name: "n", Type: Int}, {Name: UnmappedColumn, Type: Text}}}
	events := []Event{mustParse(t, `{"n":"x\u0000y"}`)}
	_, b, notes := Build(postgres, "t", TableOptions{}, events, &stored)
	if b.Rows[0][1].Str() != `{"n":"x\u0000y"}` || len(notes) != 1 {
		t.Fatalf("row %#v notes %v", b.Rows[0], notes)
	}
}

func TestCast(t *testing.T) {
	ts := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	f := func(s string) Field { return mustParse(t, `{"v":`+s+`}`).Fields[0] }
	tests := []struct {
		in   Field
		to   DataType
		want any // nil with ok false means no cast
		ok   bool
	}{
		{f(`null`), Int, nil, true},
		{f(`"123"`), Int, int64(123), true},
		{f(`"-9223372036854775808"`), Int, int64(-9223372036854775808), true},
		{f(`"007"`), Int, nil, false}, // the zeros would be lost
		{f(`" 1"`), Int, nil, false},
		{f(`"1.0"`), Int, nil, false},
		{f(`"abc"`), Int, nil, false},
		{f(`1.5`), Int, nil, false},
		{f(`1.0`), Int, int64(1), true},
		{f(`1e3`), Int, int64(1000), true},
		{f(`-12.50e1`), Int, int64(-125), true},
		{f(`9223372036854775807.0`), Int, int64(9223372036854775807), true},
		{f(`9223372036854775808.0`), Int, nil, false},
		{f(`1e19`), Int, nil, false},
		{f(`1e999999999999`), Int, nil, false},
		{f(`9223372036854775808`), Int, nil, false},
		{f(`true`), Int, int64(1), true},
		{f(`[1]`), Int, nil, false},
		{f(`"2021-01-02T03:04:05Z"`), Int, nil, false},
		{f(`1`), Float, 1.0, true},
		{f(`9007199254740992`), Float, 9007199254740992.0, true},
		{f(`9007199254740993`), Float, nil, false}, // 2^53+1 would round
		{f(`"1.5"`), Float, 1.5, true},
		{f(`"NaN"`), Float, nil, false},
		{f(`"Infinity"`), Float, nil, false},
		{f(`"1e400"`), Float, nil, false},
		{f(`1e400`), Float, nil, false},
		{f(`false`), Float, 0.0, true},
		{f(`1`), Bool, true, true},
		{f(`0`), Bool, false, true},
		{f(`2`), Bool, nil, false},
		{f(`"true"`), Bool, true, true},
		{f(`"yes"`), Bool, nil, false},
		{f(`{"__sql_type":"json","a":1}`), Bool, nil, false},
		{f(`12`), Text, "12", true},
		{f(`1.50`), Text, "1.50", true},
		{f(`-0`), Text, "-0", true},
		{f(`9223372036854775808`), Text, "9223372036854775808", true},
		{f(`true`), Text, "true", true},
		{f(`"2021-01-02"`), Text, "2021-01-02", true},
		{f(`[1, "a"]`), Text, `[1,"a"]`, true},
		{f(`"2021-01-02T03:04:05Z"`), Timestamp, ts, true},
		{f(`"2021-01-02T03:04:05"`), Timestamp, ts, true},
		{f(`1609556645`), Timestamp, nil, false}, // epoch numbers are ambiguous
		{f(`"abc"`), Timestamp, nil, false},
		{f(`"x\"y"`), JSON, json.RawMessage(`"x\"y"`), true},
		{f(`1.50`), JSON, json.RawMessage(`1.50`), true},
		{f(`1e400`), JSON, json.RawMessage(`1e400`), true},
		{f(`"2021-01-02"`), JSON, json.RawMessage(`"2021-01-02"`), true},
		{f(`false`), JSON, json.RawMessage(`false`), true},
		{f(`"v"`), Null, "v", true},
		// Fields built by hand, without the literal Parse keeps.
		{Field{Value: IntValue(-5)}, Text, "-5", true},
		{Field{Value: FloatValue(2.5)}, JSON, json.RawMessage(`2.5`), true},
		{Field{Value: FloatValue(3.0)}, Int, int64(3), true},
		{Field{Value: TimeValue(ts)}, Text, "2021-01-02T03:04:05Z", true},
		{Field{Value: TimeValue(ts)}, JSON, json.RawMessage(`"2021-01-02T03:04:05Z"`), true},
		{Field{Value: TextValue("p1")}, JSON, json.RawMessage(`"p1"`), true},
	}
	for _, tt := range tests {
		got, ok := Cast(tt.in.Value, tt.to)
		if ok != tt.ok || ok && !reflect.DeepEqual(got.Any(), tt.want) {
			t.Errorf("Cast(%s %v → %v) = %#v, %v; want %#v, %v", tt.in.Type, tt.in.Any(), tt.to, got.Any(), ok, tt.want, tt.ok)
		}
	}
}

func TestNoteString(t *testing.T) {
	tests := []struct {
		n    Note
		want string
	}{
		{Note{Table: "t", Column: "n", Key: "n", Reason: ReasonTypeConflict, StoredType: "int", ValueType: "float", Count: 2},
			`table t: column n (key "n") of type int cannot hold 2 value(s) of type float: kept in _unmapped_data`},
		{Note{Table: "t", Key: "C", Reason: ReasonColumnLimit, StoredType: "int", ValueType: "int", Count: 1},
			`table t: no room for a column of key "C": 1 value(s) of type int kept in _unmapped_data`},
		{Note{Table: "t", Reason: ReasonNearColumnLimit, Row: -1, Count: 1500},
			`table t: 1500 columns, near the column or row size limit`},
	}
	for _, tt := range tests {
		if got := tt.n.String(); got != tt.want {
			t.Errorf("got %s; want %s", got, tt.want)
		}
	}
}

// Consecutive events with the same keys take a shortcut in Build: values
// must still land in their own columns when the keys change, reorder or
// repeat with other types.
func TestBuildKeySequences(t *testing.T) {
	events := []Event{
		mustParse(t, `{"a":1,"b":"x"}`),
		mustParse(t, `{"a":2,"b":"y"}`),
		mustParse(t, `{"b":"z","a":3}`),
		mustParse(t, `{"b":"w","a":4.5}`),
		mustParse(t, `{"a":5}`),
		mustParse(t, `{"a":6,"c":true}`),
	}
	want, b, notes := Build(postgres, "t", TableOptions{}, events, nil)
	checkBatch(t, want, b)
	if len(notes) != 0 {
		t.Fatalf("notes %v", notes)
	}
	var got []string
	for _, c := range want.Columns {
		got = append(got, c.Name+":"+c.Type.String())
	}
	if strings.Join(got, ",") != "a:float,b:text,c:bool" {
		t.Fatalf("columns %v", got)
	}
	wantRows := [][]any{
		{float64(1), "x", Absent}, {float64(2), "y", Absent}, {float64(3), "z", Absent},
		{4.5, "w", Absent}, {float64(5), Absent, Absent}, {float64(6), Absent, true},
	}
	if got := anyRows(b.Rows); !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("rows %v, want %v", got, wantRows)
	}
}

// anyRows renders rows as the Go values of their types, Absent as it is.
func anyRows(rows [][]Value) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			out[i][j] = v.Any()
		}
	}
	return out
}
