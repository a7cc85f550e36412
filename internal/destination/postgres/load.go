package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
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

// Write implements destination.Driver: one transaction per plan.
func (d *DB) Write(ctx context.Context, p *destination.Plan) error {
	if p.Len() == 0 && p.Mode == destination.Append {
		return nil
	}
	if err := checkIdents(p.Table); err != nil {
		return err
	}
	if err := d.write(ctx, p); err != nil {
		return d.classify(fmt.Sprintf("loading %d rows into %s", p.Len(), d.ident(p.Table.Name)), err)
	}
	return nil
}

// plan is a destination.Plan with the SQL type each column is written as.
// Its rows are converted as they are written, which spares COPY a converted
// copy of the whole batch.
type plan struct {
	*destination.Plan
	columns []schema.Column  // Plan.Table.Columns
	target  []string         // stored SQL type per column
	unit    []time.Duration  // per column: timestamps are truncated to it
	rows    [][]schema.Value // Plan.Rows
}

// Encode implements destination.Encoder: rows of a table that COPY
// writes into directly are encoded as copyEncoder writes them.
func (d *DB) Encode(buf []byte, t schema.Table, rows [][]schema.Value) ([]byte, bool) {
	p := newPlan(&destination.Plan{Table: t, Rows: rows}, storedTypes(t))
	if !p.typesCopyDirectly() {
		return buf, false
	}
	w := newRowWriter(&p)
	out, _, err := w.appendRows(buf, 0, math.MaxInt)
	if err != nil {
		return buf, false // Write reports the value
	}
	return out, true
}

// storedTypes are the SQL types of t's columns as stored.
func storedTypes(t schema.Table) []string {
	target := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		target[i] = c.SQLType
	}
	return target
}

func newPlan(p *destination.Plan, target []string) plan {
	unit := make([]time.Duration, len(target))
	for i, t := range target {
		unit[i] = timeUnit(t)
	}
	return plan{Plan: p, columns: p.Table.Columns, target: target, unit: unit, rows: p.Rows}
}

// timeUnit is the precision of a timestamp type: microseconds unless the
// type says fewer digits, as in timestamp(3). A value is truncated to it
// on our side: PostgreSQL would round, possibly into the next second, day
// or year.
func timeUnit(sqlType string) time.Duration {
	if !strings.HasPrefix(sqlType, "timestamp(") && !strings.HasPrefix(sqlType, "time(") {
		return time.Microsecond
	}
	_, rest, _ := strings.Cut(sqlType, "(")
	digits, _, _ := strings.Cut(rest, ")")
	p, err := strconv.Atoi(strings.TrimSpace(digits))
	if err != nil || p < 0 || p >= 6 {
		return time.Microsecond
	}
	unit := time.Second
	for range p {
		unit /= 10
	}
	return unit
}

func (d *DB) write(ctx context.Context, dp *destination.Plan) error {
	if err := d.ensureSchema(ctx); err != nil {
		return err
	}
	if dp.Mode == destination.ReplaceTable {
		return d.replaceTable(ctx, dp)
	}
	p := newPlan(dp, storedTypes(dp.Table))
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if dp.Mode == destination.ReplacePartition {
			_, err := tx.Exec(ctx, "DELETE FROM "+d.ident(dp.Table.Name)+" WHERE "+
				pgx.Identifier{destination.PartitionColumn}.Sanitize()+" = $1", dp.Partition)
			if err != nil {
				return err
			}
		}
		return d.insert(ctx, tx, dp.Table.Name, p)
	})
}

// replaceTable loads the rows into a new table and swaps it in for the
// stored one, in one transaction: readers see the old table or the new.
func (d *DB) replaceTable(ctx context.Context, dp *destination.Plan) error {
	t := dp.Table
	target := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		target[i] = d.columnType(c)
	}
	p := newPlan(dp, target)
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		into := objectName(t.Name, "new_"+randomHex())
		if _, err := tx.Exec(ctx, d.createSQL(into, t)); err != nil {
			return err
		}
		if err := d.insert(ctx, tx, into, p); err != nil {
			return err
		}
		if err := d.swap(ctx, tx, into, t); err != nil {
			return err
		}
		if err := d.forgetKeys(ctx, tx, t.Name); err != nil {
			return err
		}
		return d.recordKeys(ctx, tx, t)
	})
	if err == nil {
		d.log.Info("replaced table", "table", t.Name, "rows", dp.Len())
	}
	return err
}

// insert writes the planned rows into table within tx.
func (d *DB) insert(ctx context.Context, tx pgx.Tx, table string, p plan) error {
	if p.Len() == 0 {
		return nil
	}
	if len(p.Encoded) > 0 && (p.Upsert() || !p.copiesDirectly()) {
		return fmt.Errorf("rows encoded ahead for %s do not fit its load", table)
	}
	if len(p.Encoded) == 0 && len(p.rows)*len(p.columns) <= d.valuesMax {
		for _, g := range p.Groups {
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
	if !p.Upsert() && p.copiesDirectly() {
		// One group, no casts: COPY straight into the table, in the
		// transaction, saves writing every row twice.
		enc := newCopyEncoder(&p)
		sql := "COPY " + d.ident(table) + " (" + columnList(p, p.Groups[0]) + ") FROM STDIN (FORMAT binary)"
		_, err := tx.Conn().PgConn().CopyFrom(ctx, enc, sql)
		enc.stop()
		return enc.result(err)
	}
	if err := d.stage(ctx, tx, p); err != nil {
		return err
	}
	for i, g := range p.Groups {
		sql := d.insertSelect(table, p, g, i, len(p.Groups) > 1)
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
	return len(p.Groups) == 1 && p.typesCopyDirectly()
}

// typesCopyDirectly reports whether each column's values, as converted,
// have the stored column type.
func (p plan) typesCopyDirectly() bool {
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
func (d *DB) insertSelect(table string, p plan, g destination.Group, n int, filter bool) string {
	exprs := make([]string, len(g.Columns))
	for i, c := range g.Columns {
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
func (d *DB) insertValues(table string, p plan, g destination.Group) (string, []any, error) {
	var sb strings.Builder
	args := make([]any, 0, len(g.Rows)*len(g.Columns))
	slots := make([]slot, cap(args))
	sb.WriteString("INSERT INTO " + d.ident(table) + " (" + columnList(p, g) + ") VALUES ")
	for i, r := range g.Rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j, c := range g.Columns {
			if j > 0 {
				sb.WriteString(", ")
			}
			v, err := slots[len(args)].arg(p.columns[c].Type, p.unit[c], p.rows[r][c])
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

func columnList(p plan, g destination.Group) string {
	names := make([]string, len(g.Columns))
	for i, c := range g.Columns {
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
func onConflict(p plan, g destination.Group) string {
	if !p.Upsert() {
		return ""
	}
	keys := make([]string, len(p.Key))
	for i, k := range p.Key {
		keys[i] = pgx.Identifier{p.columns[k].Name}.Sanitize()
	}
	var set []string
	for _, c := range g.Columns {
		if !p.IsKey(c) {
			q := pgx.Identifier{p.columns[c].Name}.Sanitize()
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
// writes it into the carrier type, held in sl; a timestamp is truncated to
// unit. JSON goes as a string, which pgx writes as it is into text, json
// and jsonb alike.
func (sl *slot) arg(t schema.DataType, unit time.Duration, v schema.Value) (any, error) {
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
		sl.ts = pgtype.Timestamptz{Time: v.Time().Truncate(unit), Valid: true}
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

// valueError names the row and column of a value convert rejects.
func valueError(p plan, r, c int, err error) error {
	return fmt.Errorf("%w: row %d column %q: %w", destination.ErrData, r, p.columns[c].Name, err)
}

// copySource feeds the planned rows to stage's COPY group after group,
// with the group number as a last column, each row converted into the same
// slice and slots, since COPY encodes a row before it asks for the next.
type copySource struct {
	p     *plan
	g, i  int // the current row is p.rows[p.Groups[g].Rows[i]]
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
	for s.g < len(s.p.Groups) && s.i == len(s.p.Groups[s.g].Rows) {
		s.g, s.i = s.g+1, 0
	}
	return s.g < len(s.p.Groups)
}

// Values implements pgx.CopyFromSource.
func (s *copySource) Values() ([]any, error) {
	r := s.p.Groups[s.g].Rows[s.i]
	for c, v := range s.p.rows[r] {
		a, err := s.slots[c].arg(s.p.columns[c].Type, s.p.unit[c], v)
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

func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
