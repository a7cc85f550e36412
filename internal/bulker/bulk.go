package bulker

import (
	"context"
	"fmt"
	"slices"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/schema"
)

// opener opens configured destinations; *Registry implements it.
type opener interface {
	Open(ctx context.Context, id string) (destination.Destination, error)
}

// bulkLoader applies POST /bulk straight to the destination, in one
// transaction: the request either replaces the table (or partition) or
// changes nothing.
type bulkLoader struct{ dests opener }

// Bulk implements ingest.BulkLoader.
func (l bulkLoader) Bulk(ctx context.Context, req ingest.BulkRequest) error {
	dest, err := l.dests.Open(ctx, req.Destination.ID)
	if err != nil {
		return err
	}
	events := make([]schema.Event, len(req.Events))
	for i, raw := range req.Events {
		ev, err := schema.Parse(raw)
		if err != nil {
			return fmt.Errorf("line %d: %w: %w", i+1, err, destination.ErrData)
		}
		if req.Mode == destination.ReplacePartition {
			ev.Fields = slices.DeleteFunc(ev.Fields, func(f schema.Field) bool { return f.Key == destination.PartitionColumn })
			ev.Fields = append(ev.Fields, schema.Field{Key: destination.PartitionColumn, Value: schema.TextValue(req.Partition)})
		}
		events[i] = ev
	}
	d := dest.Dialect()
	opts := schema.TableOptions{PrimaryKey: req.PrimaryKey, TimestampColumn: req.Destination.Options.Timestamp}
	lo := destination.LoadOptions{Mode: req.Mode, Partition: req.Partition, Dedup: len(req.PrimaryKey) > 0}
	if req.Mode == destination.ReplaceTable {
		// The new table holds exactly the request's columns.
		_, batch, _ := schema.Build(d, req.Table, opts, events, schema.Table{}, false)
		return dest.Load(ctx, batch, lo)
	}
	name := schema.SanitizeIdent(d, req.Table)
	stored, ok, err := dest.Describe(ctx, name)
	if err != nil {
		return fmt.Errorf("describing table %s: %w", name, err)
	}
	want, _, _ := schema.Build(d, req.Table, opts, events, stored, ok)
	if stored, err = dest.EnsureTable(ctx, want); err != nil {
		return fmt.Errorf("creating or altering table %s: %w", name, err)
	}
	_, batch, _ := schema.Build(d, req.Table, opts, events, stored, true)
	return dest.Load(ctx, batch, lo)
}
