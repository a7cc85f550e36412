package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

const (
	// maxVars is SQLite's SQLITE_MAX_VARIABLE_NUMBER.
	maxVars = 32766
	// maxRowsPerStmt keeps statements small enough to prepare quickly.
	maxRowsPerStmt = 500
	// timeLayout is RFC 3339 in UTC with fixed microseconds: readable in the
	// sqlite3 shell, understood by SQLite's date functions, and sorting as
	// text sorts as time.
	timeLayout = "2006-01-02T15:04:05.000000Z"
)

// Load implements destination.Destination.
func (d *DB) Load(ctx context.Context, b schema.Batch, o destination.LoadOptions) error {
	if err := d.load(ctx, b, o); err != nil {
		return d.classify(fmt.Errorf("loading %d rows into %s: %w", len(b.Rows), b.Table.Name, err))
	}
	return nil
}

func (d *DB) load(ctx context.Context, b schema.Batch, o destination.LoadOptions) error {
	t := b.Table
	if o.Mode == destination.Append && len(b.Rows) == 0 {
		return nil
	}
	sets, err := destination.PrepareRows(b, o, value)
	if err != nil {
		return err
	}

	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	switch o.Mode {
	case destination.Append:
		err = insert(ctx, tx, t.Name, t, sets, o.Dedup)
	case destination.ReplaceTable:
		err = replaceTable(ctx, tx, t, sets)
	case destination.ReplacePartition:
		_, err = tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", quote(t.Name), quote(destination.PartitionColumn)), o.Partition)
		if err == nil {
			err = insert(ctx, tx, t.Name, t, sets, o.Dedup)
		}
	default:
		return fmt.Errorf("unknown load mode %d", o.Mode)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// replaceTable fills a new table and swaps it in; SQLite's DDL is
// transactional, so readers see the old table or the new one.
func replaceTable(ctx context.Context, tx *sql.Tx, t schema.Table, sets []destination.RowSet) error {
	tmp := fmt.Sprintf("%s_tmp_%d", t.Name, time.Now().UnixNano())
	if err := createTable(ctx, tx, tmp, t); err != nil {
		return err
	}
	if err := insert(ctx, tx, tmp, t, sets, false); err != nil {
		return err
	}
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + quote(t.Name),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", quote(tmp), quote(t.Name)),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if t.TimestampColumn != "" {
		return createIndex(ctx, tx, t.Name, t.TimestampColumn)
	}
	return nil
}

// insert writes the row sets into table with multi-row statements, each
// prepared once per shape; with upsert a row whose key exists updates the
// columns its set carries.
func insert(ctx context.Context, tx *sql.Tx, table string, t schema.Table, sets []destination.RowSet, upsert bool) error {
	for _, s := range sets {
		if len(s.Rows) == 0 {
			continue
		}
		names := make([]string, len(s.Cols))
		for i, c := range s.Cols {
			names[i] = t.Columns[c].Name
		}
		perStmt := min(maxRowsPerStmt, maxVars/len(names), len(s.Rows))
		full := insertSQL(table, names, perStmt, upsert, t.PrimaryKey)
		stmt, err := tx.PrepareContext(ctx, full)
		if err != nil {
			return err
		}
		args := make([]any, 0, perStmt*len(names))
		rows := s.Rows
		for len(rows) >= perStmt {
			args = args[:0]
			for _, r := range rows[:perStmt] {
				args = append(args, r...)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				stmt.Close()
				return err
			}
			rows = rows[perStmt:]
		}
		stmt.Close()
		if len(rows) > 0 {
			args = args[:0]
			for _, r := range rows {
				args = append(args, r...)
			}
			if _, err := tx.ExecContext(ctx, insertSQL(table, names, len(rows), upsert, t.PrimaryKey), args...); err != nil {
				return err
			}
		}
	}
	return nil
}

func insertSQL(table string, cols []string, n int, upsert bool, pk []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quote(table), quoteAll(cols))
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if !upsert {
		return b.String()
	}
	var set []string
	for _, c := range cols {
		if !destination.ContainsName(pk, c) {
			set = append(set, fmt.Sprintf("%s = excluded.%s", quote(c), quote(c)))
		}
	}
	fmt.Fprintf(&b, " ON CONFLICT (%s) DO ", quoteAll(pk))
	if len(set) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(set, ", "))
	}
	return b.String()
}

// value turns one of the batch's values into what SQLite stores.
func value(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, string:
		return v, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		// SQLite would store NaN as NULL: refuse rather than lose it.
		if math.IsNaN(x) {
			return nil, fmt.Errorf("NaN cannot be stored: %w", destination.ErrData)
		}
		return x, nil
	case time.Time:
		return x.UTC().Round(time.Microsecond).Format(timeLayout), nil
	case json.RawMessage:
		return string(x), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T: %w", v, destination.ErrData)
}
