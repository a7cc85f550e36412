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
		{"append", schema.Batch{Table: table, Rows: [][]any{{int64(1), a}, {int64(1), "x"}}}, LoadOptions{},
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), nil}, {int64(1), "x"}}}}, ""},
		{"dedup", schema.Batch{Table: table, Rows: [][]any{{int64(1), "x"}, {int64(1), a}, {int64(2), a}}}, LoadOptions{Dedup: true},
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "x"}}}, {Cols: []int{0}, Rows: [][]any{{int64(2)}}}}, ""},
		{"replace partition", schema.Batch{Table: partitioned, Rows: [][]any{{int64(1), "x", "p"}}}, LoadOptions{Mode: ReplacePartition, Partition: "p"},
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), "x", "p"}}}}, ""},
		{"replace partition without the column", schema.Batch{Table: table, Rows: [][]any{{int64(1), "x"}}}, LoadOptions{Mode: ReplacePartition},
			nil, "replacing a partition needs column " + PartitionColumn},
		{"bad value reported first", schema.Batch{Table: table, Rows: [][]any{{int64(1), "NaN"}}}, LoadOptions{Mode: ReplacePartition},
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
		dedup bool
		want  []RowSet
	}{
		{"append: one set, absent is null", [][]any{{int64(1), a, "x"}, {int64(2), "b", a}}, 3, nil, false,
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), nil, "x"}, {int64(2), "b", nil}}}}},
		{"append keeps repeated keys", [][]any{{int64(1), "a"}, {int64(1), "b"}}, 2, nil, false,
			[]RowSet{{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "a"}, {int64(1), "b"}}}}},
		{"append: empty batch", nil, 2, nil, false, []RowSet{{Cols: []int{0, 1}}}},
		{"dedup: grouped by present columns, in order of appearance",
			[][]any{{int64(1), "a", a}, {int64(2), a, "y"}, {int64(3), "c", a}, {int64(4), nil, "z"}}, 3, []int{0}, true,
			[]RowSet{
				{Cols: []int{0, 1}, Rows: [][]any{{int64(1), "a"}, {int64(3), "c"}}},
				{Cols: []int{0, 2}, Rows: [][]any{{int64(2), "y"}}},
				{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(4), nil, "z"}}},
			}},
		{"dedup: merged before grouping", [][]any{{int64(1), "a", a}, {int64(1), a, "y"}}, 3, []int{0}, true,
			[]RowSet{{Cols: []int{0, 1, 2}, Rows: [][]any{{int64(1), "a", "y"}}}}},
		{"dedup: empty batch", nil, 3, []int{0}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupRows(tt.rows, tt.ncols, tt.key, tt.dedup); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("groupRows = %v, want %v", got, tt.want)
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

func TestConvertRows(t *testing.T) {
	table := schema.Table{Columns: []schema.Column{{Name: "a"}, {Name: "b"}}}
	errBad := errors.New("bad value")
	double := func(v any) (any, error) {
		if n, ok := v.(int64); ok {
			return 2 * n, nil
		}
		return nil, errBad
	}
	tests := []struct {
		name    string
		rows    [][]any
		want    [][]any
		wantErr string
	}{
		{"converted", [][]any{{int64(1), int64(2)}, {int64(3), int64(4)}}, [][]any{{int64(2), int64(4)}, {int64(6), int64(8)}}, ""},
		{"empty", nil, [][]any{}, ""},
		{"absent kept", [][]any{{schema.Absent, int64(1)}}, [][]any{{schema.Absent, int64(2)}}, ""},
		{"short row", [][]any{{int64(1), int64(2)}, {int64(3)}}, nil, "row 1 has 1 values for 2 columns"},
		{"bad value", [][]any{{int64(1), "x"}}, nil, "row 0, column b: bad value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertRows(table, tt.rows, double)
			if errMsg(err) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("convertRows = %v, %v; want %v, %q", got, err, tt.want, tt.wantErr)
			}
			if err != nil && tt.name == "bad value" && !errors.Is(err, errBad) {
				t.Errorf("error %v does not wrap the value's error", err)
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
