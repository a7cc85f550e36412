package conformance

import (
	"encoding/json"
	"math"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

type testCase struct {
	name string
	run  func(h *harness)
}

// cases are the suite's subtests: batches built here, value by value,
// then the shared NDJSON fixtures through the schema engine.
var cases = []testCase{
	{"simple", simple},
	{"nested", nested},
	{"type_hints", typeHints},
	{"columns_added_over_batches", columnsAdded},
	{"type_collision_across_batches", typeCollision},
	{"repeated_ids_without_dedup", repeatedNoDedup},
	{"repeated_ids_with_dedup", repeatedDedup},
	{"text", text},
	{"nul_bytes", nulBytes},
	{"big_integers", bigIntegers},
	{"timestamps", timestamps},
	{"booleans", booleans},
	{"empty_batch", emptyBatch},
	{"wide_table", wideTable},
	{"reserved_and_mixed_case_names", reservedNames},
	{"replace_table", replaceTable},
	{"replace_partition", replacePartition},
	{"data_error", dataError},
	{"concurrent_ensure_table", concurrentEnsure},
	{"recover_after_outside_change", recoverOutsideChange},
	{"fixtures", fixtures},
}

var (
	ts1 = time.Date(2024, 3, 1, 12, 30, 45, 123456000, time.UTC)
	ts2 = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
)

func simple(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{
		col("id", schema.Int), col("name", schema.Text), col("score", schema.Float),
		col("active", schema.Bool), col("created_at", schema.Timestamp), col("props", schema.JSON),
	}
	b := schema.Batch{Table: schema.Table{Name: h.name("simple"), Columns: cols}, Rows: schematest.Rows([][]any{
		{int64(1), "alice", 1.5, true, ts1, json.RawMessage(`{"plan":"pro","seats":3}`)},
		{int64(2), "", -0.25, false, ts2, json.RawMessage(`[1,"two",null]`)},
		{int64(3), nil, nil, nil, nil, nil},
		{int64(4), schema.Absent, schema.Absent, schema.Absent, schema.Absent, schema.Absent},
	})}
	h.ensureLoad(d, b, destination.LoadOptions{})
	got := h.describe(d, b.Table.Name)
	h.wantColumns(got, names(cols)...)
	h.wantTypes(got, cols...)
	h.wantRows(b.Table.Name, cols, "id", [][]any{
		{int64(1), "alice", 1.5, true, ts1, `{"plan":"pro","seats":3}`},
		{int64(2), "", -0.25, false, ts2, `[1,"two",null]`},
		{int64(3), nil, nil, nil, nil, nil},
		{int64(4), nil, nil, nil, nil, nil},
	})
}

// nested feeds what flattening {"user":{"id":7,"geo":{"city":…}},"tags":[…]}
// produces: a_b columns and arrays as JSON.
func nested(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{
		col("id", schema.Int), col("user_id", schema.Int), col("user_geo_city", schema.Text),
		col("user_geo_lat", schema.Float), col("tags", schema.JSON),
	}
	b := schema.Batch{Table: schema.Table{Name: h.name("nested"), Columns: cols}, Rows: schematest.Rows([][]any{
		{int64(1), int64(7), "Berlin", 52.52, json.RawMessage(`["a","b"]`)},
		{int64(2), int64(8), schema.Absent, schema.Absent, json.RawMessage(`[{"k":1},[],[1,"x",true]]`)},
	})}
	h.ensureLoad(d, b, destination.LoadOptions{})
	h.wantTypes(h.describe(d, b.Table.Name), cols...)
	h.wantRows(b.Table.Name, cols, "id", [][]any{
		{int64(1), int64(7), "Berlin", 52.52, `["a","b"]`},
		{int64(2), int64(8), nil, nil, `[{"k":1},[],[1,"x",true]]`},
	})
}

func typeHints(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{
		col("id", schema.Int),
		{Name: "code", Type: schema.Text, SQLType: "varchar(4)"},
		{Name: "doc", Type: schema.JSON, SQLType: "json"},
	}
	b := schema.Batch{Table: schema.Table{Name: h.name("hints"), Columns: cols}, Rows: schematest.Rows([][]any{
		{int64(1), "abcd", json.RawMessage(`{"b":1,"a":{"c":[1,2]}}`)},
		{int64(2), "x", json.RawMessage(`"just a string"`)},
	})}
	h.ensureLoad(d, b, destination.LoadOptions{})
	got := h.describe(d, b.Table.Name)
	for _, c := range cols[1:] {
		want, ok := h.spec.Hints[c.SQLType]
		if !ok {
			h.Fatalf("Spec.Hints has no entry for %q", c.SQLType)
		}
		want.Name = c.Name
		h.wantTypes(got, want)
	}
	read := []schema.Column{col("id", schema.Int), col("code", schema.Text), col("doc", schema.JSON)}
	h.wantRows(b.Table.Name, read, "id", [][]any{
		{int64(1), "abcd", `{"a":{"c":[1,2]},"b":1}`},
		{int64(2), "x", `"just a string"`},
	})
}

func columnsAdded(h *harness) {
	d := h.open(h.T)
	table := h.name("added")
	id, a, b, c := col("id", schema.Int), col("a", schema.Text), col("b", schema.Int), col("c", schema.Timestamp)
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: []schema.Column{id, a}},
		Rows: schematest.Rows([][]any{{int64(1), "one"}})}, destination.LoadOptions{})
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: []schema.Column{id, a, b, c}},
		Rows: schematest.Rows([][]any{{int64(2), "two", int64(22), ts1}})}, destination.LoadOptions{})
	// A later batch may carry only some of the stored columns.
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: []schema.Column{id, c}},
		Rows: schematest.Rows([][]any{{int64(3), ts2}})}, destination.LoadOptions{})
	got := h.describe(d, table)
	h.wantColumns(got, "id", "a", "b", "c")
	h.wantTypes(got, id, a, b, c)
	h.wantRows(table, []schema.Column{id, a, b, c}, "id", [][]any{
		{int64(1), "one", nil, nil},
		{int64(2), "two", int64(22), ts1},
		{int64(3), nil, nil, ts2},
	})
}

// typeCollision feeds what schema.Build produces when later events do not
// fit the stored types: values cast to the stored type, and those that
// cannot be cast moved into _unmapped_data. The stored types stay.
func typeCollision(h *harness) {
	d := h.open(h.T)
	table := h.name("collision")
	id, v, s := col("id", schema.Int), col("v", schema.Int), col("s", schema.Text)
	un := col(schema.UnmappedColumn, schema.JSON)
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: []schema.Column{id, v, s}},
		Rows: schematest.Rows([][]any{{int64(1), int64(5), "text"}})}, destination.LoadOptions{})
	h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: []schema.Column{id, v, s, un}},
		Rows: schematest.Rows([][]any{
			{int64(2), nil, "42", json.RawMessage(`{"v":"abc"}`)},
			{int64(3), int64(123), "true", schema.Absent},
			{int64(4), nil, "1.5", json.RawMessage(`{"v":1.5}`)},
		})}, destination.LoadOptions{})
	got := h.describe(d, table)
	h.wantColumns(got, "id", "v", "s", schema.UnmappedColumn)
	h.wantTypes(got, id, v, s, un)
	h.wantRows(table, []schema.Column{id, v, s, un}, "id", [][]any{
		{int64(1), int64(5), "text", nil},
		{int64(2), nil, "42", `{"v":"abc"}`},
		{int64(3), int64(123), "true", nil},
		{int64(4), nil, "1.5", `{"v":1.5}`},
	})
}

func repeatedNoDedup(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("seq", schema.Int), col("v", schema.Text)}
	table := h.name("nodedup")
	for _, rows := range [][][]any{
		{{int64(1), int64(1), "a"}, {int64(1), int64(2), "b"}},
		{{int64(1), int64(3), "c"}},
	} {
		h.ensureLoad(d, schema.Batch{Table: schema.Table{Name: table, Columns: cols}, Rows: schematest.Rows(rows)}, destination.LoadOptions{})
	}
	h.wantRows(table, cols, "seq", [][]any{
		{int64(1), int64(1), "a"}, {int64(1), int64(2), "b"}, {int64(1), int64(3), "c"},
	})
}

// repeatedDedup: the newest row per key wins, inside a batch and across
// batches; an absent key keeps the stored value, an explicit null clears it.
func repeatedDedup(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("name", schema.Text), col("note", schema.Text), col("n", schema.Int)}
	table := schema.Table{Name: h.name("dedup"), Columns: cols, PrimaryKey: []string{"id"}}
	upsert := destination.LoadOptions{Upsert: true}
	A := schema.Absent
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(1), "a", "x", int64(10)},
		{int64(2), "b", "y", int64(20)},
		{int64(1), "a2", "x2", int64(11)},
	})}, upsert)
	if got := h.describe(d, table.Name); len(got.PrimaryKey) != 1 || got.PrimaryKey[0] != "id" {
		h.Errorf("primary key = %v, want [id]", got.PrimaryKey)
	}
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(1), A, nil, int64(12)},
		{int64(3), "c", A, A},
	})}, upsert)
	// Two partial events of one key in one batch merge as if they had
	// come in two batches.
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{
		{int64(2), "b2", A, A},
		{int64(2), A, "y3", A},
	})}, upsert)
	h.wantRows(table.Name, cols, "id", [][]any{
		{int64(1), "a2", nil, int64(12)},
		{int64(2), "b2", "y3", int64(20)},
		{int64(3), "c", nil, nil},
	})
}

func text(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("s", schema.Text), col("j", schema.JSON)}
	values := []string{
		"emoji 😀🎉👩‍👩‍👧 and 𝄞",
		"line one\nline two\r\nline three\ttabbed",
		"Привет, 世界, مرحبا, हिन्दी, ελληνικά",
		`quotes ' " ; -- \ /* */ $1 %s`,
		"",
		"   ",
	}
	var rows, want [][]any
	for i, v := range values {
		j, _ := json.Marshal(map[string]string{"v": v})
		rows = append(rows, []any{int64(i), v, json.RawMessage(j)})
		want = append(want, []any{int64(i), v, string(j)})
	}
	rows = append(rows, []any{int64(len(values)), nil, nil})
	want = append(want, []any{int64(len(values)), nil, nil})
	b := schema.Batch{Table: schema.Table{Name: h.name("text"), Columns: cols}, Rows: schematest.Rows(rows)}
	h.ensureLoad(d, b, destination.LoadOptions{})
	h.wantRows(b.Table.Name, cols, "id", want)
}

// nulBytes: PostgreSQL rejects NUL in text and jsonb; the event must land
// anyway, with the NUL kept, removed or replaced by U+FFFD.
func nulBytes(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("s", schema.Text), col("j", schema.JSON)}
	b := schema.Batch{Table: schema.Table{Name: h.name("nul"), Columns: cols}, Rows: schematest.Rows([][]any{
		{int64(1), "a\x00b", json.RawMessage(`{"k":"a\u0000b","n":{"deep":["\u0000"]},"lit":"\\u0000"}`)},
	})}
	h.ensureLoad(d, b, destination.LoadOptions{})
	got := h.rows(b.Table.Name, cols, "id")
	if len(got) != 1 {
		h.Fatalf("%d rows, want 1", len(got))
	}
	ok := map[any]bool{"a\x00b": true, "ab": true, "a\uFFFDb": true}
	if !ok[got[0][1]] {
		h.Errorf("text with NUL read back as %q", got[0][1])
	}
	var j struct {
		K   string `json:"k"`
		Lit string `json:"lit"`
		N   struct {
			Deep []string `json:"deep"`
		} `json:"n"`
	}
	if err := json.Unmarshal([]byte(got[0][2].(string)), &j); err != nil {
		h.Fatalf("JSON with NUL: %v", err)
	}
	if !ok[j.K] || len(j.N.Deep) != 1 || !map[string]bool{"\x00": true, "": true, "\uFFFD": true}[j.N.Deep[0]] {
		h.Errorf("JSON with NUL read back as %s", got[0][2])
	}
	if j.Lit != `\u0000` {
		h.Errorf("escaped backslash changed: lit = %q, want %q", j.Lit, `\u0000`)
	}
}

func bigIntegers(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("n", schema.Int)}
	nums := []int64{9007199254740993, -9007199254740993, math.MaxInt64, math.MinInt64, 0, -1}
	var rows [][]any
	for i, n := range nums {
		rows = append(rows, []any{int64(i), n})
	}
	b := schema.Batch{Table: schema.Table{Name: h.name("bigint"), Columns: cols}, Rows: schematest.Rows(rows)}
	h.ensureLoad(d, b, destination.LoadOptions{})
	h.wantRows(b.Table.Name, cols, "id", rows)
}

// timestamps: the schema engine hands over UTC; events with offsets and
// without must read back as the same instant, microseconds included, over
// the whole range of years.
func timestamps(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("ts", schema.Timestamp)}
	india := time.FixedZone("+05:30", 5*3600+1800)
	values := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, india).UTC(),
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("-08:00", -8*3600)).UTC(),
		time.Date(2024, 6, 30, 23, 59, 59, 999999000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var rows [][]any
	for i, v := range values {
		rows = append(rows, []any{int64(i), v})
	}
	want := append([][]any(nil), rows...)
	// Nanoseconds are truncated to the microseconds every dialect keeps,
	// never rounded: that could carry a value into the next year.
	rows = append(rows, []any{int64(len(rows)), time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)})
	want = append(want, []any{int64(len(want)), time.Date(2021, 3, 4, 5, 6, 7, 123456000, time.UTC)})
	rows = append(rows, []any{int64(len(rows)), time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC)})
	want = append(want, []any{int64(len(want)), time.Date(2024, 12, 31, 23, 59, 59, 999999000, time.UTC)})
	b := schema.Batch{Table: schema.Table{Name: h.name("ts"), Columns: cols, TimestampColumn: "ts"}, Rows: schematest.Rows(rows)}
	h.ensureLoad(d, b, destination.LoadOptions{})
	h.wantTypes(h.describe(d, b.Table.Name), cols...)
	h.wantRows(b.Table.Name, cols, "id", want)
}

func booleans(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("b", schema.Bool)}
	rows := [][]any{{int64(1), true}, {int64(2), false}, {int64(3), nil}}
	b := schema.Batch{Table: schema.Table{Name: h.name("bool"), Columns: cols}, Rows: schematest.Rows(rows)}
	h.ensureLoad(d, b, destination.LoadOptions{})
	h.wantTypes(h.describe(d, b.Table.Name), cols...)
	h.wantRows(b.Table.Name, cols, "id", rows)
}

func emptyBatch(h *harness) {
	d := h.open(h.T)
	cols := []schema.Column{col("id", schema.Int), col("v", schema.Text)}
	table := schema.Table{Name: h.name("empty"), Columns: cols}
	if err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: table}, destination.LoadOptions{}); err != nil {
		h.Fatalf("Load(empty batch, no table): %v", err)
	}
	if _, ok, err := d.Describe(h.ctx(), table.Name); err != nil || ok {
		h.Fatalf("Describe after empty batch = exists %v, %v; want no table", ok, err)
	}
	h.ensureLoad(d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(1), "x"}})}, destination.LoadOptions{})
	before := h.describe(d, table.Name)
	wider := table
	wider.Columns = append(append([]schema.Column(nil), cols...), col("extra", schema.Int))
	if err := destinationtest.Write(h.ctx(), d, schema.Batch{Table: wider, Rows: schematest.Rows([][]any{})}, destination.LoadOptions{}); err != nil {
		h.Fatalf("Load(empty batch): %v", err)
	}
	h.wantColumns(h.describe(d, table.Name), names(before.Columns)...)
	h.wantRows(table.Name, cols, "id", [][]any{{int64(1), "x"}})
}
