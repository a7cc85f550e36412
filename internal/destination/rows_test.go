package destination

import (
	"errors"
	"reflect"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
)

func TestPrepareRows(t *testing.T) {
	table := schema.Table{Name: "t", Columns: []schema.Column{{Name: "id"}, {Name: "v"}}, PrimaryKey: []string{"id"}}
	partitioned := table
	partitioned.Columns = append(partitioned.Columns, schema.Column{Name: PartitionColumn})
	errNaN := errors.New("not a number")
	value := func(v any) (any, error) {
		if v == "NaN" {
			return nil, errNaN
		}
		return v, nil
	}
	a := schema.Absent
	tests := []struct {
		name    string
		batch   schema.Batch
		opts    LoadOptions
		want    []RowSet
		wantErr string
	}{
		{"append", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), a}, {int64(1), "x"}})}, LoadOptions{},
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), nil}, {int64(1), "x"}}}}, ""},
		{"dedup", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), "x"}, {int64(1), a}, {int64(2), a}})}, LoadOptions{Dedup: true},
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "x"}}}, {Cols: []int{0}, Rows: [][]any{{int64(2)}}}}, ""},
		{"replace partition", schema.Batch{Table: partitioned, Rows: schema.Rows([][]any{{int64(1), "x", "p"}})}, LoadOptions{Mode: ReplacePartition, Partition: "p"},
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), "x", "p"}}}}, ""},
		{"replace partition without the column", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), "x"}})}, LoadOptions{Mode: ReplacePartition},
			nil, "replacing a partition needs column " + PartitionColumn},
		{"bad value reported first", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), "NaN"}})}, LoadOptions{Mode: ReplacePartition},
			nil, "row 0, column v: not a number"},
		{"short row", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), "x"}, {int64(2)}})}, LoadOptions{},
			nil, "row 1 has 1 values for 2 columns"},
		{"bad value in a merged row", schema.Batch{Table: table, Rows: schema.Rows([][]any{{int64(1), "x"}, {int64(1), "NaN"}})}, LoadOptions{Dedup: true},
			nil, "row 0, column v: not a number"},
		{"dedup without key", schema.Batch{Table: schema.Table{Name: "t", Columns: table.Columns}}, LoadOptions{Dedup: true},
			nil, "deduplication needs a primary key on t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PrepareRows(tt.batch, tt.opts, value)
			if errMsg(err) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PrepareRows = %v, %v; want %v, %q", got, err, tt.want, tt.wantErr)
			}
			if err != nil && tt.wantErr == "row 0, column v: not a number" && !errors.Is(err, errNaN) {
				t.Errorf("error %v does not wrap the value's error", err)
			}
		})
	}
}

func TestGroupRows(t *testing.T) {
	a := schema.Absent
	tests := []struct {
		name  string
		rows  [][]any
		ncols int
		key   []int
		want  []RowSet
	}{
		{"append: one set, absent is null", [][]any{{int64(1), a, "x"}, {int64(2), "b", a}}, 3, nil,
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), nil, "x"}, {int64(2), "b", nil}}}}},
		{"append keeps repeated keys", [][]any{{int64(1), "a"}, {int64(1), "b"}}, 2, nil,
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "a"}, {int64(1), "b"}}}}},
		{"append: empty batch", nil, 2, nil, []RowSet{{Cols: []int{0, 1}, Rows: [][]any{}}}},
		{"dedup: grouped by present columns, in order of appearance",
			[][]any{{int64(1), "a", a}, {int64(2), a, "y"}, {int64(3), "c", a}, {int64(4), nil, "z"}}, 3, []int{0},
			[]RowSet{
				{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "a"}, {int64(3), "c"}}},
				{Cols: []int{0, 2}, Rows: [][]any{{int64(2), "y"}}},
				{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(4), nil, "z"}}},
			}},
		{"dedup: merged before grouping", [][]any{{int64(1), "a", a}, {int64(1), a, "y"}}, 3, []int{0},
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), "a", "y"}}}}},
		{"dedup: empty batch", nil, 3, []int{0}, nil},
	}
	same := func(v any) (any, error) { return v, nil }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := schema.Table{Columns: make([]schema.Column, tt.ncols)}
			rows := MergeByKey(schema.Rows(tt.rows), tt.key)
			got, err := groupRows(table, rows, tt.key != nil, same)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("groupRows = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	cols := []schema.Column{{Name: "Tenant"}, {Name: "id"}, {Name: "v"}}
	tests := []struct {
		name    string
		table   schema.Table
		dedup   bool
		want    []int
		wantErr string
	}{
		{"dedup off", schema.Table{Name: "t", Columns: cols}, false, nil, ""},
		{"composite, any case", schema.Table{Name: "t", Columns: cols, PrimaryKey: []string{"ID", "tenant"}}, true, []int{1, 0}, ""},
		{"no key", schema.Table{Name: "t", Columns: cols}, true, nil, "deduplication needs a primary key on t"},
		{"key not in batch", schema.Table{Name: "t", Columns: cols, PrimaryKey: []string{"other"}}, true, nil, "primary key column other is not in the batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dedupKey(tt.table, tt.dedup)
			if errMsg(err) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("dedupKey = %v, %v; want %v, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFindColumn(t *testing.T) {
	table := schema.Table{Columns: []schema.Column{{Name: "ID", Type: schema.Int}, {Name: "name", Type: schema.Text}}}
	tests := []struct {
		name   string
		wantOK bool
		want   schema.DataType
	}{
		{"id", true, schema.Int},
		{"NAME", true, schema.Text},
		{"other", false, 0},
		{"", false, 0},
	}
	for _, tt := range tests {
		c, ok := FindColumn(table, tt.name)
		if ok != tt.wantOK || c.Type != tt.want {
			t.Errorf("FindColumn(%q) = %+v, %v; want type %s, %v", tt.name, c, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNameLists(t *testing.T) {
	tests := []struct {
		a, b []string
		same bool
	}{
		{nil, nil, true},
		{[]string{"id"}, []string{"ID"}, true},
		{[]string{"a", "b"}, []string{"b", "a"}, false},
		{[]string{"a"}, []string{"a", "b"}, false},
	}
	for _, tt := range tests {
		if got := SameKey(tt.a, tt.b); got != tt.same {
			t.Errorf("SameKey(%v, %v) = %v", tt.a, tt.b, got)
		}
	}
	for _, tt := range []struct {
		names []string
		name  string
		want  bool
	}{
		{[]string{"a", "Id"}, "ID", true},
		{[]string{"a"}, "b", false},
		{nil, "", false},
	} {
		if got := ContainsName(tt.names, tt.name); got != tt.want {
			t.Errorf("ContainsName(%v, %q) = %v", tt.names, tt.name, got)
		}
	}
}

func errMsg(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
