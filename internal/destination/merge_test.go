package destination

import (
	"reflect"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

func TestMergeByKey(t *testing.T) {
	a := schema.Absent
	tests := []struct {
		name string
		rows [][]any
		key  []int
		want [][]any
	}{
		{"no key", [][]any{{int64(1), "a"}, {int64(1), "b"}}, nil, [][]any{{int64(1), "a"}, {int64(1), "b"}}},
		{"distinct keys", [][]any{{int64(1), "a"}, {int64(2), "b"}}, []int{0}, [][]any{{int64(1), "a"}, {int64(2), "b"}}},
		{"last wins", [][]any{{int64(1), "a", "x"}, {int64(2), "b", "y"}, {int64(1), "c", nil}}, []int{0},
			[][]any{{int64(1), "c", nil}, {int64(2), "b", "y"}}},
		{"absent keeps earlier", [][]any{{int64(1), "a", "x"}, {int64(1), a, "z"}}, []int{0},
			[][]any{{int64(1), "a", "z"}}},
		{"composite key", [][]any{{"k", int64(1), "a"}, {"k", int64(2), "b"}, {"k", int64(1), "c"}}, []int{0, 1},
			[][]any{{"k", int64(1), "c"}, {"k", int64(2), "b"}}},
		{"types do not collide", [][]any{{"1", "a"}, {int64(1), "b"}}, []int{0}, [][]any{{"1", "a"}, {int64(1), "b"}}},
		{"separator in value", [][]any{{"a|", "b", "x"}, {"a", "|b", "y"}}, []int{0, 1}, [][]any{{"a|", "b", "x"}, {"a", "|b", "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeByKey(schematest.Rows(tt.rows), tt.key); !reflect.DeepEqual(got, schematest.Rows(tt.want)) {
				t.Errorf("MergeByKey = %v, want %v", got, tt.want)
			}
		})
	}
}
