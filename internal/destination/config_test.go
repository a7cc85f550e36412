package destination

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name        string
		json        string
		wantErr     string // empty: valid
		wantUnknown []string
	}{
		{"minimal", `{"type":"postgres"}`, "", nil},
		{"every known key", `{"id":"pg","type":"Postgres","options":{"mode":"stream","batchSize":5,"frequency":0.5,"primaryKey":"id","deduplicate":true,"timestamp":"at"},
			"credentials":{"host":"h","port":5432,"database":"d","defaultSchema":"s","username":"u","password":"p","sslMode":"verify-full","parameters":{"x":"y"}}}`, "", nil},
		{"unknown keys are named, nested too", `{"type":"postgres","name":"x","options":{"mode":"batch","discriminatorField":"d","toSameCase":false},"credentials":{"database":"d","tlsCert":"c"}}`,
			"", []string{"credentials.tlsCert", "name", "options.discriminatorField", "options.toSameCase"}},
		{"bad sslMode", `{"type":"postgres","credentials":{"sslMode":"always"}}`, `credentials.sslMode "always"`, nil},
		{"bad mode", `{"type":"postgres","options":{"mode":"sometimes"}}`, "options.mode", nil},
		{"no type", `{"options":{}}`, "type is required", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseJSON([]byte(tt.json), "pg")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "destination pg") {
					t.Fatalf("err = %v, want one naming destination pg and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Unknown, tt.wantUnknown) {
				t.Errorf("Unknown = %q, want %q", c.Unknown, tt.wantUnknown)
			}
		})
	}
}

// Options as Jitsu's UI writes them: numbers and booleans as strings, the
// primary key as a list, the timestamp under its Jitsu name.
func TestOptionsAsJitsuWritesThem(t *testing.T) {
	c, err := ParseJSON([]byte(`{"type":"postgres","options":{"mode":"batch","batchSize":"500","frequency":"0.5",
		"deduplicate":"true","primaryKey":["id","tenant"],"timestampColumn":"at","schemaFreeze":true,"maxColumnsCount":"100",
		"omitNils":"true","batchSizeBytes":1048576}}`), "pg")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Mode: Batch, BatchSize: 500, Frequency: 0.5, Deduplicate: true, PrimaryKey: "id,tenant", TimestampColumn: "at",
		SchemaFreeze: true, MaxColumnsCount: 100, OmitNils: true, BatchSizeBytes: 1 << 20}
	if c.Options != want || c.Options.TimestampKey() != "at" || len(c.Unknown) != 0 {
		t.Errorf("options %+v (unknown %v), want %+v", c.Options, c.Unknown, want)
	}
	if _, err := ParseJSON([]byte(`{"type":"postgres","options":{"batchSize":"many"}}`), "pg"); err == nil || !strings.Contains(err.Error(), "destination pg") {
		t.Errorf("a batch size that is no number: %v", err)
	}
}
