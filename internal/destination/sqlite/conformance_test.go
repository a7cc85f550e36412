package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/conformance"
	"github.com/streamforge/streamforge/internal/schema"
)

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conformance.db")
	conformance.Run(t, func(t *testing.T) destination.Driver { return open(t, path) }, conformance.Spec{
		DB:    open(t, path).SQL(),
		Table: quote,
		Quote: quote,
		SQLTypes: map[schema.DataType]string{
			schema.Bool: "BOOLEAN", schema.Int: "BIGINT", schema.Float: "REAL",
			schema.Timestamp: "TIMESTAMP", schema.Text: "TEXT", schema.JSON: "JSON",
		},
		Hints: map[string]schema.Column{
			"varchar(4)": {Type: schema.Text, SQLType: "varchar(4)"},
			"json":       {Type: schema.JSON, SQLType: "json"},
		},
	})
}
