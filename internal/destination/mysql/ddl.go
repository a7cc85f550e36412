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
	if err := d.ensureColumnsTable(ctx); err != nil {
		return schema.Table{Name: table}, false, err
	}
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
	return t, true, d.readKeys(ctx, &t)
}

// ensureColumnsTable creates destination.ColumnsTable once per DB.
func (d *DB) ensureColumnsTable(ctx context.Context) error {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	if d.metaReady {
		return nil
	}
	_, err := d.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(destination.ColumnsTable)+
		" (table_name VARCHAR(64) NOT NULL, column_name VARCHAR(64) NOT NULL, event_key LONGTEXT NOT NULL,"+
		" PRIMARY KEY (table_name, column_name)) "+tableOptions)
	if err != nil {
		return fmt.Errorf("creating %s: %w", destination.ColumnsTable, err)
	}
	d.metaReady = true
	return nil
}

// readKeys sets the recorded key of t's columns (see
// destination.ColumnsTable); names compare without case, as MySQL's do.
func (d *DB) readKeys(ctx context.Context, t *schema.Table) error {
	rows, err := d.db.QueryContext(ctx, "SELECT column_name, event_key FROM "+quote(destination.ColumnsTable)+" WHERE table_name = ?", t.Name)
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
func (d *DB) recordKeys(ctx context.Context, t schema.Table) error {
	var rows []string
	var args []any
	for _, c := range t.Columns {
		if c.Key != "" {
			rows = append(rows, "(?, ?, ?)")
			args = append(args, t.Name, c.Name, schema.KeyJSON(c.Key))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := d.db.ExecContext(ctx, "INSERT IGNORE INTO "+quote(destination.ColumnsTable)+
		" (table_name, column_name, event_key) VALUES "+strings.Join(rows, ", "), args...)
	return err
}

// forgetKeys drops the records of a table bulker replaces or creates, so
// that records of a table dropped outside bulker do not outlive it.
func (d *DB) forgetKeys(ctx context.Context, table string) error {
	_, err := d.db.ExecContext(ctx, "DELETE FROM "+quote(destination.ColumnsTable)+" WHERE table_name = ?", table)
	return err
}

// CheckType implements destination.Driver: the hint must be a MySQL type,
// written in a form that cannot smuggle SQL into the DDL.
func (d *DB) CheckType(_ context.Context, sqlType string) (string, error) {
	if _, err := hintType(sqlType); err != nil {
		return err.Error(), nil
	}
	return "", nil
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
		if err := d.forgetKeys(ctx, want.Name); err != nil {
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
	if err := d.recordKeys(ctx, want); err != nil {
		return stored, fmt.Errorf("recording the keys of %s: %w", want.Name, err)
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
		t, err := hintType(c.SQLType)
		if err != nil {
			return "", fmt.Errorf("column %s: %w: %w", c.Name, err, destination.ErrData)
		}
		return t, nil
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

// hintType is the MySQL type of a hint, normalised, or why it is refused.
func hintType(sqlType string) (string, error) {
	hint := strings.Join(strings.Fields(strings.ToLower(sqlType)), " ")
	if a, ok := typeAliases[hint]; ok {
		hint = a
	}
	m := sqlTypePattern.FindStringSubmatch(hint)
	if m == nil || !knownTypes[m[1]] || sqlType != strings.TrimSpace(sqlType) {
		return "", fmt.Errorf("type hint %q is not a MySQL type", sqlType)
	}
	return hint, nil
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
