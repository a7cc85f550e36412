package destination

import (
	"strings"

	"github.com/streamforge/streamforge/internal/schema"
)

// Name helpers for drivers of databases that compare column names without
// case, as MySQL and SQLite do.

// FindColumn returns the column of t called name (see ColumnIndex); an
// empty name finds none.
func FindColumn(t schema.Table, name string) (schema.Column, bool) {
	if name == "" {
		return schema.Column{}, false
	}
	if i := ColumnIndex(t, name); i >= 0 {
		return t.Columns[i], true
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
