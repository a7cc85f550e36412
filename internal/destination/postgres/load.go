package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// carrierTypes are the temporary table's column types: one per logical
// type, so COPY's binary encoding always matches the Go value; the INSERT …
// SELECT casts to the stored type (varchar(4), json, numeric …).
var carrierTypes = [...]string{
	schema.Null:      "text",
	schema.Bool:      "boolean",
	schema.Int:       "bigint",
	schema.Float:     "double precision",
	schema.Timestamp: "timestamp with time zone",
	schema.Text:      "text",
	schema.JSON:      "text", // cast to json or jsonb keeps a json column verbatim
}

// valuesMaxParams bounds the batches written by a multi-row INSERT … VALUES
// instead of COPY: small batches (stream mode) skip the temporary table
// and its catalog churn.
const valuesMaxParams = 1000

// stagingTable names the temporary table for a list of carrier types.
// pgx caches the column types COPY encodes for by the table's name, so
// tables of other types must have other names. pg_temp is per session.
func stagingTable(cols []schema.Column) pgx.Identifier {
	h := fnv.New64a()
	for _, c := range cols {
		h.Write([]byte(carrierTypes[c.Type] + ","))
	}
	return pgx.Identifier{"pg_temp", fmt.Sprintf("streamforge_load_%016x", h.Sum64())}
}

// Load implements destination.Destination: one transaction per batch.
func (d *DB) Load(ctx context.Context, b schema.Batch, o destination.LoadOptions) error {
	if len(b.Rows) == 0 && o.Mode == destination.Append {
		return nil
	}
	if err := checkIdents(b.Table); err != nil {
		return err
	}
	err := d.load(ctx, b, o)
	if err != nil {
		d.forget(b.Table.Name)
		return d.classify(fmt.Sprintf("loading %d rows into %s", len(b.Rows), d.ident(b.Table.Name)), err)
	}
	return nil
}

// plan is one load worked out before the transaction. Its rows hold the
// batch's values: they are converted as they are written, which spares
// COPY a converted copy of the whole batch.
type plan struct {
	columns []schema.Column  // the batch's, in batch order
	target  []string         // stored SQL type per column
	pk      []string         // conflict target when deduplicating
	rows    [][]schema.Value // the batch's, merged per key when deduplicating
	groups  []group
}

// group is rows that share the set of present columns: each gets its own
// upsert statement, which updates exactly the columns its rows carry, so an
// absent key keeps the stored value while an explicit null overwrites it.
type group struct {
	present []int // column indexes
	rows    []int // row indexes
}

func (d *DB) load(ctx context.Context, b schema.Batch, o destination.LoadOptions) error {
	if err := d.ensureSchema(ctx); err != nil {
		return err
	}
	table := b.Table.Name
	var stored schema.Table
	if o.Mode == destination.ReplaceTable {
		b.Table = d.checkHints(ctx, b.Table, nil)
		stored = b.Table
		stored.Columns = append([]schema.Column(nil), b.Table.Columns...)
		for i, c := range stored.Columns {
			stored.Columns[i].SQLType = d.columnType(c)
		}
	} else {
		var err error
		if stored, err = d.storedTable(ctx, b.Table); err != nil {
			return err
		}
	}
	p, err := d.plan(b, stored, o.Dedup)
	if err != nil {
		return err
	}
	var swapped schema.Table
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		into := table
		if o.Mode == destination.ReplaceTable {
			into = objectName(table, "new_"+randomHex())
			if _, err := tx.Exec(ctx, d.createSQL(into, b.Table)); err != nil {
				return err
			}
		}
		if err := d.write(ctx, tx, into, p, o); err != nil {
			return err
		}
		if o.Mode == destination.ReplaceTable {
			if err := d.swap(ctx, tx, into, b.Table); err != nil {
				return err
			}
			var err error
			swapped, _, err = d.describe(ctx, tx, table)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.Mode == destination.ReplaceTable {
		d.cache(withTimestamp(swapped, b.Table))
		d.log.Info("replaced table", "table", table, "rows", len(b.Rows))
	}
	return nil
}

// storedTable returns the stored shape holding every batch column, reading
// it again when the cache lacks one (another process may have added it).
func (d *DB) storedTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	if t, ok := d.cached(want.Name); ok && covers(t, want) {
		return t, nil
	}
	t, ok, err := d.describe(ctx, d.pool, want.Name)
	if err != nil {
		return t, err
	}
	if !ok {
		return t, fmt.Errorf("table %s does not exist", d.ident(want.Name))
	}
	for _, c := range want.Columns {
		if _, ok := t.Column(c.Name); !ok {
			return t, fmt.Errorf("table %s has no column %q", d.ident(want.Name), c.Name)
		}
	}
	d.cache(t)
	return t, nil
}

// plan checks the rows' width, merges them per key when deduplicating and
// groups them by the columns they carry.
func (d *DB) plan(b schema.Batch, stored schema.Table, dedup bool) (plan, error) {
	p := plan{columns: b.Table.Columns, rows: b.Rows}
	for _, c := range b.Table.Columns {
		sc, _ := stored.Column(c.Name)
		p.target = append(p.target, sc.SQLType)
	}
	for r, row := range p.rows {
		if len(row) != len(p.columns) {
			return p, fmt.Errorf("%w: row %d has %d values for %d columns", destination.ErrData, r, len(row), len(p.columns))
		}
	}
	if !dedup {
		// One INSERT of every column: absent is NULL for a new row.
		all := group{present: make([]int, len(p.columns)), rows: make([]int, len(p.rows))}
		for c := range all.present {
			all.present[c] = c
		}
		for r := range all.rows {
			all.rows[r] = r
		}
		p.groups = []group{all}
		return p, nil
	}
	p.pk = stored.PrimaryKey
	if len(p.pk) == 0 {
		return p, fmt.Errorf("deduplicate needs a primary key, table %s has none", d.ident(b.Table.Name))
	}
	var key []int
	for _, k := range p.pk {
		i := columnIndex(b.Table, k)
		if i < 0 {
			return p, fmt.Errorf("%w: batch lacks primary key column %q", destination.ErrData, k)
		}
		key = append(key, i)
	}
	p.rows = destination.MergeByKey(p.rows, key)
	index := map[string]int{}
	sig := make([]byte, len(p.columns))
	for r, row := range p.rows {
		for c, v := range row {
			sig[c] = '1'
			if v.IsAbsent() {
				sig[c] = '0'
			}
		}
		g, ok := index[string(sig)]
		if !ok {
			g = len(p.groups)
			index[string(sig)] = g
			var present []int
			for c := range p.columns {
				if sig[c] == '1' {
					present = append(present, c)
				}
			}
			p.groups = append(p.groups, group{present: present})
		}
		p.groups[g].rows = append(p.groups[g].rows, r)
	}
	return p, nil
}

// write inserts the planned rows into table within tx.
func (d *DB) write(ctx context.Context, tx pgx.Tx, table string, p plan, o destination.LoadOptions) error {
	if o.Mode == destination.ReplacePartition {
		_, err := tx.Exec(ctx, "DELETE FROM "+d.ident(table)+" WHERE "+
			pgx.Identifier{destination.PartitionColumn}.Sanitize()+" = $1", o.Partition)
		if err != nil {
			return err
		}
	}
	if len(p.rows) == 0 {
		return nil
	}
	if len(p.rows)*len(p.columns) <= d.valuesMax {
		for _, g := range p.groups {
			sql, args, err := d.insertValues(table, p, g)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return err
			}
		}
		return nil
	}
	if !o.Dedup && p.copiesDirectly() {
		// One group, no casts: COPY straight into the table, in the
		// transaction, saves writing every row twice.
		enc := newCopyEncoder(&p)
		sql := "COPY " + d.ident(table) + " (" + columnList(p, p.groups[0]) + ") FROM STDIN (FORMAT binary)"
		_, err := tx.Conn().PgConn().CopyFrom(ctx, enc, sql)
		return enc.result(err)
	}
	if err := d.stage(ctx, tx, p); err != nil {
		return err
	}
	for i, g := range p.groups {
		sql := d.insertSelect(table, p, g, i, len(p.groups) > 1)
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// copiesDirectly reports whether the rows, as converted, have exactly the
// stored column types, so COPY can write them into the table itself in the
// binary format of those types (see copyEncoder). A column of unknown type
// goes through the temporary table, whose cast finds out.
func (p plan) copiesDirectly() bool {
	if len(p.groups) != 1 {
		return false
	}
	for c, col := range p.columns {
		base := baseType(p.target[c])
		switch {
		case base == carrierTypes[col.Type]:
		case col.Type == schema.JSON && (base == "json" || base == "jsonb"):
		default:
			return false
		}
	}
	return true
}

// stage COPYs the rows into a temporary table dropped at commit, group
// after group, with the group number of each row in the last column.
func (d *DB) stage(ctx context.Context, tx pgx.Tx, p plan) error {
	var sb strings.Builder
	names := make([]string, 0, len(p.columns)+1)
	staging := stagingTable(p.columns)
	sb.WriteString("CREATE TEMPORARY TABLE " + staging.Sanitize() + " (")
	for i, c := range p.columns {
		names = append(names, "c"+strconv.Itoa(i))
		sb.WriteString(names[i] + " " + carrierTypes[c.Type] + ", ")
	}
	names = append(names, "g")
	sb.WriteString("g integer) ON COMMIT DROP")
	if _, err := tx.Exec(ctx, sb.String()); err != nil {
		return err
	}
	src := newCopySource(&p)
	_, err := tx.CopyFrom(ctx, staging, names, src)
	return src.result(err)
}

// insertSelect moves one group from the temporary table into table.
func (d *DB) insertSelect(table string, p plan, g group, n int, filter bool) string {
	exprs := make([]string, len(g.present))
	for i, c := range g.present {
		exprs[i] = cast("c"+strconv.Itoa(c), p.columns[c].Type, p.target[c])
	}
	sql := "INSERT INTO " + d.ident(table) + " (" + columnList(p, g) + ") SELECT " +
		strings.Join(exprs, ", ") + " FROM " + stagingTable(p.columns).Sanitize()
	if filter {
		sql += " WHERE g = " + strconv.Itoa(n)
	}
	return sql + onConflict(p, g)
}

// insertValues renders one group as a multi-row INSERT … VALUES.
func (d *DB) insertValues(table string, p plan, g group) (string, []any, error) {
	var sb strings.Builder
	args := make([]any, 0, len(g.rows)*len(g.present))
	slots := make([]slot, cap(args))
	sb.WriteString("INSERT INTO " + d.ident(table) + " (" + columnList(p, g) + ") VALUES ")
	for i, r := range g.rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j, c := range g.present {
			if j > 0 {
				sb.WriteString(", ")
			}
			v, err := slots[len(args)].arg(p.columns[c].Type, p.rows[r][c])
			if err != nil {
				return "", nil, valueError(p, r, c, err)
			}
			args = append(args, v)
			param := "$" + strconv.Itoa(len(args)) + "::" + carrierTypes[p.columns[c].Type]
			sb.WriteString(cast(param, p.columns[c].Type, p.target[c]))
		}
		sb.WriteByte(')')
	}
	sb.WriteString(onConflict(p, g))
	return sb.String(), args, nil
}

func columnList(p plan, g group) string {
	names := make([]string, len(g.present))
	for i, c := range g.present {
		names[i] = pgx.Identifier{p.columns[c].Name}.Sanitize()
	}
	return strings.Join(names, ", ")
}

// cast converts a carrier expression to the stored type's base type;
// types come from format_type or a validated hint, so they are safe SQL.
// The length or precision is left to INSERT's assignment cast: an explicit
// cast to varchar(4) would silently truncate a longer value, while the
// assignment rejects it as a data error.
func cast(expr string, t schema.DataType, target string) string {
	base := baseType(target)
	if base == "" || base == carrierTypes[t] {
		return expr
	}
	return "(" + expr + ")::" + base
}

// baseType drops the type modifier: "character varying(4)" → "character
// varying", "timestamp(3) with time zone" → "timestamp with time zone".
// Types whose bare name means length 1 map to their unbounded kin.
func baseType(t string) string {
	if i := strings.IndexByte(t, '('); i >= 0 {
		if j := strings.IndexByte(t[i:], ')'); j >= 0 {
			t = strings.TrimSpace(t[:i]) + t[i+j+1:]
		}
	}
	switch t {
	case "character", "char":
		return "bpchar"
	case "bit":
		return "bit varying"
	}
	return t
}

// onConflict renders the upsert clause: present non-key columns take the
// new values; with none, the row is left as stored.
func onConflict(p plan, g group) string {
	if len(p.pk) == 0 {
		return ""
	}
	keys := make([]string, len(p.pk))
	isKey := map[string]bool{}
	for i, k := range p.pk {
		keys[i] = pgx.Identifier{k}.Sanitize()
		isKey[k] = true
	}
	var set []string
	for _, c := range g.present {
		if name := p.columns[c].Name; !isKey[name] {
			q := pgx.Identifier{name}.Sanitize()
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	clause := " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO "
	if len(set) == 0 {
		return clause + "NOTHING"
	}
	return clause + "UPDATE SET " + strings.Join(set, ", ")
}

// swap replaces table by the freshly loaded one in the same transaction,
// renaming its constraint and index to the names EnsureTable expects.
func (d *DB) swap(ctx context.Context, tx pgx.Tx, loaded string, t schema.Table) error {
	stmts := []string{
		"DROP TABLE IF EXISTS " + d.ident(t.Name),
		"ALTER TABLE " + d.ident(loaded) + " RENAME TO " + pgx.Identifier{t.Name}.Sanitize(),
	}
	if len(t.PrimaryKey) > 0 {
		stmts = append(stmts, "ALTER INDEX "+d.ident(objectName(loaded, "pkey"))+
			" RENAME TO "+pgx.Identifier{objectName(t.Name, "pkey")}.Sanitize())
	}
	if t.TimestampColumn != "" {
		stmts = append(stmts, d.indexSQL(t.Name, t.TimestampColumn))
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// slot holds one value in the type pgx writes into its carrier type; a
// pointer to a slot's field fits in an interface without an allocation.
type slot struct {
	i  int64
	f  float64
	s  string
	ts pgtype.Timestamptz
}

// arg checks v against its column's logical type t and returns it as pgx
// writes it into the carrier type, held in sl. JSON goes as a string, which
// pgx writes as it is into text, json and jsonb alike.
func (sl *slot) arg(t schema.DataType, v schema.Value) (any, error) {
	switch {
	case v.IsNull() || v.IsAbsent():
		return nil, nil
	case v.Type != t:
		return nil, mismatch(v, t)
	}
	switch t {
	case schema.Bool:
		return v.Bool(), nil
	case schema.Int:
		sl.i = v.Int()
		return &sl.i, nil
	case schema.Float:
		sl.f = v.Float()
		return &sl.f, nil
	case schema.Timestamp:
		sl.ts = timestamptz(v.Time())
		return &sl.ts, nil
	case schema.Text:
		sl.s = sanitizeText(v.Str())
		return &sl.s, nil
	case schema.JSON:
		sl.s = sanitizeJSON(v.Str())
		return &sl.s, nil
	}
	return nil, mismatch(v, t)
}

func mismatch(v schema.Value, t schema.DataType) error {
	return fmt.Errorf("%s value for a %s column", v.Type, t)
}

// timestamptz is t as pgx encodes it with no wrapper, rounded to
// microseconds as PostgreSQL rounds text input (pgx would truncate).
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t.Round(time.Microsecond), Valid: true}
}

// valueError names the row and column of a value convert rejects.
func valueError(p plan, r, c int, err error) error {
	return fmt.Errorf("%w: row %d column %q: %w", destination.ErrData, r, p.columns[c].Name, err)
}

// copySource feeds the planned rows to stage's COPY group after group,
// with the group number as a last column, each row converted into the same
// slice and slots, since COPY encodes a row before it asks for the next.
type copySource struct {
	p     *plan
	g, i  int // the current row is p.rows[p.groups[g].rows[i]]
	row   []any
	slots []slot // by column
	err   error
}

func newCopySource(p *plan) *copySource {
	n := len(p.columns)
	return &copySource{p: p, i: -1, row: make([]any, n+1), slots: make([]slot, n)}
}

// Next implements pgx.CopyFromSource.
func (s *copySource) Next() bool {
	if s.err != nil {
		return false
	}
	s.i++
	for s.g < len(s.p.groups) && s.i == len(s.p.groups[s.g].rows) {
		s.g, s.i = s.g+1, 0
	}
	return s.g < len(s.p.groups)
}

// Values implements pgx.CopyFromSource.
func (s *copySource) Values() ([]any, error) {
	r := s.p.groups[s.g].rows[s.i]
	for c, v := range s.p.rows[r] {
		a, err := s.slots[c].arg(s.p.columns[c].Type, v)
		if err != nil {
			s.err = valueError(*s.p, r, c, err)
			return nil, s.err
		}
		s.row[c] = a
	}
	s.row[len(s.p.columns)] = int32(s.g)
	return s.row, nil
}

// Err implements pgx.CopyFromSource.
func (s *copySource) Err() error { return s.err }

// result is the outcome of a COPY from s that returned err: the value s
// rejected, which the server saw only as a cancelled COPY, or else err.
func (s *copySource) result(err error) error {
	if s.err != nil {
		return s.err
	}
	return err
}

func columnIndex(t schema.Table, name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
