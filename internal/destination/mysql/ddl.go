package mysql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// Index names are per table in MySQL, so fixed names do.
const (
	timestampIndex = "sf_timestamp"
	partitionIndex = "sf_partition"
	tableOptions   = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
)

// Server errors that mean another process got there first.
const (
	errDupFieldName = 1060
	errDupKeyName   = 1061
	errBadField     = 1054
)

// sqlTypePattern accepts hints such as "varchar(4)", "decimal(10, 2)",
// "bigint unsigned" or "double precision"; anything else could smuggle SQL
// into the DDL.
var sqlTypePattern = regexp.MustCompile(`^([a-z]+)( precision)? ?(\( ?[0-9]{1,5} ?(, ?[0-9]{1,5} ?)?\))?(( unsigned| signed| zerofill)*)$`)

var knownTypes = map[string]bool{
	"bit": true, "tinyint": true, "smallint": true, "mediumint": true, "int": true, "integer": true,
	"bigint": true, "decimal": true, "dec": true, "numeric": true, "float": true, "double": true,
	"real": true, "bool": true, "boolean": true, "date": true, "datetime": true, "timestamp": true,
	"time": true, "year": true, "char": true, "varchar": true, "binary": true, "varbinary": true,
	"tinyblob": true, "blob": true, "mediumblob": true, "longblob": true, "tinytext": true,
	"text": true, "mediumtext": true, "longtext": true, "json": true,
}

// typeAliases translate hints written for PostgreSQL.
var typeAliases = map[string]string{
	"jsonb":                    "json",
	"timestamptz":              "datetime(6)",
	"timestamp with time zone": "datetime(6)",
}

// Describe implements destination.Driver.
func (d *DB) Describe(ctx context.Context, table string) (schema.Table, bool, error) {
	t, ok, err := d.describe(ctx, table)
	if err != nil {
		return t, false, d.classify(fmt.Errorf("describing table %s: %w", table, err))
	}
	return t, ok, nil
}

func (d *DB) describe(ctx context.Context, table string) (schema.Table, bool, error) {
	t := schema.Table{Name: table}
	rows, err := d.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, table)
	if err != nil {
		return t, false, err
	}
	defer rows.Close()
	longtext := false
	for rows.Next() {
		var name, dataType, colType string
		if err := rows.Scan(&name, &dataType, &colType); err != nil {
			return t, false, err
		}
		longtext = longtext || dataType == "longtext"
		t.Columns = append(t.Columns, schema.Column{Name: name, Type: typeOf(dataType, colType), SQLType: colType})
	}
	if err := rows.Err(); err != nil {
		return t, false, err
	}
	if len(t.Columns) == 0 {
		return t, false, nil
	}
	if t.PrimaryKey, err = d.strings(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, table); err != nil {
		return t, false, err
	}
	ts, err := d.strings(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = '`+timestampIndex+`'`, table)
	if err != nil {
		return t, false, err
	}
	if len(ts) > 0 {
		t.TimestampColumn = ts[0]
	}
	if longtext {
		// MariaDB's JSON is LONGTEXT with a json_valid check.
		checks, err := d.strings(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
			WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table)
		var me *mysql.MySQLError
		if err != nil && !(errors.As(err, &me) && me.Number == errBadField) {
			return t, false, err
		}
		for i, c := range t.Columns {
			for _, check := range checks {
				if strings.EqualFold(check, "json_valid(`"+c.Name+"`)") {
					t.Columns[i].Type, t.Columns[i].SQLType = schema.JSON, "json"
				}
			}
		}
	}
	return t, true, nil
}

func (d *DB) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func typeOf(dataType, colType string) schema.DataType {
	switch dataType {
	case "tinyint":
		if strings.HasPrefix(colType, "tinyint(1)") {
			return schema.Bool
		}
		return schema.Int
	case "bit", "smallint", "mediumint", "int", "bigint", "year":
		return schema.Int
	case "float", "double", "decimal":
		return schema.Float
	case "date", "datetime", "timestamp":
		return schema.Timestamp
	case "json":
		return schema.JSON
	default:
		return schema.Text
	}
}

// EnsureTable implements destination.Driver. Concurrent callers are
// safe: CREATE TABLE IF NOT EXISTS, and a column or index another process
// added first is no error.
func (d *DB) EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	t, err := d.ensureTable(ctx, want)
	if err != nil {
		return t, d.classify(fmt.Errorf("ensuring table %s: %w", want.Name, err))
	}
	return t, nil
}

func (d *DB) ensureTable(ctx context.Context, want schema.Table) (schema.Table, error) {
	stored, ok, err := d.describe(ctx, want.Name)
	if err != nil {
		return stored, err
	}
	if !ok {
		q, err := createSQL(want.Name, want)
		if err != nil {
			return stored, err
		}
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			return stored, err
		}
		d.log.InfoContext(ctx, "created table", "table", want.Name, "columns", len(want.Columns))
	} else {
		if err := d.addColumns(ctx, stored, want); err != nil {
			return stored, err
		}
		if len(want.PrimaryKey) > 0 && !destination.SameKey(stored.PrimaryKey, want.PrimaryKey) {
			// Changing a key means rebuilding the table: leave it to the user.
			d.log.WarnContext(ctx, "table keeps its stored primary key", "table", want.Name,
				"stored", stored.PrimaryKey, "configured", want.PrimaryKey)
		}
	}
	t, _, err := d.describe(ctx, want.Name)
	return t, err
}

func (d *DB) addColumns(ctx context.Context, stored, want schema.Table) error {
	var adds []string
	var names []string
	for _, c := range want.Columns {
		if _, ok := destination.FindColumn(stored, c.Name); ok {
			continue
		}
		def, err := columnDef(c, want)
		if err != nil {
			return err
		}
		adds = append(adds, "ADD COLUMN "+def)
		names = append(names, c.Name)
	}
	if len(adds) > 0 {
		// One ALTER for all; if another process added one of them first,
		// add the rest one by one.
		_, err := d.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s %s", quote(want.Name), strings.Join(adds, ", ")))
		if isError(err, errDupFieldName) {
			for _, add := range adds {
				_, err = d.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s %s", quote(want.Name), add))
				if err != nil && !isError(err, errDupFieldName) {
					break
				}
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("adding columns %v: %w", names, err)
		}
		d.log.InfoContext(ctx, "added columns", "table", want.Name, "columns", names)
	}
	if want.TimestampColumn != "" && stored.TimestampColumn == "" {
		if c, ok := destination.FindColumn(want, want.TimestampColumn); ok && indexable(c, want) {
			if err := d.createIndex(ctx, want.Name, timestampIndex, c.Name); err != nil {
				return err
			}
		}
	}
	if destination.ContainsName(names, destination.PartitionColumn) {
		return d.createIndex(ctx, want.Name, partitionIndex, destination.PartitionColumn)
	}
	return nil
}

func (d *DB) createIndex(ctx context.Context, table, index, col string) error {
	_, err := d.db.ExecContext(ctx, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quote(index), quote(table), quote(col)))
	if err != nil && !isError(err, errDupKeyName) {
		return fmt.Errorf("indexing %s: %w", col, err)
	}
	return nil
}

// createSQL creates name with the columns, key and indexes of t.
func createSQL(name string, t schema.Table) (string, error) {
	var defs []string
	for _, c := range t.Columns {
		def, err := columnDef(c, t)
		if err != nil {
			return "", err
		}
		defs = append(defs, def)
	}
	if len(t.PrimaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+quoteAll(t.PrimaryKey)+")")
	}
	if c, ok := destination.FindColumn(t, t.TimestampColumn); ok && indexable(c, t) {
		defs = append(defs, fmt.Sprintf("KEY %s (%s)", quote(timestampIndex), quote(c.Name)))
	}
	if _, ok := destination.FindColumn(t, destination.PartitionColumn); ok {
		defs = append(defs, fmt.Sprintf("KEY %s (%s)", quote(partitionIndex), quote(destination.PartitionColumn)))
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s\n) %s", quote(name), strings.Join(defs, ",\n  "), tableOptions), nil
}

func columnDef(c schema.Column, t schema.Table) (string, error) {
	typ, err := columnType(c, keyColumn(c, t))
	if err != nil {
		return "", err
	}
	def := quote(c.Name) + " " + typ
	if destination.ContainsName(t.PrimaryKey, c.Name) {
		def += " NOT NULL"
	}
	return def, nil
}

// keyColumn tells whether an index covers c: those columns cannot be TEXT.
func keyColumn(c schema.Column, t schema.Table) bool {
	return destination.ContainsName(t.PrimaryKey, c.Name) || strings.EqualFold(c.Name, destination.PartitionColumn)
}

// indexable tells whether the timestamp index can cover c.
func indexable(c schema.Column, t schema.Table) bool {
	typ, err := columnType(c, keyColumn(c, t))
	if err != nil {
		return false
	}
	typ = strings.ToLower(typ)
	return !strings.Contains(typ, "text") && !strings.Contains(typ, "blob") && typ != "json"
}

// columnType is c's hint, validated, or the dialect's type for its
// DataType. Strings are LONGTEXT, stored off the row page so wide tables
// fit, except in keys, which need a bounded VARCHAR.
func columnType(c schema.Column, key bool) (string, error) {
	if c.SQLType != "" {
		hint := strings.Join(strings.Fields(strings.ToLower(c.SQLType)), " ")
		if a, ok := typeAliases[hint]; ok {
			hint = a
		}
		m := sqlTypePattern.FindStringSubmatch(hint)
		if m == nil || !knownTypes[m[1]] || c.SQLType != strings.TrimSpace(c.SQLType) {
			return "", fmt.Errorf("column %s: type hint %q is not a MySQL type: %w", c.Name, c.SQLType, destination.ErrData)
		}
		return hint, nil
	}
	switch c.Type {
	case schema.Bool:
		return "BOOLEAN", nil
	case schema.Int:
		return "BIGINT", nil
	case schema.Float:
		return "DOUBLE", nil
	case schema.Timestamp:
		return "DATETIME(6)", nil
	case schema.JSON:
		return "JSON", nil
	}
	if key {
		return "VARCHAR(255)", nil
	}
	return "LONGTEXT", nil
}

func quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

func quoteAll(idents []string) string {
	q := make([]string, len(idents))
	for i, s := range idents {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

func isError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}
