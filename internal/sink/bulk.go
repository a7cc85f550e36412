package sink

import (
	"context"
	"fmt"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// BulkRequest is a validated POST /bulk: replace a table, or one partition
// of it, with Events.
type BulkRequest struct {
	Destination string
	Table       string
	Replacement
	Events [][]byte // each one JSON object, as received
}

// Bulk applies req in its destination, all or nothing. An error wrapping
// destination.ErrData is the data's fault; any other is an outage. The
// warnings are new to the table.
func (r *Registry) Bulk(ctx context.Context, req BulkRequest) ([]Warning, error) {
	events := make([]schema.Event, len(req.Events))
	for i, raw := range req.Events {
		ev, err := schema.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %w", i+1, err, destination.ErrData)
		}
		events[i] = ev
	}
	t, err := r.Table(req.Destination, req.Table)
	if err != nil {
		return nil, err
	}
	return t.Replace(ctx, events, req.Replacement)
}
