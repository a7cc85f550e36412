package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
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
	switch o.Mode {
	case destination.Append:
		return d.inTx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, t.Name, t, sets, o.Dedup) })
	case destination.ReplacePartition:
		return d.inTx(ctx, func(tx *sql.Tx) error {
			q := fmt.Sprintf("DELETE FROM %s WHERE %s = ?", quote(t.Name), quote(destination.PartitionColumn))
			if _, err := tx.ExecContext(ctx, q, o.Partition); err != nil {
				return err
			}
			return insert(ctx, tx, t.Name, t, sets, o.Dedup)
		})
	case destination.ReplaceTable:
		return d.replaceTable(ctx, t, sets)
	}
	return fmt.Errorf("unknown load mode %d", o.Mode)
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
func (d *DB) replaceTable(ctx context.Context, t schema.Table, sets []destination.RowSet) error {
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
	if err := d.inTx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, tmp, t, sets, false) }); err != nil {
		return err
	}
	_, exists, err := d.describe(ctx, t.Name)
	if err != nil {
		return err
	}
	if !exists {
		_, err = d.db.ExecContext(ctx, fmt.Sprintf("RENAME TABLE %s TO %s", quote(tmp), quote(t.Name)))
		return err
	}
	_, err = d.db.ExecContext(ctx, fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", quote(t.Name), quote(old), quote(tmp), quote(t.Name)))
	if err != nil {
		return err
	}
	if _, err := d.db.ExecContext(cleanup, "DROP TABLE IF EXISTS "+quote(old)); err != nil {
		d.log.WarnContext(ctx, "dropping replaced table", "table", old, "error", err)
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

// insert writes the row sets with multi-row INSERTs; with upsert a row
// whose key exists updates the columns its set carries.
func insert(ctx context.Context, tx *sql.Tx, table string, t schema.Table, sets []destination.RowSet, upsert bool) error {
	for _, s := range sets {
		names := make([]string, len(s.Cols))
		for i, c := range s.Cols {
			names[i] = t.Columns[c].Name
		}
		head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", quote(table), quoteAll(names))
		tail := upsertSQL(names, t.PrimaryKey, upsert)
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
		for _, r := range s.Rows {
			rs := rowSize(r)
			if n > 0 && (n == maxRows || size+rs > maxStmtBytes) {
				if err := flush(); err != nil {
					return err
				}
			}
			if n == 0 {
				q.WriteString(head)
			} else {
				q.WriteString(", ")
			}
			q.WriteString(row)
			args = append(args, r...)
			n, size = n+1, size+rs
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

func upsertSQL(cols, pk []string, upsert bool) string {
	if !upsert {
		return ""
	}
	var set []string
	for _, c := range cols {
		if !destination.ContainsName(pk, c) {
			set = append(set, fmt.Sprintf("%s = VALUES(%s)", quote(c), quote(c)))
		}
	}
	if len(set) == 0 {
		// Nothing to update: keep the stored row.
		set = append(set, fmt.Sprintf("%s = %s", quote(pk[0]), quote(pk[0])))
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

// value turns one of the batch's values into what the driver sends.
func value(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, string:
		return v, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v cannot be stored in a MySQL DOUBLE: %w", x, destination.ErrData)
		}
		return x, nil
	case time.Time:
		return x.UTC().Round(time.Microsecond), nil
	case json.RawMessage:
		return string(x), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T: %w", v, destination.ErrData)
}
