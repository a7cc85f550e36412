package sqlite

import (
	"context"
	"database/sql"
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

// Write implements destination.Driver.
func (d *DB) Write(ctx context.Context, p *destination.Plan) error {
	if err := d.write(ctx, p); err != nil {
		return d.classify(fmt.Errorf("loading %d rows into %s: %w", len(p.Rows), p.Table.Name, err))
	}
	return nil
}

func (d *DB) write(ctx context.Context, p *destination.Plan) error {
	if p.Mode == destination.Append && len(p.Rows) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	switch p.Mode {
	case destination.Append:
		err = insert(ctx, tx, p.Table.Name, p)
	case destination.ReplaceTable:
		err = replaceTable(ctx, tx, p)
	case destination.ReplacePartition:
		_, err = tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", quote(p.Table.Name), quote(destination.PartitionColumn)), p.Partition)
		if err == nil {
			err = insert(ctx, tx, p.Table.Name, p)
		}
	default:
		return fmt.Errorf("unknown load mode %s", p.Mode)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// replaceTable fills a new table and swaps it in; SQLite's DDL is
// transactional, so readers see the old table or the new one.
func replaceTable(ctx context.Context, tx *sql.Tx, p *destination.Plan) error {
	t := p.Table
	tmp := fmt.Sprintf("%s_tmp_%d", t.Name, time.Now().UnixNano())
	if err := createTable(ctx, tx, tmp, t); err != nil {
		return err
	}
	if err := insert(ctx, tx, tmp, p); err != nil {
		return err
	}
	if err := forgetKeys(ctx, tx, t.Name); err != nil {
		return err
	}
	if err := recordKeys(ctx, tx, t); err != nil {
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

// insert writes the plan's groups into table with multi-row statements,
// each prepared once per shape; when upserting, a row whose key exists
// updates the columns its group carries.
func insert(ctx context.Context, tx *sql.Tx, table string, p *destination.Plan) error {
	for _, g := range p.Groups {
		if len(g.Rows) == 0 {
			continue
		}
		perStmt := min(maxRowsPerStmt, maxVars/len(g.Columns), len(g.Rows))
		stmt, err := tx.PrepareContext(ctx, insertSQL(table, p, g, perStmt))
		if err != nil {
			return err
		}
		args := make([]any, 0, perStmt*len(g.Columns))
		rows := g.Rows
		for len(rows) > 0 {
			n := min(perStmt, len(rows))
			args = args[:0]
			for _, r := range rows[:n] {
				for _, c := range g.Columns {
					v, err := value(p.Rows[r][c])
					if err != nil {
						stmt.Close()
						return fmt.Errorf("row %d, column %s: %w", r, p.Table.Columns[c].Name, err)
					}
					args = append(args, v)
				}
			}
			if n == perStmt {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, insertSQL(table, p, g, n), args...)
			}
			if err != nil {
				stmt.Close()
				return err
			}
			rows = rows[n:]
		}
		stmt.Close()
	}
	return nil
}

func insertSQL(table string, p *destination.Plan, g destination.Group, n int) string {
	cols := make([]string, len(g.Columns))
	for i, c := range g.Columns {
		cols[i] = p.Table.Columns[c].Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quote(table), quoteAll(cols))
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if !p.Upsert() {
		return b.String()
	}
	var set, keys []string
	for _, c := range g.Columns {
		if !p.IsKey(c) {
			name := quote(p.Table.Columns[c].Name)
			set = append(set, fmt.Sprintf("%s = excluded.%s", name, name))
		}
	}
	for _, k := range p.Key {
		keys = append(keys, p.Table.Columns[k].Name)
	}
	fmt.Fprintf(&b, " ON CONFLICT (%s) DO ", quoteAll(keys))
	if len(set) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(set, ", "))
	}
	return b.String()
}

// value turns one of the plan's values into what SQLite stores; Absent is
// NULL.
func value(v schema.Value) (any, error) {
	if v.IsAbsent() || v.IsNull() {
		return nil, nil
	}
	switch v.Type {
	case schema.Bool:
		if v.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case schema.Int:
		return v.Int(), nil
	case schema.Float:
		// SQLite would store NaN as NULL: refuse rather than lose it.
		f := v.Float()
		if math.IsNaN(f) {
			return nil, fmt.Errorf("NaN cannot be stored: %w", destination.ErrData)
		}
		return f, nil
	case schema.Timestamp:
		// Truncated: rounding could carry 23:59:59.9999995 into the next
		// day, or year.
		return v.Time().UTC().Truncate(time.Microsecond).Format(timeLayout), nil
	case schema.Text, schema.JSON:
		return v.Str(), nil
	}
	return nil, fmt.Errorf("unsupported value of type %s: %w", v.Type, destination.ErrData)
}
