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
		{"unknown keys are named, nested too", `{"type":"postgres","name":"x","options":{"mode":"batch","schemaFreeze":true,"omitNils":false},"credentials":{"database":"d","tlsCert":"c"}}`,
			"", []string{"credentials.tlsCert", "name", "options.omitNils", "options.schemaFreeze"}},
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
