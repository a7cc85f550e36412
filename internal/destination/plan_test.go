package destination

import (
	"reflect"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

func TestNewPlan(t *testing.T) {
	table := schema.Table{Name: "t", Columns: []schema.Column{{Name: "id"}, {Name: "v"}, {Name: "w"}}, PrimaryKey: []string{"id"}}
	partitioned := table
	partitioned.Columns = append(partitioned.Columns, schema.Column{Name: PartitionColumn})
	a := schema.Absent
	tests := []struct {
		name       string
		batch      schema.Batch
		opts       LoadOptions
		wantGroups []Group
		wantRows   [][]any // after merging; nil means Absent
		wantKey    []int
		wantErr    string
	}{
		{"append: one group of every column, repeated keys kept",
			schema.Batch{Table: table, Rows: schematest.Rows([][]any{{1, a, "x"}, {1, "b", a}})}, LoadOptions{},
			[]Group{{Columns: []int{0, 1, 2}, Rows: []int{0, 1}}}, [][]any{{int64(1), nil, "x"}, {int64(1), "b", nil}}, nil, ""},
		{"append: empty batch",
			schema.Batch{Table: table}, LoadOptions{},
			[]Group{{Columns: []int{0, 1, 2}, Rows: []int{}}}, [][]any{}, nil, ""},
		{"upsert: grouped by present columns, in order of appearance",
			schema.Batch{Table: table, Rows: schematest.Rows([][]any{{1, "a", a}, {2, a, "y"}, {3, "c", a}, {4, nil, "z"}})}, LoadOptions{Upsert: true},
			[]Group{{Columns: []int{0, 1}, Rows: []int{0, 2}}, {Columns: []int{0, 2}, Rows: []int{1}}, {Columns: []int{0, 1, 2}, Rows: []int{3}}},
			[][]any{{int64(1), "a", nil}, {int64(2), nil, "y"}, {int64(3), "c", nil}, {int64(4), nil, "z"}}, []int{0}, ""},
		{"upsert: merged per key before grouping",
			schema.Batch{Table: table, Rows: schematest.Rows([][]any{{1, "a", a}, {1, a, "y"}})}, LoadOptions{Upsert: true},
			[]Group{{Columns: []int{0, 1, 2}, Rows: []int{0}}}, [][]any{{int64(1), "a", "y"}}, []int{0}, ""},
		{"upsert: key found without case",
			schema.Batch{Table: schema.Table{Name: "t", Columns: table.Columns, PrimaryKey: []string{"ID"}}}, LoadOptions{Upsert: true},
			nil, [][]any{}, []int{0}, ""},
		{"replace partition",
			schema.Batch{Table: partitioned, Rows: schematest.Rows([][]any{{1, "x", "y", "p"}})}, LoadOptions{Mode: ReplacePartition, Partition: "p"},
			[]Group{{Columns: []int{0, 1, 2, 3}, Rows: []int{0}}}, [][]any{{int64(1), "x", "y", "p"}}, nil, ""},
		{"replace partition without the column",
			schema.Batch{Table: table}, LoadOptions{Mode: ReplacePartition, Partition: "p"},
			nil, nil, nil, "planning t: replacing a partition needs column " + PartitionColumn},
		{"short row",
			schema.Batch{Table: table, Rows: schematest.Rows([][]any{{1, "x", "y"}, {2}})}, LoadOptions{},
			nil, nil, nil, "planning t: row 1 has 1 values for 3 columns"},
		{"upsert without a key",
			schema.Batch{Table: schema.Table{Name: "t", Columns: table.Columns}}, LoadOptions{Upsert: true},
			nil, nil, nil, "planning t: upserting needs a primary key"},
		{"upsert on a key the table lacks",
			schema.Batch{Table: schema.Table{Name: "t", Columns: table.Columns, PrimaryKey: []string{"other"}}}, LoadOptions{Upsert: true},
			nil, nil, nil, "planning t: primary key column other is not in the table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.batch, tt.opts)
			if errMsg(err) != tt.wantErr {
				t.Fatalf("NewPlan error = %v, want %q", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(p.Groups, tt.wantGroups) || !reflect.DeepEqual(p.Key, tt.wantKey) {
				t.Errorf("groups %v key %v; want %v key %v", p.Groups, p.Key, tt.wantGroups, tt.wantKey)
			}
			if got := schematest.AnyRows(p.Rows); !reflect.DeepEqual(got, tt.wantRows) {
				t.Errorf("rows %v, want %v", got, tt.wantRows)
			}
			if p.Mode != tt.opts.Mode || p.Partition != tt.opts.Partition || p.Upsert() != tt.opts.Upsert {
				t.Errorf("plan %s %q upsert %v; want the options %+v", p.Mode, p.Partition, p.Upsert(), tt.opts)
			}
		})
	}
}

func TestColumnIndex(t *testing.T) {
	table := schema.Table{Columns: []schema.Column{{Name: "ID"}, {Name: "name"}, {Name: "Name"}}}
	for _, tt := range []struct {
		name string
		want int
	}{
		{"ID", 0}, {"id", 0}, {"Name", 2}, {"name", 1}, {"NAME", 1}, {"other", -1}, {"", -1},
	} {
		if got := ColumnIndex(table, tt.name); got != tt.want {
			t.Errorf("ColumnIndex(%q) = %d, want %d", tt.name, got, tt.want)
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
	if _, ok := FindColumn(schema.Table{Columns: []schema.Column{{Name: "x"}}}, ""); ok {
		t.Error("FindColumn found a column for the empty name")
	}
}

func errMsg(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
