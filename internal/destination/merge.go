package destination

import (
	"fmt"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/schema"
)

// MergeByKey folds rows that share a primary key into one row per key, as a
// dedup load needs before an upsert (a database rejects the same key twice
// in one statement). Later rows win column by column; a column Absent in a
// later row keeps the earlier row's value, so the result is the same whether
// two events of one key arrive in one batch or in two. key holds the indexes
// of the key columns. Rows keep the order in which each key first appeared;
// the input is not modified.
func MergeByKey(rows [][]schema.Value, key []int) [][]schema.Value {
	if len(key) == 0 || len(rows) < 2 {
		return rows
	}
	index := make(map[string]int, len(rows))
	out := make([][]schema.Value, 0, len(rows))
	var sb strings.Builder
	for _, row := range rows {
		sb.Reset()
		for _, k := range key {
			writeKey(&sb, row[k])
		}
		i, seen := index[sb.String()]
		if !seen {
			index[sb.String()] = len(out)
			out = append(out, row)
			continue
		}
		merged := append([]schema.Value(nil), out[i]...)
		for c, v := range row {
			if !v.IsAbsent() {
				merged[c] = v
			}
		}
		out[i] = merged
	}
	return out
}

// writeKey renders a key value unambiguously: type, length, value.
func writeKey(sb *strings.Builder, v schema.Value) {
	var s string
	switch v.Type {
	case schema.Null:
	case schema.Timestamp:
		s = v.Time().Format(time.RFC3339Nano)
	case schema.Text, schema.JSON:
		s = v.Str()
	default:
		s = fmt.Sprint(v.Any())
	}
	tag := int(v.Type)
	if v.IsAbsent() {
		tag = -1
	}
	fmt.Fprintf(sb, "%d:%d:%s|", tag, len(s), s)
}
