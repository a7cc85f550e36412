// Package destination defines what bulker's loaders need from a database
// and the configuration shared by every driver. Drivers live in the
// sub-packages; cmd/bulker maps each destination type to its constructor.
package destination

import (
	"context"
	"errors"

	"github.com/streamforge/streamforge/internal/schema"
)

// Destination is a SQL database bulker loads into. Implementations are safe
// for concurrent use.
type Destination interface {
	// Dialect gives the identifier rules schema sanitises names with.
	Dialect() schema.Dialect
	// Describe returns the stored table; ok is false when it does not exist.
	Describe(ctx context.Context, table string) (t schema.Table, ok bool, err error)
	// EnsureTable creates the table or adds the columns it lacks (additive
	// only, safe when another process adds the same column at once) and
	// returns the table as stored.
	EnsureTable(ctx context.Context, want schema.Table) (schema.Table, error)
	// Load writes the batch in one transaction: all rows or none.
	Load(ctx context.Context, b schema.Batch, o LoadOptions) error
	Close() error
}

// Mode is how Load treats rows already in the table.
type Mode uint8

// Load modes.
const (
	// Append inserts the rows; with Dedup it upserts on the primary key,
	// keeping the last row of the batch per key.
	Append Mode = iota
	// ReplaceTable swaps the table for one holding exactly the batch.
	ReplaceTable
	// ReplacePartition deletes the rows whose PartitionColumn equals
	// Partition and inserts the batch, in one transaction.
	ReplacePartition
)

// PartitionColumn is the column ReplacePartition keys on; bulker sets it on
// every row of a /bulk request with a partition.
const PartitionColumn = "__partition_id"

// LoadOptions tune one Load.
type LoadOptions struct {
	Mode      Mode
	Dedup     bool   // upsert on the table's primary key
	Partition string // for ReplacePartition
}

// ErrData marks an error caused by the rows themselves (a value the column
// rejects, a constraint): retrying the same rows cannot help, so they go to
// the dead-letter topic. Any other error is treated as an outage and retried.
var ErrData = errors.New("data rejected by destination")
