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
	// only, safe when another process adds the same column at once) and
	// returns the table as stored.
	EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error)
	// Write applies the plan in one transaction: all rows or none.
	Write(ctx context.Context, p *Plan) error
	Close() error
}

// Factory opens a driver for a destination of one type. Opening must not
// fail because the database is down: that is an outage, reported by the
// first call that needs the database.
type Factory func(ctx context.Context, c Config, log *slog.Logger) (Driver, error)

// ErrData marks an error caused by the rows themselves (a value the column
// rejects, a constraint): retrying the same rows cannot help, so they go to
// the dead-letter topic. Any other error is treated as an outage and retried.
var ErrData = errors.New("data rejected by destination")
