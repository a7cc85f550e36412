package destination

import (
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/schema"
)

// LoadMode is how a load treats the rows already in the table.
type LoadMode uint8

// Load modes.
const (
	// Append inserts the rows; with Upsert it updates rows whose primary
	// key exists instead.
	Append LoadMode = iota
	// ReplaceTable swaps the table for one holding exactly the rows.
	ReplaceTable
	// ReplacePartition deletes the rows whose PartitionColumn equals
	// Plan.Partition and inserts the rows, in one transaction.
	ReplacePartition
)

func (m LoadMode) String() string {
	switch m {
	case Append:
		return "append"
	case ReplaceTable:
		return "replace_table"
	case ReplacePartition:
		return "replace_partition"
	}
	return fmt.Sprintf("LoadMode(%d)", uint8(m))
}

// PartitionColumn is the column ReplacePartition keys on; bulker sets it on
// every row of a /bulk request with a partition.
const PartitionColumn = "__partition_id"

// LoadOptions say how NewPlan loads a batch.
type LoadOptions struct {
	Mode LoadMode
	// Upsert updates the rows whose primary key exists, keeping the last
	// row of the batch per key, instead of inserting a duplicate.
	Upsert    bool
	Partition string // for ReplacePartition
}

// Plan is one load, worked out once for every driver: a driver renders it
// in its dialect and runs it in one transaction.
type Plan struct {
	// Table is the table as stored, each column with its stored SQLType;
	// for ReplaceTable, the table to create.
	Table schema.Table
	// Rows hold one value per column of Table: a value of the column's
	// type, SQL NULL, or Absent (the event lacks the key). With Upsert
	// they are merged per key.
	Rows [][]schema.Value
	// Groups partition Rows by the columns they carry (see NewPlan).
	Groups []Group
	// Key holds the indexes in Table.Columns of the primary key to upsert
	// on; nil unless upserting.
	Key       []int
	Mode      LoadMode
	Partition string
	// Encoded holds rows an Encoder encoded for Table, in order, loaded
	// before Rows; EncodedRows is how many. Only an Append without Upsert
	// has them, and only for a driver that is an Encoder.
	Encoded     [][]byte
	EncodedRows int
}

// Len is the number of rows to load, encoded or not.
func (p *Plan) Len() int { return p.EncodedRows + len(p.Rows) }

// Group is rows that carry the same columns: each group is inserted by a
// statement naming exactly its columns.
type Group struct {
	Columns []int // indexes into Plan.Table.Columns
	Rows    []int // indexes into Plan.Rows
}

// Upsert reports whether rows update existing rows of the same key.
func (p *Plan) Upsert() bool { return len(p.Key) > 0 }

// NewPlan plans the load of b. Without Upsert there is one group of every
// column, and an Absent value is written as NULL. With Upsert, rows that
// share a primary key are merged (see MergeByKey) and grouped by the
// columns they carry, so that an upsert overwrites only those and keeps
// the stored value of the others; groups keep the order in which their
// first row appeared.
func NewPlan(b schema.Batch, o LoadOptions) (*Plan, error) {
	p := &Plan{Table: b.Table, Rows: b.Rows, Mode: o.Mode, Partition: o.Partition}
	ncols := len(b.Table.Columns)
	for r, row := range b.Rows {
		if len(row) != ncols {
			return nil, fmt.Errorf("planning %s: row %d has %d values for %d columns", b.Table.Name, r, len(row), ncols)
		}
	}
	if o.Mode == ReplacePartition && ColumnIndex(b.Table, PartitionColumn) < 0 {
		return nil, fmt.Errorf("planning %s: replacing a partition needs column %s", b.Table.Name, PartitionColumn)
	}
	if !o.Upsert {
		all := Group{Columns: make([]int, ncols), Rows: make([]int, len(p.Rows))}
		for c := range all.Columns {
			all.Columns[c] = c
		}
		for r := range all.Rows {
			all.Rows[r] = r
		}
		p.Groups = []Group{all}
		return p, nil
	}
	if len(b.Table.PrimaryKey) == 0 {
		return nil, fmt.Errorf("planning %s: upserting needs a primary key", b.Table.Name)
	}
	for _, k := range b.Table.PrimaryKey {
		i := ColumnIndex(b.Table, k)
		if i < 0 {
			return nil, fmt.Errorf("planning %s: primary key column %s is not in the table", b.Table.Name, k)
		}
		p.Key = append(p.Key, i)
	}
	p.Rows = MergeByKey(p.Rows, p.Key)
	index := map[string]int{}
	sig := make([]byte, ncols)
	for r, row := range p.Rows {
		for c, v := range row {
			sig[c] = '1'
			if v.IsAbsent() {
				sig[c] = '0'
			}
		}
		g, ok := index[string(sig)]
		if !ok {
			g = len(p.Groups)
			index[string(sig)] = g
			var present []int
			for c := range ncols {
				if sig[c] == '1' {
					present = append(present, c)
				}
			}
			p.Groups = append(p.Groups, Group{Columns: present})
		}
		p.Groups[g].Rows = append(p.Groups[g].Rows, r)
	}
	return p, nil
}

// ColumnIndex returns the index of t's column called name, or -1. An exact
// match wins; otherwise names compare without case, as MySQL and SQLite
// compare them.
func ColumnIndex(t schema.Table, name string) int {
	folded := -1
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
		if folded < 0 && strings.EqualFold(c.Name, name) {
			folded = i
		}
	}
	return folded
}

// IsKey reports whether column c of the plan's table is part of the key
// it upserts on.
func (p *Plan) IsKey(c int) bool {
	for _, k := range p.Key {
		if k == c {
			return true
		}
	}
	return false
}
