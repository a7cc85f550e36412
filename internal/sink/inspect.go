package sink

import (
	"cmp"
	"maps"
	"slices"

	"github.com/streamforge/streamforge/internal/destination"
)

// Configs lists the configured destinations by id, for the console.
func (r *Registry) Configs() []destination.Config {
	return slices.SortedFunc(maps.Values(*r.configs.Load()), func(a, b destination.Config) int { return cmp.Compare(a.ID, b.ID) })
}

// Driver returns the open driver of a configured destination, for
// read-only queries beside the loads.
func (r *Registry) Driver(id string) (destination.Driver, error) {
	o, _, err := r.driver(id)
	if err != nil {
		return nil, err
	}
	return o.driver, nil
}
