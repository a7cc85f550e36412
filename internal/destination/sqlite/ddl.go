package sqlite

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// sqlTypePattern accepts type hints such as "varchar(4)", "numeric(10, 2)"
// or "double precision"; anything else could smuggle SQL into the DDL.
var sqlTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*( [A-Za-z][A-Za-z0-9_]*){0,3} ?(\( ?[0-9]{1,5} ?(, ?[0-9]{1,5} ?)?\))?$`)

// maxTypeLen bounds a type hint.
const maxTypeLen = 64

// EnsureTable implements destination.Driver. It runs in one IMMEDIATE
// transaction, so another process adding the same column waits for it and
// then sees the column.
func (d *DB) EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	t, err := d.ensureTable(ctx, want)
	if err != nil {
		return t, d.classify(fmt.Errorf("ensuring table %s: %w", want.Name, err))
	}
	return t, nil
}

func (d *DB) ensureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return schema.Table{}, err
	}
	defer tx.Rollback()
	stored, ok, err := describe(ctx, tx, want.Name)
	if err != nil {
		return stored, err
	}
	if !ok {
		if err := forgetKeys(ctx, tx, want.Name); err != nil {
			return stored, err
		}
		if err := createTable(ctx, tx, want.Name, want); err != nil {
			return stored, err
		}
		d.log.InfoContext(ctx, "created table", "table", want.Name, "columns", len(want.Columns))
	} else {
		var added []string
		for _, c := range want.Columns {
			if _, ok := destination.FindColumn(stored, c.Name); ok {
				continue
			}
			typ, err := columnType(c)
			if err != nil {
				return stored, err
			}
			_, err = tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(want.Name), quote(c.Name), typ))
			if err != nil && !strings.Contains(err.Error(), "duplicate column name") {
				return stored, fmt.Errorf("adding column %s: %w", c.Name, err)
			}
			added = append(added, c.Name)
		}
		if len(added) > 0 {
			d.log.InfoContext(ctx, "added columns", "table", want.Name, "columns", added)
		}
		if len(want.PrimaryKey) > 0 && !destination.SameKey(stored.PrimaryKey, want.PrimaryKey) {
			// Changing a key means rebuilding the table: leave it to the user.
			d.log.WarnContext(ctx, "table keeps its stored primary key", "table", want.Name,
				"stored", stored.PrimaryKey, "configured", want.PrimaryKey)
		}
		if want.TimestampColumn != "" && stored.TimestampColumn == "" {
			if err := createIndex(ctx, tx, want.Name, want.TimestampColumn); err != nil {
				return stored, err
			}
		}
	}
	if err := recordKeys(ctx, tx, want); err != nil {
		return stored, fmt.Errorf("recording the keys of %s: %w", want.Name, err)
	}
	t, _, err := describe(ctx, tx, want.Name)
	if err != nil {
		return t, err
	}
	return t, tx.Commit()
}

// readKeys sets the recorded key of t's columns (see
// destination.ColumnsTable); names compare without case, as SQLite's do.
func readKeys(ctx context.Context, q querier, t *schema.Table) error {
	rows, err := q.QueryContext(ctx, "SELECT column_name, event_key FROM "+quote(destination.ColumnsTable)+" WHERE table_name = ?", t.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return err
		}
		k, err := schema.ParseKeyJSON(key)
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", t.Name, name, err)
		}
		keys[strings.ToLower(name)] = k
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, c := range t.Columns {
		t.Columns[i].Key = keys[strings.ToLower(c.Name)]
	}
	return nil
}

// recordKeys records the keys of t's columns that have one, keeping a key
// recorded before for the same column.
func recordKeys(ctx context.Context, q querier, t schema.Table) error {
	for _, c := range t.Columns {
		if c.Key == "" {
			continue
		}
		_, err := q.ExecContext(ctx, "INSERT OR IGNORE INTO "+quote(destination.ColumnsTable)+
			" (table_name, column_name, event_key) VALUES (?, ?, ?)", t.Name, c.Name, schema.KeyJSON(c.Key))
		if err != nil {
			return err
		}
	}
	return nil
}

// forgetKeys drops the records of a table bulker replaces or creates, so
// that records of a table dropped outside bulker do not outlive it.
func forgetKeys(ctx context.Context, q querier, table string) error {
	_, err := q.ExecContext(ctx, "DELETE FROM "+quote(destination.ColumnsTable)+" WHERE table_name = ?", table)
	return err
}

// CheckType implements destination.Driver: SQLite takes any type name, but
// the hint must be one, so it cannot smuggle SQL into the DDL.
func (d *DB) CheckType(_ context.Context, sqlType string) (string, error) {
	if len(sqlType) > maxTypeLen || !sqlTypePattern.MatchString(sqlType) {
		return "not a plain SQL type name", nil
	}
	return "", nil
}

// createTable creates name with the columns and primary key of t.
func createTable(ctx context.Context, q querier, name string, t schema.Table) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", quote(name))
	for i, c := range t.Columns {
		typ, err := columnType(c)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if destination.ContainsName(t.PrimaryKey, c.Name) {
			typ += " NOT NULL"
		}
		b.WriteString(quote(c.Name) + " " + typ)
	}
	if len(t.PrimaryKey) > 0 {
		b.WriteString(", PRIMARY KEY (" + quoteAll(t.PrimaryKey) + ")")
	}
	b.WriteString(")")
	if _, err := q.ExecContext(ctx, b.String()); err != nil {
		return err
	}
	if t.TimestampColumn != "" && name == t.Name {
		return createIndex(ctx, q, name, t.TimestampColumn)
	}
	return nil
}

func createIndex(ctx context.Context, q querier, table, col string) error {
	_, err := q.ExecContext(ctx, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quote(indexName(table)), quote(table), quote(col)))
	if err != nil {
		return fmt.Errorf("indexing %s: %w", col, err)
	}
	return nil
}

// indexName names the timestamp index; index names share one namespace
// per database, so it includes the table.
func indexName(table string) string { return table + "_ts_idx" }

// columnType is the declared type of c: its hint, validated, or the
// dialect's type for its DataType.
func columnType(c schema.Column) (string, error) {
	if c.SQLType != "" {
		if len(c.SQLType) > maxTypeLen || !sqlTypePattern.MatchString(c.SQLType) {
			return "", fmt.Errorf("column %s: type hint %q is not a plain SQL type: %w", c.Name, c.SQLType, destination.ErrData)
		}
		return c.SQLType, nil
	}
	switch c.Type {
	case schema.Bool:
		return "BOOLEAN", nil
	case schema.Int:
		// Not "INTEGER": as a primary key that would alias the rowid and
		// turn a NULL key into a generated one instead of an error.
		return "BIGINT", nil
	case schema.Float:
		return "REAL", nil
	case schema.Timestamp:
		return "TIMESTAMP", nil
	case schema.JSON:
		return "JSON", nil
	default:
		return "TEXT", nil
	}
}

// dataType maps a declared type back to a DataType, following SQLite's
// own affinity rules where our names do not decide it.
func dataType(declared string) schema.DataType {
	t := strings.ToUpper(declared)
	switch {
	case strings.Contains(t, "BOOL"):
		return schema.Bool
	case strings.Contains(t, "JSON"):
		return schema.JSON
	case strings.Contains(t, "TIMESTAMP"), strings.HasPrefix(t, "DATE"), strings.HasPrefix(t, "TIME"):
		return schema.Timestamp
	case strings.Contains(t, "INT"):
		return schema.Int
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"),
		strings.HasPrefix(t, "NUMERIC"), strings.HasPrefix(t, "DECIMAL"):
		return schema.Float
	default:
		return schema.Text
	}
}

func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

func quoteAll(idents []string) string {
	q := make([]string, len(idents))
	for i, s := range idents {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// classify marks errors caused by the rows themselves as
// destination.ErrData and names the file in the others.
func (d *DB) classify(err error) error {
	if errors.Is(err, destination.ErrData) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return fmt.Errorf("%w (%w)", err, destination.ErrData)
		}
	}
	return fmt.Errorf("sqlite %s: %w", d.path, err)
}
