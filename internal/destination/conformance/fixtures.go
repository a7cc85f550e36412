package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/sink"
)

// Fixtures live in internal/destination/testdata: <case>.ndjson holds the
// events, one JSON object a line, in batches separated by a line "---" (a
// batch may be empty); <case>.want.json holds what the table must look
// like after loading them all through schema.Parse and schema.Build:
type fixtureWant struct {
	Table      string   `json:"table"`      // table name as sent; default: the case name
	PrimaryKey []string `json:"primaryKey"` // original keys
	Dedup      bool     `json:"deduplicate"`
	Timestamp  string   `json:"timestamp"`
	// Columns are [name, type] or [name, type, hint], in stored order;
	// names compare without case (MySQL and SQLite keep it); type is a
	// schema.DataType name; hint is a key of Spec.Hints.
	Columns [][]string          `json:"columns"`
	OrderBy string              `json:"orderBy"`
	Rows    [][]json.RawMessage `json:"rows"` // timestamps as RFC 3339, JSON values as JSON
}

// fixtureDir is internal/destination/testdata, wherever the driver's test
// runs from.
func fixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// fixtures loads every fixture through the schema engine.
func fixtures(h *harness) {
	files, err := filepath.Glob(filepath.Join(fixtureDir(), "*.ndjson"))
	if err != nil || len(files) == 0 {
		h.Fatalf("no fixtures in %s: %v", fixtureDir(), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ndjson")
		h.Run(name, func(t *testing.T) {
			(&harness{T: t, open: h.open, spec: h.spec}).fixture(f)
		})
	}
}

func (h *harness) fixture(path string) {
	batches, err := readBatches(path)
	if err != nil {
		h.Fatal(err)
	}
	want, err := readWant(strings.TrimSuffix(path, ".ndjson") + ".want.json")
	if err != nil {
		h.Fatal(err)
	}
	d := h.open(h.T)
	table := want.Table
	if table == "" {
		table = h.name(strings.TrimSuffix(filepath.Base(path), ".ndjson"))
	}
	// The batches go through the writer bulker's loaders use, a new one
	// each, as after a restart: what a key maps to comes from the table.
	loaded := false
	for i, events := range batches {
		if len(events) == 0 && !loaded {
			continue
		}
		w := sink.NewTable(d, table, sink.Options{PrimaryKey: want.PrimaryKey, Timestamp: want.Timestamp, Upsert: want.Dedup},
			slog.New(slog.DiscardHandler))
		if _, err := w.Append(h.ctx(), nil, func() []schema.Event { return events }); err != nil {
			h.Fatalf("batch %d: Append: %v", i, err)
		}
		loaded = true
	}
	got := h.describe(d, schema.SanitizeIdent(d.Dialect(), table))
	name := got.Name
	want = fitLimits(want, d.Dialect())
	h.checkFixtureColumns(got, want)
	if h.Failed() {
		h.FailNow()
	}
	cols := make([]schema.Column, len(want.Columns))
	for i, c := range want.Columns {
		sc, _ := findFold(got, c[0])
		cols[i] = schema.Column{Name: sc.Name, Type: parseType(c[1])}
	}
	rows := make([][]any, len(want.Rows))
	for r, raw := range want.Rows {
		if len(raw) != len(cols) {
			h.Fatalf("want row %d has %d values for %d columns", r, len(raw), len(cols))
		}
		rows[r] = make([]any, len(raw))
		for i, v := range raw {
			if rows[r][i], err = fromJSON(cols[i].Type, v); err != nil {
				h.Fatalf("want row %d column %s: %v", r, cols[i].Name, err)
			}
		}
	}
	orderBy, _ := findFold(got, want.OrderBy)
	h.wantRows(name, cols, orderBy.Name, rows)
}

func (h *harness) checkFixtureColumns(got schema.Table, want fixtureWant) {
	h.Helper()
	if len(got.Columns) != len(want.Columns) {
		h.Errorf("table %s has columns %v, want %v", got.Name, names(got.Columns), want.Columns)
	}
	for i, c := range want.Columns {
		if i < len(got.Columns) && !strings.EqualFold(got.Columns[i].Name, c[0]) {
			h.Errorf("table %s column %d is %q, want %q", got.Name, i, got.Columns[i].Name, c[0])
		}
		sc, ok := findFold(got, c[0])
		if !ok {
			continue
		}
		w := schema.Column{Name: sc.Name, Type: parseType(c[1])}
		if len(c) > 2 {
			hint, ok := h.spec.Hints[c[2]]
			if !ok {
				h.Fatalf("Spec.Hints has no entry for %q", c[2])
			}
			w.Type, w.SQLType = hint.Type, hint.SQLType
		}
		h.wantTypes(got, w)
	}
	if len(want.PrimaryKey) > 0 && len(got.PrimaryKey) != len(want.PrimaryKey) {
		h.Errorf("table %s primary key %v, want one like %v", got.Name, got.PrimaryKey, want.PrimaryKey)
	}
}

// fitColumnLimit rewrites the expectation of a table wider than the
// dialect allows as schema.Build loads it: the first maxColumns-1 columns,
// then UnmappedColumn holding the other values under their keys (fixtures
// of wide tables use keys that are valid column names, and null for a key
// the event lacked).
// fitLimits is w as the dialect's column and row size limits make it: the
// columns that fit, taken in order as schema.Build takes them (a column
// too wide is skipped, a narrower one after it may still fit), then
// UnmappedColumn holding the values of the others.
func fitLimits(w fixtureWant, d schema.Dialect) fixtureWant {
	var kept []int
	size := d.TypeBytes[schema.JSON] // room for UnmappedColumn
	for i, c := range w.Columns {
		n := d.TypeBytes[parseType(c[1])]
		if d.MaxColumns > 0 && len(kept)+2 > d.MaxColumns || d.MaxRowBytes > 0 && size+n > d.MaxRowBytes {
			continue
		}
		size += n
		kept = append(kept, i)
	}
	if len(kept) == len(w.Columns) {
		return w
	}
	out := w
	out.Columns = nil
	for _, i := range kept {
		out.Columns = append(out.Columns, w.Columns[i])
	}
	out.Columns = append(out.Columns, []string{schema.UnmappedColumn, "json"})
	out.Rows = make([][]json.RawMessage, len(w.Rows))
	for r, row := range w.Rows {
		var obj bytes.Buffer
		var vals []json.RawMessage
		k := 0
		for i := 0; i < len(row) && i < len(w.Columns); i++ {
			if k < len(kept) && kept[k] == i {
				vals = append(vals, row[i])
				k++
				continue
			}
			if string(row[i]) == "null" {
				continue
			}
			if obj.Len() == 0 {
				obj.WriteByte('{')
			} else {
				obj.WriteByte(',')
			}
			key, _ := json.Marshal(w.Columns[i][0])
			obj.Write(key)
			obj.WriteByte(':')
			obj.Write(row[i])
		}
		unmapped := json.RawMessage("null")
		if obj.Len() > 0 {
			obj.WriteByte('}')
			unmapped = obj.Bytes()
		}
		out.Rows[r] = append(vals, unmapped)
	}
	return out
}

func findFold(t schema.Table, name string) (schema.Column, bool) {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return schema.Column{}, false
}

func parseType(s string) schema.DataType {
	for t := schema.Null; t <= schema.JSON; t++ {
		if t.String() == s {
			return t
		}
	}
	return schema.Null
}

// fromJSON turns an expected value into what canonical accepts.
func fromJSON(t schema.DataType, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	switch t {
	case schema.JSON:
		return string(raw), nil
	case schema.Int, schema.Float:
		return string(raw), nil
	case schema.Bool:
		var b bool
		return b, json.Unmarshal(raw, &b)
	default:
		var s string
		return s, json.Unmarshal(raw, &s)
	}
}

func readWant(path string) (fixtureWant, error) {
	var w fixtureWant
	data, err := os.ReadFile(path)
	if err != nil {
		return w, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return w, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range w.Columns {
		if len(c) < 2 || parseType(c[1]) == schema.Null {
			return w, fmt.Errorf("%s: bad column %v", path, c)
		}
	}
	return w, nil
}

// readBatches parses a fixture's events with the schema engine.
func readBatches(path string) ([][]schema.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	batches := [][]schema.Event{nil}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		switch strings.TrimSpace(line) {
		case "":
			continue
		case "---":
			batches = append(batches, nil)
			continue
		}
		e, err := schema.Parse([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", path, strconv.Itoa(i+1), err)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], e)
	}
	return batches, nil
}
