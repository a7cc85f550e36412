package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// defaultTypes are the SQL types of columns without an explicit SQLType.
var defaultTypes = [...]string{
	schema.Null:      "text",
	schema.Bool:      "boolean",
	schema.Int:       "bigint",
	schema.Float:     "double precision",
	schema.Timestamp: "timestamp with time zone",
	schema.Text:      "text",
	schema.JSON:      "jsonb",
}

// sqlTypePattern admits type hints such as varchar(4), numeric(10, 2),
// json or timestamp with time zone, and nothing that could end the DDL.
var sqlTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ]{0,40}(\([0-9 ,]{1,20}\))?( [A-Za-z ]{1,30})?$`)

// validSQLType reports whether a hinted type may be written into DDL.
func validSQLType(t string) bool { return sqlTypePattern.MatchString(t) }

// columnType is the SQL type a column is created with.
func (d *DB) columnType(c schema.Column) string {
	if c.SQLType != "" {
		if validSQLType(c.SQLType) {
			return c.SQLType
		}
		d.log.Warn("ignoring invalid SQL type hint", "column", c.Name, "sql_type", c.SQLType)
	}
	if int(c.Type) < len(defaultTypes) {
		return defaultTypes[c.Type]
	}
	return "text"
}

// CheckType implements destination.Driver: a hint must look like a type
// name, so it cannot smuggle SQL into the DDL, and PostgreSQL must know it.
func (d *DB) CheckType(ctx context.Context, sqlType string) (string, error) {
	if !validSQLType(sqlType) {
		return "not a SQL type name", nil
	}
	var known bool
	if err := d.pool.QueryRow(ctx, "SELECT to_regtype($1) IS NOT NULL", sqlType).Scan(&known); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) { // the server refused the type's syntax
			return "PostgreSQL refuses it: " + pgErr.Message, nil
		}
		return "", d.classify("checking type "+sqlType, err)
	}
	if !known {
		return "PostgreSQL does not know this type", nil
	}
	return "", nil
}

// dataType maps a type as format_type prints it back to a logical type.
func dataType(sqlType string) schema.DataType {
	base, _, _ := strings.Cut(sqlType, "(")
	base = strings.TrimSpace(base)
	switch {
	case base == "boolean":
		return schema.Bool
	case base == "bigint" || base == "integer" || base == "smallint":
		return schema.Int
	case base == "double precision" || base == "real" || base == "numeric":
		return schema.Float
	case strings.HasPrefix(base, "timestamp") || base == "date":
		return schema.Timestamp
	case base == "json" || base == "jsonb":
		return schema.JSON
	default:
		return schema.Text
	}
}

const describeSQL = `
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
       coalesce(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

// Describe implements destination.Driver: the stored columns in
// their order, each with SQLType as PostgreSQL prints it, and the primary
// key. TimestampColumn is not read back.
func (d *DB) Describe(ctx context.Context, table string) (schema.Table, bool, error) {
	if err := d.ensureSchema(ctx); err != nil {
		return schema.Table{}, false, d.classify("describing table "+d.ident(table), err)
	}
	t, ok, err := d.describe(ctx, d.pool, table)
	if err != nil {
		return t, false, d.classify("describing table "+d.ident(table), err)
	}
	return t, ok, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (d *DB) describe(ctx context.Context, q querier, table string) (schema.Table, bool, error) {
	rows, err := q.Query(ctx, describeSQL, d.schema, table)
	if err != nil {
		return schema.Table{}, false, err
	}
	t := schema.Table{Name: table}
	pk := map[int32]string{}
	var name, typ string
	var pkPos int32
	_, err = pgx.ForEachRow(rows, []any{&name, &typ, &pkPos}, func() error {
		t.Columns = append(t.Columns, schema.Column{Name: name, Type: dataType(typ), SQLType: typ})
		if pkPos > 0 {
			pk[pkPos] = name
		}
		return nil
	})
	if err != nil || len(t.Columns) == 0 {
		return schema.Table{Name: table}, false, err
	}
	for i := int32(1); i <= int32(len(pk)); i++ {
		t.PrimaryKey = append(t.PrimaryKey, pk[i])
	}
	return t, true, d.readKeys(ctx, q, &t)
}

// readKeys sets the recorded key of t's columns (see
// destination.ColumnsTable).
func (d *DB) readKeys(ctx context.Context, q querier, t *schema.Table) error {
	rows, err := q.Query(ctx, "SELECT column_name, event_key FROM "+d.ident(destination.ColumnsTable)+" WHERE table_name = $1", t.Name)
	if err != nil {
		return err
	}
	keys := map[string]string{}
	var name, key string
	if _, err := pgx.ForEachRow(rows, []any{&name, &key}, func() error {
		k, err := schema.ParseKeyJSON(key)
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", t.Name, name, err)
		}
		keys[name] = k
		return nil
	}); err != nil {
		return err
	}
	for i, c := range t.Columns {
		t.Columns[i].Key = keys[c.Name]
	}
	return nil
}

// recordKeys records the keys of t's columns that have one, keeping a key
// recorded before for the same column.
func (d *DB) recordKeys(ctx context.Context, tx pgx.Tx, t schema.Table) error {
	var tables, cols, keys []string
	for _, c := range t.Columns {
		if c.Key != "" {
			tables, cols, keys = append(tables, t.Name), append(cols, c.Name), append(keys, schema.KeyJSON(c.Key))
		}
	}
	if len(cols) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+d.ident(destination.ColumnsTable)+
		" (table_name, column_name, event_key) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
		tables, cols, keys)
	return err
}

// forgetKeys drops the records of a table bulker replaces or creates, so
// that records of a table dropped outside bulker do not outlive it.
func (d *DB) forgetKeys(ctx context.Context, tx pgx.Tx, table string) error {
	_, err := tx.Exec(ctx, "DELETE FROM "+d.ident(destination.ColumnsTable)+" WHERE table_name = $1", table)
	return err
}

// EnsureTable implements destination.Driver. DDL runs under an
// advisory lock per table, with IF NOT EXISTS, so processes adding the same
// column at once both succeed; a stored column of another type is kept.
func (d *DB) EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	if err := checkIdents(want); err != nil {
		return schema.Table{}, err
	}
	t, err := d.ensureTable(ctx, want)
	if err != nil {
		return schema.Table{}, d.classify("ensuring table "+d.ident(want.Name), err)
	}
	return t, nil
}

func (d *DB) ensureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	if err := d.ensureSchema(ctx); err != nil {
		return schema.Table{}, err
	}
	have, ok, err := d.describe(ctx, d.pool, want.Name)
	if err != nil {
		return schema.Table{}, err
	}
	if ok && covers(have, want) {
		return withTimestamp(have, want), nil
	}
	var created bool
	var added []string
	err = d.locked(ctx, "table\x00"+want.Name, func(tx pgx.Tx) error {
		// Re-read under the lock: another process may have done the work.
		have, ok, err = d.describe(ctx, tx, want.Name)
		if err != nil {
			return err
		}
		if !ok {
			created = true
			if err := d.forgetKeys(ctx, tx, want.Name); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, d.createSQL(want.Name, want)); err != nil {
				return err
			}
			if want.TimestampColumn != "" {
				if _, err := tx.Exec(ctx, d.indexSQL(want.Name, want.TimestampColumn)); err != nil {
					return err
				}
			}
		} else {
			var clauses []string
			for _, c := range want.Columns {
				if _, exists := have.Column(c.Name); !exists {
					added = append(added, c.Name)
					clauses = append(clauses, "ADD COLUMN IF NOT EXISTS "+
						pgx.Identifier{c.Name}.Sanitize()+" "+d.columnType(c))
				}
			}
			if len(clauses) > 0 {
				if _, err := tx.Exec(ctx, "ALTER TABLE "+d.ident(want.Name)+" "+strings.Join(clauses, ", ")); err != nil {
					return err
				}
			}
		}
		if err := d.recordKeys(ctx, tx, want); err != nil {
			return err
		}
		have, _, err = d.describe(ctx, tx, want.Name)
		return err
	})
	if err != nil {
		return schema.Table{}, err
	}
	switch {
	case created:
		d.log.Info("created table", "table", want.Name, "columns", len(want.Columns), "primary_key", want.PrimaryKey)
	case len(added) > 0:
		d.log.Info("added columns", "table", want.Name, "columns", added)
	}
	return withTimestamp(have, want), nil
}

// createSQL renders CREATE TABLE for t under the name table.
func (d *DB) createSQL(table string, t schema.Table) string {
	var sb strings.Builder
	sb.WriteString("CREATE TABLE IF NOT EXISTS " + d.ident(table) + " (")
	for i, c := range t.Columns {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(pgx.Identifier{c.Name}.Sanitize() + " " + d.columnType(c))
	}
	if len(t.PrimaryKey) > 0 {
		sb.WriteString(", CONSTRAINT " + pgx.Identifier{objectName(table, "pkey")}.Sanitize() + " PRIMARY KEY (")
		for i, k := range t.PrimaryKey {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(pgx.Identifier{k}.Sanitize())
		}
		sb.WriteString(")")
	}
	sb.WriteString(")")
	return sb.String()
}

func (d *DB) indexSQL(table, column string) string {
	return "CREATE INDEX IF NOT EXISTS " + pgx.Identifier{objectName(table, column+"_idx")}.Sanitize() +
		" ON " + d.ident(table) + " (" + pgx.Identifier{column}.Sanitize() + ")"
}

// objectName names an index or constraint of table within 63 bytes, with a
// hash suffix when it must be shortened, so names stay unique.
func objectName(table, suffix string) string {
	name := table + "_" + suffix
	if len(name) <= dialect.MaxIdentLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tail := "_" + hex.EncodeToString(sum[:4])
	cut := dialect.MaxIdentLen - len(tail)
	for cut > 0 && !utf8Start(name[cut]) {
		cut--
	}
	return name[:cut] + tail
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// covers reports whether have holds every column of want, with its key
// recorded.
func covers(have, want schema.Table) bool {
	for _, c := range want.Columns {
		if hc, ok := have.Column(c.Name); !ok || c.Key != "" && hc.Key == "" {
			return false
		}
	}
	return true
}

func withTimestamp(have, want schema.Table) schema.Table {
	have.TimestampColumn = want.TimestampColumn
	return have
}

// checkIdents rejects names PostgreSQL would silently truncate, which would
// break the mapping between batch columns and stored ones.
func checkIdents(t schema.Table) error {
	if t.Name == "" {
		return fmt.Errorf("table name is empty")
	}
	names := []string{t.Name}
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	for _, n := range names {
		if len(n) > dialect.MaxIdentLen || n == "" || strings.ContainsRune(n, 0) {
			return fmt.Errorf("table %q: identifier %q is empty, has NUL or exceeds %d bytes", t.Name, n, dialect.MaxIdentLen)
		}
	}
	return nil
}
