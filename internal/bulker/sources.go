package bulker

import (
	"fmt"
	"slices"
	"sync"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/loader"
)

// sourceSet holds the configured sources for the loaders; a reload
// replaces them.
type sourceSet struct {
	mu   sync.Mutex
	list []loader.Source
}

// Sources implements loader.SourceList.
func (s *sourceSet) Sources() []loader.Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list
}

func (s *sourceSet) set(list []loader.Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = list
}

// checkSources validates sources against the destinations they load into,
// which must be of a type bulker has (types).
func checkSources(sources []loader.Source, dests []destination.Config, types []string, prefix string) error {
	for _, src := range sources {
		if err := src.Validate(prefix); err != nil {
			return err
		}
		i := slices.IndexFunc(dests, func(d destination.Config) bool { return d.ID == src.Destination })
		switch {
		case i < 0:
			return fmt.Errorf("source %s: destination %s is not configured", src.ID, src.Destination)
		case !slices.Contains(types, dests[i].Type):
			return fmt.Errorf("source %s: destination %s is of type %q, which this bulker does not support", src.ID, src.Destination, dests[i].Type)
		}
	}
	return nil
}
