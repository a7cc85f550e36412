package bench

import (
	"os"
	"strings"
	"testing"
)

func TestGCCount(t *testing.T) {
	scrape, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		want       int
		wantErr    bool
	}{
		{"a scrape of bulker", string(scrape), 1234, false},
		{"no collector metrics", "# HELP up\nup 1\n", 0, true},
		{"not a number", "# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds_count many\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gcCount(strings.NewReader(tt.text))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("gcCount = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
