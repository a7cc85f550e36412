package sqlite

import (
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// rowSet is rows that carry the same columns.
type rowSet struct {
	cols []int   // indexes into the batch's columns
	rows [][]any // one value per entry of cols
}

// shape prepares a batch's rows, already converted to driver values, for
// insertion. Without dedup there is one set with every column and Absent
// becomes NULL. With dedup the rows are merged per primary key
// (destination.MergeByKey) and grouped by the columns they carry, so that
// an upsert only overwrites those and keeps the stored value of the others.
func shape(rows [][]any, ncols int, pk []int, dedup bool) []rowSet {
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
		return []rowSet{{cols: all, rows: rows}}
	}
	merged := destination.MergeByKey(rows, pk)
	var sets []rowSet
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
			sets = append(sets, rowSet{cols: cols})
		}
		vals := make([]any, len(cols))
		for j, i := range cols {
			vals[j] = r[i]
		}
		sets[at].rows = append(sets[at].rows, vals)
	}
	return sets
}
