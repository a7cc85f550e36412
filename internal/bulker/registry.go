// Package bulker assembles the bulker service: configuration, the embedded
// broker when no Kafka is configured, HTTP ingest, the loaders and the
// destinations, with an ordered, bounded shutdown.
package bulker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/streamforge/streamforge/internal/destination"
)

// Factory opens a destination of one type.
type Factory func(ctx context.Context, c destination.Config, log *slog.Logger) (destination.Destination, error)

// Registry holds the configured destinations and opens each on first use.
// Configuration can be replaced while running (Set); a destination whose
// configuration changed or vanished is closed.
type Registry struct {
	factories map[string]Factory
	log       *slog.Logger

	// opening serialises Open, so concurrent loaders share one connection
	// pool; mu guards the maps and is never held across a database call,
	// so Lookup (on every request) never waits for one.
	opening sync.Mutex
	mu      sync.Mutex
	configs map[string]destination.Config
	open    map[string]destination.Destination
}

// NewRegistry returns an empty registry that can open the given types.
func NewRegistry(factories map[string]Factory, log *slog.Logger) *Registry {
	return &Registry{factories: factories, log: log, configs: map[string]destination.Config{}, open: map[string]destination.Destination{}}
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
	var stale []destination.Destination
	for id, d := range r.open {
		if c, ok := next[id]; !ok || !c.Equal(r.configs[id]) {
			stale = append(stale, d)
			delete(r.open, id)
		}
	}
	r.configs = next
	r.mu.Unlock()
	r.closeAll(stale)
	return nil
}

func (r *Registry) closeAll(ds []destination.Destination) {
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

// Open returns the open destination, opening it on first use; a failed
// open is tried again on the next call.
func (r *Registry) Open(ctx context.Context, id string) (destination.Destination, error) {
	r.opening.Lock()
	defer r.opening.Unlock()
	r.mu.Lock()
	d, ok := r.open[id]
	c, configured := r.configs[id]
	r.mu.Unlock()
	if ok {
		return d, nil
	}
	if !configured {
		return nil, fmt.Errorf("destination %s is not configured", id)
	}
	d, err := r.factories[c.Type](ctx, c, r.log)
	if err != nil {
		return nil, fmt.Errorf("opening destination %s (%s): %w", id, c.Type, err)
	}
	r.mu.Lock()
	if cur, ok := r.configs[id]; !ok || !cur.Equal(c) {
		r.mu.Unlock()
		r.closeAll([]destination.Destination{d})
		return nil, fmt.Errorf("destination %s changed while it was being opened", id)
	}
	r.open[id] = d
	r.mu.Unlock()
	return d, nil
}

// Close closes every open destination.
func (r *Registry) Close() {
	r.mu.Lock()
	open := make([]destination.Destination, 0, len(r.open))
	for _, d := range r.open {
		open = append(open, d)
	}
	clear(r.open)
	r.mu.Unlock()
	r.closeAll(open)
}
