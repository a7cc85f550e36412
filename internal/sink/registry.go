package sink

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/streamforge/streamforge/internal/destination"
)

// Registry holds the configured destinations, opens each one's driver on
// first use and keeps one Table per destination table. Configuration can
// be replaced while running (Set): a destination whose configuration
// changed or vanished is closed, with its tables.
type Registry struct {
	factories map[string]destination.Factory
	log       *slog.Logger

	// opening serialises opening drivers, so concurrent callers share one
	// connection pool; mu guards the maps and is never held across a
	// database call, so Lookup (on every request) never waits for one.
	opening sync.Mutex
	mu      sync.Mutex
	configs map[string]destination.Config
	open    map[string]*opened
}

// opened is an open destination and the tables written through it.
type opened struct {
	driver destination.Driver
	tables map[string]*Table
}

// NewRegistry returns an empty registry that can open the given types.
func NewRegistry(factories map[string]destination.Factory, log *slog.Logger) *Registry {
	return &Registry{factories: factories, log: log, configs: map[string]destination.Config{}, open: map[string]*opened{}}
}

// Types lists the destination types the registry can open.
func (r *Registry) Types() []string { return slices.Sorted(maps.Keys(r.factories)) }

// Set replaces the configuration. An unknown type fails the whole set,
// naming the destination, and leaves the previous configuration in force.
func (r *Registry) Set(cfgs []destination.Config) error {
	next := make(map[string]destination.Config, len(cfgs))
	for _, c := range cfgs {
		if _, ok := r.factories[c.Type]; !ok {
			return fmt.Errorf("destination %s: type %q is not supported (supported: %v)", c.ID, c.Type, r.Types())
		}
		if _, dup := next[c.ID]; dup {
			return fmt.Errorf("destination %s is configured twice", c.ID)
		}
		next[c.ID] = c
	}
	r.mu.Lock()
	var stale []destination.Driver
	for id, o := range r.open {
		if c, ok := next[id]; !ok || !c.Equal(r.configs[id]) {
			stale = append(stale, o.driver)
			delete(r.open, id)
		}
	}
	r.configs = next
	r.mu.Unlock()
	r.closeAll(stale)
	return nil
}

func (r *Registry) closeAll(ds []destination.Driver) {
	for _, d := range ds {
		if err := d.Close(); err != nil {
			r.log.Warn("closing destination failed", "err", err)
		}
	}
}

// Lookup returns a destination's configuration.
func (r *Registry) Lookup(id string) (destination.Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.configs[id]
	return c, ok
}

// Table returns the writer of one table of a destination, opening the
// destination on first use. An error is an outage (server down, wrong
// password), to be retried, or an unconfigured destination.
func (r *Registry) Table(ctx context.Context, id, table string) (*Table, error) {
	o, c, err := r.driver(ctx, id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := o.tables[table]
	if !ok {
		t = NewTable(o.driver, table, Options{
			PrimaryKey: c.Options.PrimaryKeys(),
			Timestamp:  c.Options.Timestamp,
			Upsert:     c.Options.Deduplicate,
		}, r.log.With("destination", id, "table", table))
		o.tables[table] = t
	}
	return t, nil
}

// driver returns the open destination, opening it on first use; a failed
// open is tried again on the next call.
func (r *Registry) driver(ctx context.Context, id string) (*opened, destination.Config, error) {
	r.opening.Lock()
	defer r.opening.Unlock()
	r.mu.Lock()
	o, ok := r.open[id]
	c, configured := r.configs[id]
	r.mu.Unlock()
	if ok {
		return o, c, nil
	}
	if !configured {
		return nil, c, fmt.Errorf("destination %s is not configured", id)
	}
	d, err := r.factories[c.Type](ctx, c, r.log)
	if err != nil {
		return nil, c, fmt.Errorf("opening destination %s (%s): %w", id, c.Type, err)
	}
	r.mu.Lock()
	if cur, ok := r.configs[id]; !ok || !cur.Equal(c) {
		r.mu.Unlock()
		r.closeAll([]destination.Driver{d})
		return nil, c, fmt.Errorf("destination %s changed while it was being opened", id)
	}
	o = &opened{driver: d, tables: map[string]*Table{}}
	r.open[id] = o
	r.mu.Unlock()
	return o, c, nil
}

// Close closes every open destination.
func (r *Registry) Close() {
	r.mu.Lock()
	ds := make([]destination.Driver, 0, len(r.open))
	for _, o := range r.open {
		ds = append(ds, o.driver)
	}
	clear(r.open)
	r.mu.Unlock()
	r.closeAll(ds)
}
