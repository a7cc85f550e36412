package mysql

import (
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/conformance"
	"github.com/streamforge/streamforge/internal/schema"
)

func TestConformance(t *testing.T) {
	c := testConfig(t)
	conformance.Run(t, func(t *testing.T) destination.Driver { return openConfig(t, c) }, conformance.Spec{
		DB:    openConfig(t, c).SQL(),
		Table: quote,
		Quote: quote,
		SQLTypes: map[schema.DataType]string{
			schema.Bool: "tinyint(1)", schema.Int: "bigint(20)", schema.Float: "double",
			schema.Timestamp: "datetime(6)", schema.Text: "longtext", schema.JSON: "json",
		},
		Hints: map[string]schema.Column{
			"varchar(4)": {Type: schema.Text, SQLType: "varchar(4)"},
			"json":       {Type: schema.JSON, SQLType: "json"},
		},
		// InnoDB's row size limit; wider events overflow into _unmapped_data.
		WideColumns: 170, // text columns within InnoDB's row size
	})
}
