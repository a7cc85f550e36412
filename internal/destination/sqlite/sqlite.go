// Package sqlite is bulker's SQLite destination (modernc.org/sqlite, no cgo):
// the embedded default that needs no server.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// busyTimeoutMS bounds how long a statement waits for another process that
// holds the write lock (a user's sqlite3 shell, say) before it fails.
const busyTimeoutMS = 10000

// DB is one SQLite database file.
type DB struct {
	db   *sql.DB
	path string
	log  *slog.Logger
}

var _ destination.Driver = (*DB)(nil)

// Open is New as a destination.Factory.
func Open(ctx context.Context, c destination.Config, log *slog.Logger) (destination.Driver, error) {
	return New(ctx, c, log)
}

// New opens (creating it and its directory if needed) the database file
// named by c.Credentials.Database.
func New(ctx context.Context, c destination.Config, log *slog.Logger) (*DB, error) {
	path := c.Credentials.Database
	if path == "" {
		return nil, fmt.Errorf("destination %s: credentials.database (the SQLite file) is required", c.ID)
	}
	if c.Credentials.SSLMode != "" {
		// A security setting that cannot apply must not pass for applied.
		return nil, fmt.Errorf("destination %s: credentials.sslMode does not apply to a SQLite file", c.ID)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("destination %s: creating directory for %s: %w", c.ID, path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: bulker commits Kafka offsets after the load, so a committed
	// load must survive a power cut, not only a crash of bulker.
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	// The file: form lets any path through: SQLite decodes %XX in it.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("destination %s: opening %s: %w", c.ID, path, err)
	}
	// One connection: SQLite has a single writer anyway, and sharing it
	// serialises loads instead of failing them with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("destination %s: opening %s: %w", c.ID, path, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(destination.ColumnsTable)+
		" (table_name TEXT NOT NULL, column_name TEXT NOT NULL COLLATE NOCASE, event_key TEXT NOT NULL, PRIMARY KEY (table_name, column_name))"); err != nil {
		db.Close()
		return nil, fmt.Errorf("destination %s: creating %s in %s: %w", c.ID, destination.ColumnsTable, path, err)
	}
	return &DB{db: db, path: path, log: log.With("destination", c.ID, "driver", "sqlite")}, nil
}

// SQL returns the underlying pool, for tests and read-back.
func (d *DB) SQL() *sql.DB { return d.db }

// Dialect implements destination.Driver. SQLite folds identifiers'
// case when comparing, so bulker stores them in lower case.
func (d *DB) Dialect() schema.Dialect {
	return schema.Dialect{Name: "sqlite", MaxIdentLen: 1024, Lowercase: true, FoldsNames: true, MaxColumns: 2000}
}

// Close implements destination.Driver.
func (d *DB) Close() error { return d.db.Close() }

// Describe implements destination.Driver.
func (d *DB) Describe(ctx context.Context, table string) (schema.Table, bool, error) {
	t, ok, err := describe(ctx, d.db, table)
	if err != nil {
		return t, false, d.classify(fmt.Errorf("describing table %s: %w", table, err))
	}
	return t, ok, nil
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func describe(ctx context.Context, q querier, table string) (schema.Table, bool, error) {
	t := schema.Table{Name: table}
	rows, err := q.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return t, false, err
	}
	defer rows.Close()
	var pk []struct {
		name string
		pos  int
	}
	for rows.Next() {
		var name, typ string
		var pos int
		if err := rows.Scan(&name, &typ, &pos); err != nil {
			return t, false, err
		}
		t.Columns = append(t.Columns, schema.Column{Name: name, Type: dataType(typ), SQLType: typ})
		if pos > 0 {
			pk = append(pk, struct {
				name string
				pos  int
			}{name, pos})
		}
	}
	if err := rows.Err(); err != nil {
		return t, false, err
	}
	if len(t.Columns) == 0 {
		return t, false, nil
	}
	t.PrimaryKey = make([]string, len(pk))
	for _, k := range pk {
		t.PrimaryKey[k.pos-1] = k.name
	}
	if err := readKeys(ctx, q, &t); err != nil {
		return t, false, err
	}
	// The timestamp column is the one our index covers.
	err = q.QueryRowContext(ctx, `SELECT name FROM pragma_index_info(?)`, indexName(table)).Scan(&t.TimestampColumn)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return t, false, err
	}
	return t, true, nil
}
