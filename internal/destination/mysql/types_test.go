package mysql

import (
	"regexp"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
)

func TestTypeOf(t *testing.T) {
	for _, c := range []struct {
		dataType, colType string
		want              schema.DataType
	}{
		{"tinyint", "tinyint(1)", schema.Bool},
		{"tinyint", "tinyint(4)", schema.Int},
		{"bigint", "bigint(20)", schema.Int},
		{"int", "int(10) unsigned", schema.Int},
		{"double", "double", schema.Float},
		{"decimal", "decimal(10,2)", schema.Float},
		{"datetime", "datetime(6)", schema.Timestamp},
		{"timestamp", "timestamp", schema.Timestamp},
		{"json", "json", schema.JSON},
		{"longtext", "longtext", schema.Text},
		{"varchar", "varchar(255)", schema.Text},
		{"enum", "enum('a','b')", schema.Text},
	} {
		if got := typeOf(c.dataType, c.colType); got != c.want {
			t.Errorf("typeOf(%s, %s) = %s, want %s", c.dataType, c.colType, got, c.want)
		}
	}
}

func TestColumnType(t *testing.T) {
	for _, c := range []struct {
		col  schema.Column
		key  bool
		want string
	}{
		{schema.Column{Type: schema.Text}, false, "LONGTEXT"},
		{schema.Column{Type: schema.Text}, true, "VARCHAR(255)"},
		{schema.Column{Type: schema.Null}, false, "LONGTEXT"},
		{schema.Column{Type: schema.Int}, true, "BIGINT"},
		{schema.Column{Type: schema.Timestamp}, false, "DATETIME(6)"},
		{schema.Column{Type: schema.Text, SQLType: "VarChar(4)"}, false, "varchar(4)"},
		{schema.Column{Type: schema.Int, SQLType: "bigint  unsigned"}, false, "bigint unsigned"},
		{schema.Column{Type: schema.Float, SQLType: "double precision"}, false, "double precision"},
		{schema.Column{Type: schema.JSON, SQLType: "jsonb"}, false, "json"},
		{schema.Column{Type: schema.Timestamp, SQLType: "timestamptz"}, false, "datetime(6)"},
	} {
		got, err := columnType(c.col, c.key)
		if err != nil || got != c.want {
			t.Errorf("columnType(%+v, key %v) = %q, %v; want %q", c.col, c.key, got, err, c.want)
		}
	}
}

var safeHint = regexp.MustCompile(`^[A-Za-z0-9_ (),]*$`)

// Whatever a type hint says, what reaches the DDL cannot end the column
// definition early.
func FuzzColumnType(f *testing.F) {
	for _, s := range []string{"varchar(4)", "decimal(10, 2)", "bigint unsigned", "int); drop table x", "text default 'x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hint string) {
		typ, err := columnType(schema.Column{Name: "c", Type: schema.Text, SQLType: hint}, false)
		if err != nil {
			return
		}
		if !safeHint.MatchString(typ) || len(typ) > 100 {
			t.Fatalf("hint %q accepted as %q", hint, typ)
		}
	})
}
