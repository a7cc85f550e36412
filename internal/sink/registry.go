package sink

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/streamforge/streamforge/internal/destination"
)

// Registry holds the configured destinations, each one's open driver, and
// one Table per destination table. Configuration can
// be replaced while running (Set): a destination whose configuration
// changed or vanished is closed, with its tables.
type Registry struct {
	factories map[string]destination.Factory
	log       *slog.Logger

	// opening serialises Set, which opens drivers; mu guards open and
	// unsupported and is never held across opening one.
	opening sync.Mutex
	mu      sync.Mutex
	// configs is replaced whole by Set, never changed in place: Lookup, on
	// every request, reads it without a lock that handlers would contend
	// for.
	configs atomic.Pointer[map[string]destination.Config]
	open    map[string]*opened
	// unsupported are the destinations of a type bulker cannot open: they
	// are reported, not loaded, while the others run.
	unsupported map[string]destination.Config
}

// opened is an open destination and the tables written through it.
type opened struct {
	driver destination.Driver
	tables map[string]*Table
}

// NewRegistry returns an empty registry that can open the given types.
func NewRegistry(factories map[string]destination.Factory, log *slog.Logger) *Registry {
	r := &Registry{factories: factories, log: log, open: map[string]*opened{}, unsupported: map[string]destination.Config{}}
	r.configs.Store(&map[string]destination.Config{})
	return r
}

// Types lists the destination types the registry can open.
func (r *Registry) Types() []string { return slices.Sorted(maps.Keys(r.factories)) }

// Set replaces the configuration. Each destination that is new or changed
// is opened at once, so that a configuration its driver refuses (a
// missing database, an sslMode it cannot honour) fails here, naming where
// it was configured and the field; keys bulker does not know are named in
// a warning. A failure fails the whole set and leaves the previous
// configuration in force. A destination of a type bulker lacks (a Jitsu
// configuration's clickhouse, say) does not fail it: it is set aside, named
// in a warning and by Unsupported, while the others run.
func (r *Registry) Set(cfgs []destination.Config) error {
	next := make(map[string]destination.Config, len(cfgs))
	unsupported := map[string]destination.Config{}
	for _, c := range cfgs {
		_, dup := next[c.ID]
		if _, dup2 := unsupported[c.ID]; dup || dup2 {
			return fmt.Errorf("destination %s is configured twice", c.ID)
		}
		if _, ok := r.factories[c.Type]; !ok {
			unsupported[c.ID] = c
			continue
		}
		next[c.ID] = c
	}
	r.opening.Lock()
	defer r.opening.Unlock()
	current := *r.configs.Load()
	fresh := map[string]destination.Driver{}
	for id, c := range next {
		if old, ok := current[id]; ok && old.Equal(c) {
			continue
		}
		d, err := r.factories[c.Type](context.Background(), c, r.log)
		if err != nil {
			r.closeAll(slices.Collect(maps.Values(fresh)))
			return fmt.Errorf("%s%w", origin(c), err)
		}
		fresh[id] = d
		if len(c.Unknown) > 0 {
			r.log.Warn("unknown destination keys, ignored", "destination", id, "origin", c.Origin, "keys", c.Unknown)
		}
		if len(c.Unsupported) > 0 {
			r.log.Warn("Jitsu Bulker destination keys not supported, ignored", "destination", id, "origin", c.Origin, "keys", c.Unsupported)
		}
	}
	r.mu.Lock()
	var stale []destination.Driver
	for id, o := range r.open {
		if c, ok := next[id]; !ok || !c.Equal(current[id]) {
			stale = append(stale, o.driver)
			delete(r.open, id)
		}
	}
	for id, d := range fresh {
		r.open[id] = &opened{driver: d, tables: map[string]*Table{}}
	}
	r.configs.Store(&next)
	previous := r.unsupported
	r.unsupported = unsupported
	r.mu.Unlock()
	r.closeAll(stale)
	for _, id := range slices.Sorted(maps.Keys(unsupported)) {
		if c := unsupported[id]; previous[id].Type != c.Type {
			r.log.Warn("destination type not supported: its events are refused, the other destinations run",
				"destination", id, "type", c.Type, "origin", c.Origin, "supported", r.Types())
		}
	}
	return nil
}

// Unsupported lists the configured destinations of a type bulker cannot
// open, by id.
func (r *Registry) Unsupported() []destination.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]destination.Config, 0, len(r.unsupported))
	for _, id := range slices.Sorted(maps.Keys(r.unsupported)) {
		out = append(out, r.unsupported[id])
	}
	return out
}

// origin is where c was configured, as a message prefix.
func origin(c destination.Config) string {
	if c.Origin == "" {
		return ""
	}
	return c.Origin + ": "
}

func (r *Registry) closeAll(ds []destination.Driver) {
	for _, d := range ds {
		if err := d.Close(); err != nil {
			r.log.Warn("closing destination failed", "err", err)
		}
	}
}

// Lookup returns a destination's configuration. An id not configured as
// written is looked up lower-cased: BULKER_DESTINATION_PG is "pg" here but
// "PG" in Jitsu Bulker, whose clients post to /post/PG and whose topics
// are in.id.PG.….
func (r *Registry) Lookup(id string) (destination.Config, bool) {
	return byID(*r.configs.Load(), id)
}

// LookupUnsupported finds a destination of a type bulker cannot open, as
// Lookup finds the others.
func (r *Registry) LookupUnsupported(id string) (destination.Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return byID(r.unsupported, id)
}

// byID finds id in m as written, else lower-cased.
func byID(m map[string]destination.Config, id string) (destination.Config, bool) {
	c, ok := m[id]
	if !ok {
		c, ok = m[strings.ToLower(id)]
	}
	return c, ok
}

// Table returns the writer of one table of a configured destination.
func (r *Registry) Table(id, table string) (*Table, error) {
	o, c, err := r.driver(id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := o.tables[table]
	if !ok {
		t = NewTable(o.driver, table, Options{
			PrimaryKey:   c.Options.PrimaryKeys(),
			Timestamp:    c.Options.TimestampKey(),
			Upsert:       c.Options.Deduplicate,
			SchemaFreeze: c.Options.SchemaFreeze,
			MaxColumns:   c.Options.MaxColumnsCount,
			OmitNils:     c.Options.OmitNils,
		}, r.log.With("destination", id, "table", table))
		o.tables[table] = t
	}
	return t, nil
}

// driver returns the open destination: Set opened it.
func (r *Registry) driver(id string) (*opened, destination.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.open[id]
	c, configured := (*r.configs.Load())[id]
	if !configured || !ok {
		return nil, c, fmt.Errorf("destination %s is not configured", id)
	}
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

// Test opens c apart from the configured destinations and reads from its
// database, to tell whether bulker can reach and log in to it. The error
// says why not, without the password (drivers never print it).
func (r *Registry) Test(ctx context.Context, c destination.Config) error {
	open, ok := r.factories[c.Type]
	if !ok {
		return fmt.Errorf("destination %s: type %q is not supported (supported: %v)", c.ID, c.Type, r.Types())
	}
	if c.Type == "sqlite" {
		// Opening one creates its file and directory wherever the request
		// says: an API client must not write files on bulker's host.
		return fmt.Errorf("destination %s: sqlite is a local file, not a connection: nothing to test", c.ID)
	}
	d, err := open(ctx, c, r.log)
	if err != nil {
		return err
	}
	defer r.closeAll([]destination.Driver{d})
	if _, _, err := d.Describe(ctx, destination.ColumnsTable); err != nil {
		return fmt.Errorf("destination %s: %w", c.ID, err)
	}
	return nil
}
