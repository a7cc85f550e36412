package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

const (
	// maxPlaceholders is the protocol's limit per statement.
	maxPlaceholders = 65535
	// maxStmtBytes keeps statements well under max_allowed_packet (4 MiB
	// at least on MySQL 5.7, 16 MiB on MariaDB and 64 MiB on MySQL 8).
	maxStmtBytes = 2 << 20
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
	switch p.Mode {
	case destination.Append:
		return d.inTx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, p.Table.Name, p) })
	case destination.ReplacePartition:
		return d.inTx(ctx, func(tx *sql.Tx) error {
			q := fmt.Sprintf("DELETE FROM %s WHERE %s = ?", quote(p.Table.Name), quote(destination.PartitionColumn))
			if _, err := tx.ExecContext(ctx, q, p.Partition); err != nil {
				return err
			}
			return insert(ctx, tx, p.Table.Name, p)
		})
	case destination.ReplaceTable:
		return d.replaceTable(ctx, p)
	}
	return fmt.Errorf("unknown load mode %s", p.Mode)
}

func (d *DB) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// replaceTable loads a new table and swaps it in with one RENAME TABLE,
// which MySQL applies atomically: readers see the old table or the new one.
func (d *DB) replaceTable(ctx context.Context, p *destination.Plan) error {
	t := p.Table
	tmp, old := tempName(t.Name, "new"), tempName(t.Name, "old")
	q, err := createSQL(tmp, t)
	if err != nil {
		return err
	}
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return err
	}
	// DDL commits on its own: clean up after a failure even if ctx is done.
	cleanup := context.WithoutCancel(ctx)
	defer d.db.ExecContext(cleanup, "DROP TABLE IF EXISTS "+quote(tmp))
	if err := d.inTx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, tmp, p) }); err != nil {
		return err
	}
	_, exists, err := d.describe(ctx, t.Name)
	if err != nil {
		return err
	}
	if !exists {
		_, err = d.db.ExecContext(ctx, fmt.Sprintf("RENAME TABLE %s TO %s", quote(tmp), quote(t.Name)))
	} else {
		_, err = d.db.ExecContext(ctx, fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", quote(t.Name), quote(old), quote(tmp), quote(t.Name)))
	}
	if err != nil {
		return err
	}
	// After the swap, not atomically with it: MySQL commits each DDL.
	if err := d.forgetKeys(cleanup, t.Name); err != nil {
		return err
	}
	if err := d.recordKeys(cleanup, t); err != nil {
		return err
	}
	if exists {
		if _, err := d.db.ExecContext(cleanup, "DROP TABLE IF EXISTS "+quote(old)); err != nil {
			d.log.WarnContext(ctx, "dropping replaced table", "table", old, "err", err)
		}
	}
	return nil
}

// tempName is a fresh table name next to table, within 64 characters.
func tempName(table, tag string) string {
	var r [5]byte
	rand.Read(r[:])
	suffix := "_" + tag + "_" + hex.EncodeToString(r[:])
	runes := []rune(table)
	if n := 64 - len(suffix); len(runes) > n {
		runes = runes[:n]
	}
	return string(runes) + suffix
}

// insert writes the plan's groups into table with multi-row INSERTs; when
// upserting, a row whose key exists updates the columns its group carries.
func insert(ctx context.Context, tx *sql.Tx, table string, p *destination.Plan) error {
	for _, g := range p.Groups {
		if len(g.Rows) == 0 {
			continue
		}
		names := make([]string, len(g.Columns))
		for i, c := range g.Columns {
			names[i] = p.Table.Columns[c].Name
		}
		head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", quote(table), quoteAll(names))
		tail := upsertSQL(p, g)
		row := "(" + strings.Repeat("?, ", len(names)-1) + "?)"
		maxRows := maxPlaceholders / len(names)
		var args []any
		var q strings.Builder
		n, size := 0, 0
		flush := func() error {
			if n == 0 {
				return nil
			}
			q.WriteString(tail)
			_, err := tx.ExecContext(ctx, q.String(), args...)
			q.Reset()
			args, n, size = args[:0], 0, 0
			return err
		}
		units := make([]time.Duration, len(g.Columns))
		for i, c := range g.Columns {
			units[i] = timeUnit(p.Table.Columns[c].SQLType)
		}
		for _, r := range g.Rows {
			at := len(args)
			for i, c := range g.Columns {
				v, err := value(p.Rows[r][c], units[i])
				if err != nil {
					return fmt.Errorf("row %d, column %s: %w", r, p.Table.Columns[c].Name, err)
				}
				args = append(args, v)
			}
			rs := rowSize(args[at:])
			if n > 0 && (n == maxRows || size+rs > maxStmtBytes) {
				row := append([]any(nil), args[at:]...)
				args = args[:at]
				if err := flush(); err != nil {
					return err
				}
				args = append(args, row...)
			}
			if n == 0 {
				q.WriteString(head)
			} else {
				q.WriteString(", ")
			}
			q.WriteString(row)
			n, size = n+1, size+rs
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// upsertSQL renders the clause that updates the columns of g when the key
// exists; empty unless the plan upserts.
func upsertSQL(p *destination.Plan, g destination.Group) string {
	if !p.Upsert() {
		return ""
	}
	var set []string
	for _, c := range g.Columns {
		if !p.IsKey(c) {
			name := quote(p.Table.Columns[c].Name)
			set = append(set, fmt.Sprintf("%s = VALUES(%s)", name, name))
		}
	}
	if len(set) == 0 {
		// Nothing to update: keep the stored row.
		k := quote(p.Table.Columns[p.Key[0]].Name)
		set = append(set, fmt.Sprintf("%s = %s", k, k))
	}
	return " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
}

// rowSize estimates a row's share of the statement text: strings may
// double when escaped.
func rowSize(r []any) int {
	n := 0
	for _, v := range r {
		if s, ok := v.(string); ok {
			n += 2*len(s) + 3
		} else {
			n += 32
		}
	}
	return n
}

// timeUnit is the precision of a DATETIME or TIMESTAMP column, as
// COLUMN_TYPE shows it: seconds unless it says digits, as datetime(6). A
// value is truncated to it on our side: MySQL would round, possibly into
// the next second, day or year. Columns bulker creates are DATETIME(6).
func timeUnit(sqlType string) time.Duration {
	if sqlType == "" {
		return time.Microsecond
	}
	_, rest, ok := strings.Cut(sqlType, "(")
	if !ok {
		return time.Second
	}
	digits, _, _ := strings.Cut(rest, ")")
	p, err := strconv.Atoi(digits)
	if err != nil || p < 0 || p > 6 {
		return time.Microsecond
	}
	unit := time.Second
	for range p {
		unit /= 10
	}
	return unit
}

// value turns one of the plan's values into what the driver sends; Absent
// is NULL, a timestamp is truncated to unit.
func value(v schema.Value, unit time.Duration) (any, error) {
	if v.IsAbsent() || v.IsNull() {
		return nil, nil
	}
	switch v.Type {
	case schema.Bool:
		return v.Bool(), nil
	case schema.Int:
		return v.Int(), nil
	case schema.Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v cannot be stored in a MySQL DOUBLE: %w", f, destination.ErrData)
		}
		return f, nil
	case schema.Timestamp:
		return v.Time().UTC().Truncate(unit), nil
	case schema.Text, schema.JSON:
		return v.Str(), nil
	}
	return nil, fmt.Errorf("unsupported value of type %s: %w", v.Type, destination.ErrData)
}
