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
// inserts: with o.Dedup the rows merged per primary key and grouped (see
// groupRows), and each value but Absent converted by value.
func PrepareRows(b schema.Batch, o LoadOptions, value func(any) (any, error)) ([]RowSet, error) {
	t := b.Table
	key, err := dedupKey(t, o.Dedup)
	if err != nil {
		return nil, err
	}
	for i, r := range b.Rows {
		if len(r) != len(t.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(r), len(t.Columns))
		}
	}
	sets, err := groupRows(t, MergeByKey(b.Rows, key), o.Dedup, value)
	if err != nil {
		return nil, err
	}
	if o.Mode == ReplacePartition {
		if _, ok := FindColumn(t, PartitionColumn); !ok {
			return nil, fmt.Errorf("replacing a partition needs column %s", PartitionColumn)
		}
	}
	return sets, nil
}

// groupRows converts rows into driver values for insertion. Without dedup
// there is one set with every column and Absent becomes NULL. With dedup
// the rows, already merged per key, are grouped by the columns they carry,
// so that an upsert only overwrites those and keeps the stored value of the
// others. Sets keep the order in which their first row appeared. Errors
// name the row and column.
func groupRows(t schema.Table, rows [][]schema.Value, dedup bool, value func(any) (any, error)) ([]RowSet, error) {
	convert := func(r, c int) (any, error) {
		v, err := value(rows[r][c].Any())
		if err != nil {
			return nil, fmt.Errorf("row %d, column %s: %w", r, t.Columns[c].Name, err)
		}
		return v, nil
	}
	ncols := len(t.Columns)
	if !dedup {
		all := RowSet{Cols: make([]int, ncols), Rows: make([][]any, len(rows))}
		for i := range all.Cols {
			all.Cols[i] = i
		}
		for r, row := range rows {
			out := make([]any, ncols)
			for c, v := range row {
				if v.IsAbsent() {
					continue
				}
				var err error
				if out[c], err = convert(r, c); err != nil {
					return nil, err
				}
			}
			all.Rows[r] = out
		}
		return []RowSet{all}, nil
	}
	var sets []RowSet
	byMask := map[string]int{}
	mask := make([]byte, ncols)
	for r, row := range rows {
		var cols []int
		for i, v := range row {
			mask[i] = '1'
			if v.IsAbsent() {
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
		for j, c := range cols {
			var err error
			if vals[j], err = convert(r, c); err != nil {
				return nil, err
			}
		}
		sets[at].Rows = append(sets[at].Rows, vals)
	}
	return sets, nil
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
