package destination

import (
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/schema"
)

// Helpers for drivers that load with multi-row INSERT statements. Column
// names compare without case, as MySQL and SQLite compare them.

// RowSet is rows that carry the same columns.
type RowSet struct {
	Cols []int   // indexes into the table's columns
	Rows [][]any // one value per entry of Cols
}

// PrepareRows checks b against o and turns its rows into the sets a load
// inserts: each value but Absent converted by value, and with
// o.Dedup the rows merged per primary key and grouped (see groupRows).
func PrepareRows(b schema.Batch, o LoadOptions, value func(any) (any, error)) ([]RowSet, error) {
	t := b.Table
	key, err := dedupKey(t, o.Dedup)
	if err != nil {
		return nil, err
	}
	rows, err := convertRows(t, b.Rows, value)
	if err != nil {
		return nil, err
	}
	if o.Mode == ReplacePartition {
		if _, ok := FindColumn(t, PartitionColumn); !ok {
			return nil, fmt.Errorf("replacing a partition needs column %s", PartitionColumn)
		}
	}
	return groupRows(rows, len(t.Columns), key, o.Dedup), nil
}

// groupRows prepares a batch's rows, already converted to driver values,
// for insertion. Without dedup there is one set with every column and
// Absent becomes NULL (in place). With dedup the rows are merged per key
// (MergeByKey) and grouped by the columns they carry, so that an upsert only
// overwrites those and keeps the stored value of the others. Sets keep the
// order in which their first row appeared.
func groupRows(rows [][]any, ncols int, key []int, dedup bool) []RowSet {
	if !dedup {
		all := make([]int, ncols)
		for i := range all {
			all[i] = i
		}
		for _, r := range rows {
			for i, v := range r {
				if v == schema.Absent {
					r[i] = nil
				}
			}
		}
		return []RowSet{{Cols: all, Rows: rows}}
	}
	merged := MergeByKey(rows, key)
	var sets []RowSet
	byMask := map[string]int{}
	mask := make([]byte, ncols)
	for _, r := range merged {
		var cols []int
		for i, v := range r {
			mask[i] = '1'
			if v == schema.Absent {
				mask[i] = '0'
				continue
			}
			cols = append(cols, i)
		}
		at, seen := byMask[string(mask)]
		if !seen {
			at = len(sets)
			byMask[string(mask)] = at
			sets = append(sets, RowSet{Cols: cols})
		}
		vals := make([]any, len(cols))
		for j, i := range cols {
			vals[j] = r[i]
		}
		sets[at].Rows = append(sets[at].Rows, vals)
	}
	return sets
}

// dedupKey returns the indexes in t.Columns of t's primary key, which a
// dedup load merges and upserts on; nil when dedup is off.
func dedupKey(t schema.Table, dedup bool) ([]int, error) {
	if !dedup {
		return nil, nil
	}
	if len(t.PrimaryKey) == 0 {
		return nil, fmt.Errorf("deduplication needs a primary key on %s", t.Name)
	}
	idx := make([]int, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		idx[i] = -1
		for j, c := range t.Columns {
			if strings.EqualFold(c.Name, k) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("primary key column %s is not in the batch", k)
		}
	}
	return idx, nil
}

// convertRows turns a batch's values into what a driver sends, one value at
// a time with value, after checking that each row has a value per column.
// Absent stays as it is, for groupRows. Errors name the row and column.
// rows is not modified.
func convertRows(t schema.Table, rows [][]any, value func(any) (any, error)) ([][]any, error) {
	out := make([][]any, len(rows))
	for i, r := range rows {
		if len(r) != len(t.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(r), len(t.Columns))
		}
		o := make([]any, len(r))
		for j, v := range r {
			if v == schema.Absent {
				o[j] = v
				continue
			}
			var err error
			if o[j], err = value(v); err != nil {
				return nil, fmt.Errorf("row %d, column %s: %w", i, t.Columns[j].Name, err)
			}
		}
		out[i] = o
	}
	return out, nil
}

// FindColumn returns the column of t called name; an empty name finds none.
func FindColumn(t schema.Table, name string) (schema.Column, bool) {
	if name == "" {
		return schema.Column{}, false
	}
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return schema.Column{}, false
}

// SameKey tells whether two primary keys name the same columns in the same
// order.
func SameKey(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// ContainsName tells whether names holds name.
func ContainsName(names []string, name string) bool {
	for _, v := range names {
		if strings.EqualFold(v, name) {
			return true
		}
	}
	return false
}
