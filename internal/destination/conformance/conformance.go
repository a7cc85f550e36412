// Package conformance is the test suite every bulker destination passes.
// A driver's test calls Run with a way to open the destination and a way to
// read its tables back; the suite feeds schema.Batch values shaped as the
// schema engine would and checks the stored schema and rows.
package conformance

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
)

// Spec is what the suite needs from a driver's test besides the
// destination itself.
type Spec struct {
	// DB reads back what the destinations wrote, and drops or alters
	// tables behind their back.
	DB *sql.DB
	// Table renders a table name for SQL run on DB: quoted and, where the
	// driver uses one, qualified with the schema or database.
	Table func(name string) string
	// Quote renders a column name for SQL run on DB.
	Quote func(name string) string
	// SQLTypes is the SQLType Describe reports for a column created with
	// each logical type and no hint.
	SQLTypes map[schema.DataType]string
	// Hints maps the type hints "varchar(4)" and "json" to the column
	// Describe reports for them (Type and SQLType).
	Hints map[string]schema.Column
	// WideColumns is the width of the wide-table case; 0 means 1000.
	WideColumns int
}

// Run runs the suite. open is called once or more per subtest and must
// return a destination over the same database as Spec.DB, closed by the
// caller's t.Cleanup. Tables are named per subtest, with a random suffix
// except for the reserved-word case, which uses the table "user": give Run
// a fresh schema or database.
func Run(t *testing.T, open func(t *testing.T) destination.Driver, s Spec) {
	if s.DB == nil || s.Table == nil || s.Quote == nil {
		t.Fatal("conformance.Spec needs DB, Table and Quote")
	}
	if s.WideColumns == 0 {
		s.WideColumns = 1000
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(&harness{T: t, open: open, spec: s})
		})
	}
}

// harness is one subtest's view of the driver.
type harness struct {
	*testing.T
	open func(t *testing.T) destination.Driver
	spec Spec
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	h.Cleanup(cancel)
	return ctx
}

// name returns a fresh table name for the dialect.
func (h *harness) name(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// ident folds a mixed-case name as the schema engine does for d.
func ident(d destination.Driver, name string) string {
	if d.Dialect().Lowercase {
		return strings.ToLower(name)
	}
	return name
}

// ensureLoad does what bulker's loader does: EnsureTable, then Load.
func (h *harness) ensureLoad(d destination.Driver, b schema.Batch, o destination.LoadOptions) {
	h.Helper()
	if _, err := d.EnsureTable(h.ctx(), b.Table); err != nil {
		h.Fatalf("EnsureTable(%s): %v", b.Table.Name, err)
	}
	if err := destinationtest.Write(h.ctx(), d, b, o); err != nil {
		h.Fatalf("Load(%s, %d rows): %v", b.Table.Name, len(b.Rows), err)
	}
}

// describe fails the test when the table is missing.
func (h *harness) describe(d destination.Driver, table string) schema.Table {
	h.Helper()
	t, ok, err := d.Describe(h.ctx(), table)
	if err != nil {
		h.Fatalf("Describe(%s): %v", table, err)
	}
	if !ok {
		h.Fatalf("Describe(%s): table does not exist", table)
	}
	return t
}

// wantTypes checks the logical type and SQL type of each named column.
func (h *harness) wantTypes(got schema.Table, want ...schema.Column) {
	h.Helper()
	for _, w := range want {
		c, ok := got.Column(w.Name)
		if !ok {
			h.Errorf("table %s: no column %q; have %v", got.Name, w.Name, names(got.Columns))
			continue
		}
		sqlType := w.SQLType
		if sqlType == "" {
			sqlType = h.spec.SQLTypes[w.Type]
		}
		if c.Type != w.Type || (sqlType != "" && !strings.EqualFold(c.SQLType, sqlType)) {
			h.Errorf("table %s column %s: type %s (%s), want %s (%s)", got.Name, w.Name, c.Type, c.SQLType, w.Type, sqlType)
		}
	}
}

// wantColumns checks the stored column names, in order.
func (h *harness) wantColumns(got schema.Table, want ...string) {
	h.Helper()
	if have := names(got.Columns); !reflect.DeepEqual(have, want) {
		h.Errorf("table %s columns = %v, want %v", got.Name, have, want)
	}
}

// rows reads cols of table ordered by orderBy, each value put in the
// canonical form of its column's type.
func (h *harness) rows(table string, cols []schema.Column, orderBy string) [][]any {
	h.Helper()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = h.spec.Quote(c.Name)
	}
	q := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(quoted, ", "),
		h.spec.Table(table), h.spec.Quote(orderBy))
	rs, err := h.spec.DB.QueryContext(h.ctx(), q)
	if err != nil {
		h.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			h.Fatalf("scanning %s: %v", table, err)
		}
		for i, c := range cols {
			v, err := canonical(c.Type, vals[i])
			if err != nil {
				h.Fatalf("table %s column %s: %v", table, c.Name, err)
			}
			vals[i] = v
		}
		out = append(out, vals)
	}
	if err := rs.Err(); err != nil {
		h.Fatalf("reading %s: %v", table, err)
	}
	return out
}

// wantRows checks the table holds exactly want (Go values per DataType of
// cols, nil for NULL), ordered by orderBy.
func (h *harness) wantRows(table string, cols []schema.Column, orderBy string, want [][]any) {
	h.Helper()
	canon := make([][]any, len(want))
	for r, row := range want {
		canon[r] = make([]any, len(row))
		for i, v := range row {
			cv, err := canonical(cols[i].Type, v)
			if err != nil {
				h.Fatalf("bad expectation row %d column %s: %v", r, cols[i].Name, err)
			}
			canon[r][i] = cv
		}
	}
	got := h.rows(table, cols, orderBy)
	if len(got) != len(canon) {
		h.Fatalf("table %s: %d rows, want %d\ngot:  %v\nwant: %v", table, len(got), len(canon), got, canon)
	}
	for r := range canon {
		for i := range canon[r] {
			if !reflect.DeepEqual(got[r][i], canon[r][i]) {
				h.Errorf("table %s row %d column %s = %#v, want %#v", table, r, cols[i].Name, got[r][i], canon[r][i])
			}
		}
	}
}

// count returns the number of rows of table.
func (h *harness) count(table string) int {
	h.Helper()
	var n int
	if err := h.spec.DB.QueryRowContext(h.ctx(), "SELECT COUNT(*) FROM "+h.spec.Table(table)).Scan(&n); err != nil {
		h.Fatalf("counting %s: %v", table, err)
	}
	return n
}

// exec runs SQL behind the destination's back.
func (h *harness) exec(q string) {
	h.Helper()
	if _, err := h.spec.DB.ExecContext(h.ctx(), q); err != nil {
		h.Fatalf("%s: %v", q, err)
	}
}

func names(cols []schema.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// col is shorthand for a column without hint.
func col(name string, t schema.DataType) schema.Column {
	return schema.Column{Name: name, Type: t}
}

// isData reports whether err is classified as bad data.
func isData(err error) bool { return errors.Is(err, destination.ErrData) }
