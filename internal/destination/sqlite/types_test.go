package sqlite

import (
	"regexp"
	"testing"

	"github.com/streamforge/streamforge/internal/schema"
)

func TestDataType(t *testing.T) {
	for declared, want := range map[string]schema.DataType{
		"BOOLEAN": schema.Bool, "bool": schema.Bool,
		"INTEGER": schema.Int, "BIGINT": schema.Int, "int8": schema.Int,
		"REAL": schema.Float, "double precision": schema.Float, "FLOAT": schema.Float, "numeric(10,2)": schema.Float,
		"TIMESTAMP": schema.Timestamp, "datetime": schema.Timestamp, "date": schema.Timestamp, "timestamptz": schema.Timestamp,
		"TEXT": schema.Text, "varchar(4)": schema.Text, "": schema.Text, "BLOB": schema.Text,
		"JSON": schema.JSON, "jsonb": schema.JSON,
	} {
		if got := dataType(declared); got != want {
			t.Errorf("dataType(%q) = %s, want %s", declared, got, want)
		}
	}
}

var safeHint = regexp.MustCompile(`^[A-Za-z0-9_ (),]*$`)

// Whatever a type hint says, what reaches the DDL cannot end the column
// definition early.
func FuzzColumnType(f *testing.F) {
	for _, s := range []string{"varchar(4)", "numeric(10, 2)", "double precision", "int); drop table x", "text default 'x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hint string) {
		typ, err := columnType(schema.Column{Name: "c", Type: schema.Text, SQLType: hint})
		if err != nil {
			return
		}
		if !safeHint.MatchString(typ) || len(typ) > 100 {
			t.Fatalf("hint %q accepted as %q", hint, typ)
		}
	})
}
