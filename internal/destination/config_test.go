package destination

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name        string
		json        string
		wantErr     string // empty: valid
		wantUnknown []string
		// wantUnsupported: Jitsu's keys StreamForge does not implement.
		wantUnsupported []string
	}{
		{"minimal", `{"type":"postgres"}`, "", nil, nil},
		{"every known key", `{"id":"pg","type":"Postgres","options":{"mode":"stream","batchSize":5,"frequency":0.5,"primaryKey":"id","deduplicate":true,"timestamp":"at"},
			"credentials":{"host":"h","port":5432,"database":"d","defaultSchema":"s","username":"u","password":"p","sslMode":"verify-full","parameters":{"x":"y"}}}`, "", nil, nil},
		{"unknown keys are named, nested too", `{"type":"postgres","name":"x","options":{"mode":"batch","discriminatorField":"d","toSameCase":false},"credentials":{"database":"d","tlsCert":"c"}}`,
			"", []string{"credentials.tlsCert", "name"}, []string{"options.discriminatorField", "options.toSameCase"}},
		{"Jitsu's console keys pass quietly", `{"type":"postgres","usesBulker":true,"updatedAt":"2024-01-01T00:00:00Z","options":{"functions":[],"dataLayout":"segment"}}`,
			"", nil, nil},
		{"Jitsu's retry and partition options are known", `{"type":"postgres","options":{"retryBatchSize":"50","retryFrequency":2,"partitionId":"p1","deduplicateWindow":30}}`,
			"", nil, nil},
		{"a window of 0 days does not merge in Jitsu", `{"type":"postgres","options":{"primaryKey":"id","deduplicate":true,"deduplicateWindow":0}}`,
			"", nil, []string{"options.deduplicateWindow"}},
		{"negative retry frequency", `{"type":"postgres","options":{"retryFrequency":-1}}`, "retryFrequency", nil, nil},
		{"bad sslMode", `{"type":"postgres","credentials":{"sslMode":"always"}}`, `credentials.sslMode "always"`, nil, nil},
		{"bad mode", `{"type":"postgres","options":{"mode":"sometimes"}}`, "options.mode", nil, nil},
		{"no type", `{"options":{}}`, "type is required", nil, nil},
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
			if !reflect.DeepEqual(c.Unknown, tt.wantUnknown) || !reflect.DeepEqual(c.Unsupported, tt.wantUnsupported) {
				t.Errorf("Unknown = %q, Unsupported = %q, want %q, %q", c.Unknown, c.Unsupported, tt.wantUnknown, tt.wantUnsupported)
			}
		})
	}
}

// Options as Jitsu's UI writes them: numbers and booleans as strings, the
// primary key as a list, the timestamp under its Jitsu name.
func TestOptionsAsJitsuWritesThem(t *testing.T) {
	c, err := ParseJSON([]byte(`{"type":"postgres","options":{"mode":"batch","batchSize":"500","frequency":"0.5",
		"deduplicate":"true","primaryKey":["id","tenant"],"timestampColumn":"at","schemaFreeze":true,"maxColumnsCount":"100",
		"omitNils":"true","batchSizeBytes":1048576,"retryBatchSize":"50","retryFrequency":"2.5","partitionId":"p1"}}`), "pg")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Mode: Batch, BatchSize: 500, Frequency: 0.5, Deduplicate: true, PrimaryKey: "id,tenant", TimestampColumn: "at",
		SchemaFreeze: true, MaxColumnsCount: 100, OmitNils: true, BatchSizeBytes: 1 << 20, RetryBatchSize: 50, RetryFrequency: 2.5, PartitionID: "p1"}
	if c.Options != want || c.Options.TimestampKey() != "at" || len(c.Unknown) != 0 {
		t.Errorf("options %+v (unknown %v), want %+v", c.Options, c.Unknown, want)
	}
	if _, err := ParseJSON([]byte(`{"type":"postgres","options":{"batchSize":"many"}}`), "pg"); err == nil || !strings.Contains(err.Error(), "destination pg") {
		t.Errorf("a batch size that is no number: %v", err)
	}
}

func TestPrimaryKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"id", []string{"id"}},
		{" id , ts ", []string{"id", "ts"}},
		{"id,,ts,", []string{"id", "ts"}},
		{" , ", nil},
	} {
		if got := (Options{PrimaryKey: tc.in}).PrimaryKeys(); !slices.Equal(got, tc.want) {
			t.Errorf("PrimaryKeys(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = (Options{}).PrimaryKeys() }); n != 0 {
		t.Errorf("PrimaryKeys without a key: %v allocations, want 0 (ingest calls it per event)", n)
	}
}
