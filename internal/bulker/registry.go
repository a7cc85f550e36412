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
	defer r.mu.Unlock()
	for id, d := range r.open {
		if c, ok := next[id]; !ok || !c.Equal(r.configs[id]) {
			if err := d.Close(); err != nil {
				r.log.Warn("closing destination failed", "destination", id, "err", err)
			}
			delete(r.open, id)
		}
	}
	r.configs = next
	return nil
}

// Lookup returns a destination's configuration.
func (r *Registry) Lookup(id string) (destination.Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.configs[id]
	return c, ok
}

// Open returns the open destination, opening it on first use. Opening
// happens under the lock so that concurrent loaders share one connection
// pool; a failed open is tried again on the next call.
func (r *Registry) Open(ctx context.Context, id string) (destination.Destination, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.open[id]; ok {
		return d, nil
	}
	c, ok := r.configs[id]
	if !ok {
		return nil, fmt.Errorf("destination %s is not configured", id)
	}
	d, err := r.factories[c.Type](ctx, c, r.log)
	if err != nil {
		return nil, fmt.Errorf("opening destination %s (%s): %w", id, c.Type, err)
	}
	r.open[id] = d
	return d, nil
}

// Close closes every open destination.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, d := range r.open {
		if err := d.Close(); err != nil {
			r.log.Warn("closing destination failed", "destination", id, "err", err)
		}
	}
	clear(r.open)
}
