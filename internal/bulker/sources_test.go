package bulker

import (
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/loader"
)

func TestCheckSources(t *testing.T) {
	dests := []destination.Config{{ID: "pg", Type: "postgres"}, {ID: "ch", Type: "clickhouse"}}
	tests := []struct {
		name string
		src  loader.Source
		err  string
	}{
		{"valid", loader.Source{ID: "q", Topic: "queue-events", Destination: "pg", Table: "queue_events"}, ""},
		{"unknown destination", loader.Source{ID: "q", Topic: "queue-events", Destination: "zz", Table: "t"}, "source q: destination zz is not configured"},
		{"destination of an unsupported type", loader.Source{ID: "q", Topic: "queue-events", Destination: "ch", Table: "t"}, `destination ch is of type "clickhouse"`},
		{"own topic", loader.Source{ID: "q", Topic: "p.destination-messages-retry", Destination: "pg", Table: "t"}, "one of bulker's own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSources([]loader.Source{tt.src}, dests, []string{"postgres"}, "p.")
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkSources = %v, want %q", err, tt.err)
			}
		})
	}
}
