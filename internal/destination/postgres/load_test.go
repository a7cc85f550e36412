package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// TestNULReplaced: NUL, which PostgreSQL rejects, arrives as U+FFFD in
// text, jsonb and json columns, and the event is stored, by VALUES and by
// COPY; JSON goes into a text column too.
func TestNULReplaced(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cols := []schema.Column{
		{Name: "id", Type: schema.Int}, {Name: "s", Type: schema.Text},
		{Name: "jb", Type: schema.JSON}, {Name: "j", Type: schema.JSON, SQLType: "json"},
		{Name: "jt", Type: schema.JSON, SQLType: "text"},
	}
	doc := json.RawMessage(`{"a":"x\u0000y","n":[{"b":"\u0000"}]}`)
	clean := json.RawMessage(`{"a":"xy"}`)
	for _, valuesMax := range []int{valuesMaxParams, 0} {
		d := env.open(t)
		d.valuesMax = valuesMax
		b := schema.Batch{Table: schema.Table{Name: fmt.Sprintf("nul_%d", valuesMax), Columns: cols}, Rows: schematest.Rows([][]any{
			{int64(1), "a\x00b", doc, doc, doc},
			{int64(2), "ok", clean, clean, clean},
		})}
		if _, err := d.EnsureTable(ctx, b.Table); err != nil {
			t.Fatal(err)
		}
		if err := destinationtest.Write(ctx, d, b, destination.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		var s, jb, j, jt string
		err := env.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT s, jb->>'a', j->'n'->0->>'b', jt::jsonb->>'a' FROM %s WHERE id = 1`,
			d.ident(b.Table.Name))).Scan(&s, &jb, &j, &jt)
		if err != nil {
			t.Fatal(err)
		}
		if s != "a\uFFFDb" || jb != "x\uFFFDy" || j != "\uFFFD" || jt != "x\uFFFDy" {
			t.Errorf("valuesMax %d: read back %q, %q, %q, %q; want NUL as U+FFFD", valuesMax, s, jb, j, jt)
		}
		err = env.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT jb::text, j::text, jt FROM %s WHERE id = 2`,
			d.ident(b.Table.Name))).Scan(&jb, &j, &jt)
		if err != nil {
			t.Fatal(err)
		}
		if jb != `{"a": "xy"}` || j != string(clean) || jt != string(clean) {
			t.Errorf("valuesMax %d: read back %q, %q, %q; want %s", valuesMax, jb, j, jt, clean)
		}
	}
}

// TestDataErrors: rows the database or the driver rejects are ErrData and
// leave no partial rows, by COPY and by VALUES.
func TestDataErrors(t *testing.T) {
	env := newTestEnv(t)
	for _, valuesMax := range []int{valuesMaxParams, 0} {
		d := env.open(t)
		d.valuesMax = valuesMax
		ctx := context.Background()
		table := schema.Table{Name: fmt.Sprintf("dataerr_%d", valuesMax), Columns: []schema.Column{
			{Name: "id", Type: schema.Int}, {Name: "code", Type: schema.Text, SQLType: "varchar(4)"},
		}}
		if _, err := d.EnsureTable(ctx, table); err != nil {
			t.Fatal(err)
		}
		for name, rows := range map[string][][]any{
			"value too long": {{int64(1), "ok"}, {int64(2), "too long"}},
			"wrong Go type":  {{int64(1), "ok"}, {"2", "ok"}},
		} {
			err := destinationtest.Write(ctx, d, schema.Batch{Table: table, Rows: schematest.Rows(rows)}, destination.LoadOptions{})
			if !errors.Is(err, destination.ErrData) {
				t.Errorf("%s (valuesMax %d): Load = %v, want ErrData", name, valuesMax, err)
			}
		}
		var n int
		if err := env.db.QueryRow("SELECT count(*) FROM " + d.ident(table.Name)).Scan(&n); err != nil || n != 0 {
			t.Errorf("valuesMax %d: %d rows (%v) after failed loads, want 0", valuesMax, n, err)
		}
	}
}

func TestSQLTypeHints(t *testing.T) {
	valid := []string{"varchar(4)", "json", "numeric(10, 2)", "timestamp with time zone", "timestamp(3) with time zone", "double precision", "TEXT"}
	invalid := []string{"", "text; DROP TABLE x", "text)", "varchar(4) --", `"quoted"`, "int[]", "text/*", "1abc", strings.Repeat("a", 100)}
	for _, s := range valid {
		if !validSQLType(s) {
			t.Errorf("validSQLType(%q) = false", s)
		}
	}
	for _, s := range invalid {
		if validSQLType(s) {
			t.Errorf("validSQLType(%q) = true", s)
		}
	}

	env := newTestEnv(t)
	d := env.open(t)
	ctx := context.Background()
	for hint, refused := range map[string]bool{
		"integer": false, "numeric(10,2)": false, "timestamp(3) with time zone": false,
		"text); DROP SCHEMA public CASCADE; --": true, "foo": true, "varchar(4,,)": true,
	} {
		reason, err := d.CheckType(ctx, hint)
		if err != nil || (reason != "") != refused {
			t.Errorf("CheckType(%q) = %q, %v; want refused %v", hint, reason, err, refused)
		}
	}
	got, err := d.EnsureTable(ctx, schema.Table{Name: "hints", Columns: []schema.Column{
		{Name: "id", Type: schema.Int, SQLType: "integer"},
		{Name: "amount", Type: schema.Float, SQLType: "numeric(10,2)"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]schema.Column{
		"id":     {Type: schema.Int, SQLType: "integer"},
		"amount": {Type: schema.Float, SQLType: "numeric(10,2)"},
	} {
		if c, _ := got.Column(name); c.Type != want.Type || c.SQLType != want.SQLType {
			t.Errorf("column %s = %s %q, want %s %q", name, c.Type, c.SQLType, want.Type, want.SQLType)
		}
	}
	err = destinationtest.Write(ctx, d, schema.Batch{Table: got, Rows: schematest.Rows([][]any{{int64(1), 12.345}})}, destination.LoadOptions{})
	if err != nil {
		t.Fatalf("Load into hinted columns: %v", err)
	}
}

func TestIdentifiers(t *testing.T) {
	env := newTestEnv(t)
	d := env.open(t)
	ctx := context.Background()
	long := strings.Repeat("é", 31) + "a" // 63 bytes
	tbl := schema.Table{Name: long, Columns: []schema.Column{{Name: long, Type: schema.Int}}, PrimaryKey: []string{long}, TimestampColumn: long}
	if _, err := d.EnsureTable(ctx, tbl); err != nil {
		t.Fatalf("63-byte names: %v", err)
	}
	if err := destinationtest.Write(ctx, d, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{{int64(1)}})}, destination.LoadOptions{Mode: destination.ReplaceTable}); err != nil {
		t.Fatalf("ReplaceTable with 63-byte names: %v", err)
	}
	if got := d.describeOK(t, long); len(got.PrimaryKey) != 1 || got.PrimaryKey[0] != long {
		t.Errorf("primary key after replace = %v", got.PrimaryKey)
	}
	tooLong := long + "b"
	if _, err := d.EnsureTable(ctx, schema.Table{Name: tooLong, Columns: []schema.Column{{Name: "id", Type: schema.Int}}}); err == nil {
		t.Error("EnsureTable accepted a 64-byte table name")
	}
	if n := len(objectName(long, "some_column_idx")); n > 63 {
		t.Errorf("objectName is %d bytes", n)
	}
}

func (d *DB) describeOK(t *testing.T, table string) schema.Table {
	t.Helper()
	got, ok, err := d.Describe(context.Background(), table)
	if err != nil || !ok {
		t.Fatalf("Describe(%s) = %v, %v", table, ok, err)
	}
	return got
}

// TestSchemaAndIndex: a missing default schema is created; the timestamp
// option gets an index; parameters reach the server.
func TestSchemaAndIndex(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.cfg
	cfg.Credentials.DefaultSchema = env.schema + "_new"
	cfg.Credentials.Parameters = map[string]string{"sslmode": "disable", "application_name": "bulker test"}
	t.Cleanup(func() {
		env.db.Exec("DROP SCHEMA IF EXISTS " + pgx.Identifier{cfg.Credentials.DefaultSchema}.Sanitize() + " CASCADE")
	})
	d, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	tbl := schema.Table{Name: "events", Columns: []schema.Column{{Name: "id", Type: schema.Int}, {Name: "ts", Type: schema.Timestamp}}, TimestampColumn: "ts"}
	if _, err := d.EnsureTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	var def string
	err = env.db.QueryRow(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events'`, cfg.Credentials.DefaultSchema).Scan(&def)
	if err != nil || !strings.Contains(def, "(ts)") {
		t.Errorf("timestamp index = %q, %v", def, err)
	}
	var app string
	if err := d.pool.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil || app != "bulker test" {
		t.Errorf("application_name = %q, %v", app, err)
	}
	cfg.Credentials.Parameters = map[string]string{"password": "x"}
	if _, err := New(ctx, cfg, testLogger(t)); err == nil {
		t.Error("New accepted a password in parameters")
	}
}

// TestDedupMatchesModel: random partial upserts over several batches give
// the same table as applying the events one by one, by COPY and VALUES.
func TestDedupMatchesModel(t *testing.T) {
	env := newTestEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	cols := []schema.Column{{Name: "id", Type: schema.Int}, {Name: "a", Type: schema.Text}, {Name: "b", Type: schema.Int}, {Name: "c", Type: schema.JSON}}
	for _, valuesMax := range []int{valuesMaxParams, 0} {
		d := env.open(t)
		d.valuesMax = valuesMax
		table := schema.Table{Name: fmt.Sprintf("model_%d", valuesMax), Columns: cols, PrimaryKey: []string{"id"}}
		if _, err := d.EnsureTable(context.Background(), table); err != nil {
			t.Fatal(err)
		}
		model := map[int64][]any{}
		for batch := range 4 {
			var rows [][]any
			for i := range 100 {
				id := int64(rng.IntN(30))
				row := []any{id, value(rng, fmt.Sprintf("s%d-%d", batch, i)), value(rng, int64(batch*1000+i)), value(rng, json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)))}
				rows = append(rows, row)
				m, ok := model[id]
				if !ok {
					m = []any{id, nil, nil, nil}
				}
				for c, v := range row {
					if v != schema.Absent {
						m[c] = v
					}
				}
				model[id] = m
			}
			if err := destinationtest.Write(context.Background(), d, schema.Batch{Table: table, Rows: schematest.Rows(rows)}, destination.LoadOptions{Upsert: true}); err != nil {
				t.Fatalf("batch %d: %v", batch, err)
			}
		}
		rs, err := env.db.Query("SELECT id, a, b, c::text FROM " + d.ident(table.Name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rs.Next() {
			var id int64
			var a, c *string
			var b *int64
			if err := rs.Scan(&id, &a, &b, &c); err != nil {
				t.Fatal(err)
			}
			n++
			m := model[id]
			if !eqPtr(a, m[1]) || !eqPtr(b, m[2]) || !eqJSON(c, m[3]) {
				t.Errorf("valuesMax %d id %d = %v %v %v, want %v", valuesMax, id, deref(a), deref(b), deref(c), m)
			}
		}
		rs.Close()
		if n != len(model) {
			t.Errorf("valuesMax %d: %d rows, want %d", valuesMax, n, len(model))
		}
	}
}

// value is v, null or absent, at random.
func value(rng *rand.Rand, v any) any {
	switch rng.IntN(4) {
	case 0:
		return schema.Absent
	case 1:
		return nil
	}
	return v
}

func eqPtr[T comparable](p *T, want any) bool {
	if p == nil {
		return want == nil
	}
	return want != nil && *p == want.(T)
}

func eqJSON(p *string, want any) bool {
	if p == nil || want == nil {
		return p == nil && want == nil
	}
	var got, w any
	_ = json.Unmarshal([]byte(*p), &got)
	_ = json.Unmarshal(want.(json.RawMessage), &w)
	return fmt.Sprint(got) == fmt.Sprint(w)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestBaseType(t *testing.T) {
	for in, want := range map[string]string{
		"bigint":                      "bigint",
		"character varying(4)":        "character varying",
		"timestamp(3) with time zone": "timestamp with time zone",
		"numeric(10,2)":               "numeric",
		"character(2)":                "bpchar",
		"bit(3)":                      "bit varying",
		"":                            "",
	} {
		if got := baseType(in); got != want {
			t.Errorf("baseType(%q) = %q, want %q", in, got, want)
		}
	}
}

// pgconn's CopyFrom can return on an error while its writer goroutine is
// still in the encoder's Read. Once Write has returned no row may be read
// again: the rows are the caller's, to change or reuse.
func TestCopyEncoderReadsNoRowAfterStop(t *testing.T) {
	b := benchBatch("stopped", 1000)
	for i, c := range b.Table.Columns {
		b.Table.Columns[i].SQLType = defaultTypes[c.Type]
	}
	p := storedPlan(t, b)
	enc := newCopyEncoder(&p)
	buf := make([]byte, 100)
	if _, err := enc.Read(buf); err != nil {
		t.Fatal(err)
	}
	enc.stop()
	read := enc.next
	if n, err := enc.Read(buf); n != 0 || !errors.Is(err, errCopyStopped) {
		t.Fatalf("Read after stop = %d, %v; want 0, %v", n, err, errCopyStopped)
	}
	if enc.next != read {
		t.Errorf("rows read after stop: %d, then %d", read, enc.next)
	}
}
