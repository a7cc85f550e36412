// Package destination is the contract between bulker and the SQL databases
// it loads into: the Driver interface a database implements, the Plan of one
// load that every driver receives, and a destination's configuration.
// Drivers live in the sub-packages and only speak their dialect; package
// sink owns the sequence that makes a table fit a batch and loads it.
package destination

import (
	"context"
	"errors"
	"log/slog"

	"github.com/streamforge/streamforge/internal/schema"
)

// Driver is one SQL database. Implementations are safe for concurrent use
// and keep no state about tables: the caller holds the stored shape.
type Driver interface {
	// Dialect gives the identifier rules schema sanitises names with.
	Dialect() schema.Dialect
	// Describe returns the stored table; ok is false when it does not exist.
	Describe(ctx context.Context, table string) (t schema.Table, ok bool, err error)
	// EnsureTable creates the table or adds the columns it lacks (additive
	// only, safe when another process adds the same column at once),
	// records the Key of each column of want that has one unless another
	// key is recorded for it (see ColumnsTable), and returns the table as
	// stored, with the recorded keys.
	EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error)
	// CheckType says why the database refuses a type hint as a column's
	// SQL type (refusal), or fails (err) when it cannot tell.
	CheckType(ctx context.Context, sqlType string) (refusal string, err error)
	// Write applies the plan in one transaction: all rows or none.
	Write(ctx context.Context, p *Plan) error
	Close() error
}

// Encoder is a Driver that can encode rows for Write ahead of the load, so
// that a loader does that work on every core while the batch before loads,
// and holds a batch as bytes the garbage collector does not scan.
type Encoder interface {
	// Encode appends rows, built for t (the table as stored, each column
	// with its SQLType), to buf in the form in which Write loads them for
	// an Append without Upsert (see Plan.Encoded), and reports whether it
	// did: it declines rows that Write would load another way, and then
	// returns buf unchanged. The rows are not used after Encode returns.
	Encode(buf []byte, t schema.Table, rows [][]schema.Value) ([]byte, bool)
}

// ColumnsTable is the table, in each destination's schema or database, where
// drivers record which event key each column holds — (table_name,
// column_name, event_key), the key as schema.KeyJSON writes it — so that a
// key keeps its column across batches and restarts. Describe returns the
// keys with the columns; a record of a column that no longer exists is
// ignored, and records are dropped with the table bulker replaces or
// creates anew.
const ColumnsTable = "_streamforge_columns"

// Factory opens a driver for a destination of one type. Opening must not
// fail because the database is down: that is an outage, reported by the
// first call that needs the database.
type Factory func(ctx context.Context, c Config, log *slog.Logger) (Driver, error)

// ErrData marks an error caused by the rows themselves (a value the column
// rejects, a constraint): retrying the same rows cannot help, so they go to
// the dead-letter topic. Any other error is treated as an outage and retried.
var ErrData = errors.New("data rejected by destination")
