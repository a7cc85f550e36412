package mysql

import (
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/schema"
)

// rowSet is rows that carry the same columns.
type rowSet struct {
	cols []int   // indexes into the batch's columns
	rows [][]any // one value per entry of cols
}

// shape prepares a batch's rows, already converted to driver values, for
// insertion. Without dedup there is one set with every column and Absent
// becomes NULL. With dedup the rows are merged per primary key in batch
// order — a later value wins, an Absent one keeps the earlier value — and
// grouped by the columns they carry, so that an upsert only overwrites
// those and keeps the stored value of the others.
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
	var merged [][]any
	byKey := make(map[string]int, len(rows))
	var key strings.Builder
	for _, r := range rows {
		key.Reset()
		for _, i := range pk {
			fmt.Fprintf(&key, "%T\x00%v\x00", r[i], r[i])
		}
		at, seen := byKey[key.String()]
		if !seen {
			byKey[key.String()] = len(merged)
			merged = append(merged, append([]any(nil), r...))
			continue
		}
		for i, v := range r {
			if v != schema.Absent {
				merged[at][i] = v
			}
		}
	}
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
