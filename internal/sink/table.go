// Package sink owns "make the table fit, then load" for every caller. The
// loaders and POST /bulk write to a destination table through its Table,
// which keeps the table's stored shape, reconciles each batch with it
// (schema.Build), adds what the table lacks, plans the load
// (destination.NewPlan) and hands the plan to the destination's driver.
// Drivers keep no state about tables; Registry keeps one Table per
// destination table, so every writer of a table shares what is known of it.
package sink

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// Options are a destination's settings for its tables.
type Options struct {
	PrimaryKey []string // keys of the primary key
	Timestamp  string   // key of the column to index
	// Upsert makes Append update the rows whose primary key exists.
	Upsert bool
}

// NewTable returns the writer of table (as requested, before sanitising)
// in d. Callers share one per table: see Registry.
func NewTable(d destination.Driver, table string, o Options, log *slog.Logger) *Table {
	return &Table{
		driver: d,
		name:   table,
		opts:   schema.TableOptions{PrimaryKey: o.PrimaryKey, TimestampColumn: o.Timestamp},
		upsert: o.Upsert,
		log:    log,
	}
}

// Table writes to one table of one destination. It is safe for concurrent
// use; writes to the table are serialised.
type Table struct {
	driver destination.Driver
	name   string // as requested, before sanitising
	opts   schema.TableOptions
	upsert bool // destination's deduplicate option, for Append
	log    *slog.Logger

	// writing serialises writes, so that DDL and replacements of one
	// table never race within this process.
	writing sync.Mutex

	mu    sync.Mutex
	shape shape
}

// shape is the table as last seen. It is forgotten after any write error,
// so that a table altered or dropped outside bulker is read again; version
// changes with every update, so that rows built against an older shape
// are built again.
type shape struct {
	table   schema.Table
	exists  bool
	known   bool
	version uint64
}

// Rows are a batch's rows, built against one version of the table's shape.
type Rows struct {
	version uint64
	want    schema.Table
	batch   schema.Batch
	notes   []schema.Note
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.batch.Rows) }

// Prepare builds the rows of events against the table as last seen,
// without touching the database, so that a caller can build a batch while
// the previous one loads. It returns nil when the shape is unknown or the
// events need columns the table lacks: Append then does the work.
func (t *Table) Prepare(events []schema.Event) *Rows {
	st := t.current()
	if !st.known || !st.exists || len(events) == 0 {
		return nil
	}
	rows := t.build(st, events)
	if needsDDL(rows, st) {
		return nil
	}
	return rows
}

// Append loads events in one transaction, adding the columns they need
// first. rows may hold them prepared (see Prepare); events is called only
// when rows must be built (again). After a failure the table is read
// again once, in case it was altered or dropped outside bulker. An error
// wrapping destination.ErrData is the rows' fault; any other is an outage.
func (t *Table) Append(ctx context.Context, rows *Rows, events func() []schema.Event) error {
	t.writing.Lock()
	defer t.writing.Unlock()
	err := t.append(ctx, rows, events)
	if err == nil {
		return nil
	}
	t.forget()
	if ctx.Err() != nil {
		return err
	}
	return t.append(ctx, nil, events)
}

func (t *Table) append(ctx context.Context, rows *Rows, events func() []schema.Event) error {
	st, err := t.read(ctx)
	if err != nil {
		return err
	}
	if rows == nil || rows.version != st.version {
		rows = t.build(st, events())
	}
	if rows, err = t.fit(ctx, rows, st, events); err != nil {
		return err
	}
	t.report(rows.notes)
	p, err := destination.NewPlan(rows.batch, destination.LoadOptions{Mode: destination.Append, Upsert: t.upsert})
	if err != nil {
		return err
	}
	if err := t.driver.Write(ctx, p); err != nil {
		return fmt.Errorf("loading %d rows into %s: %w", len(p.Rows), p.Table.Name, err)
	}
	return nil
}

// maxFits bounds the rounds of DDL one write may need: a second round
// happens only when another process changed the table at the same time.
const maxFits = 3

// fit adds what the table lacks for rows and builds them again against the
// table as stored, until they need nothing more.
func (t *Table) fit(ctx context.Context, rows *Rows, st shape, events func() []schema.Event) (*Rows, error) {
	for range maxFits {
		if !needsDDL(rows, st) {
			return rows, nil
		}
		stored, err := t.driver.EnsureTable(ctx, rows.want)
		if err != nil {
			return nil, fmt.Errorf("creating or altering table %s: %w", rows.want.Name, err)
		}
		st = t.set(stored)
		rows = t.build(st, events())
	}
	if needsDDL(rows, st) {
		return nil, fmt.Errorf("table %s keeps changing under bulker", rows.want.Name)
	}
	return rows, nil
}

// needsDDL reports whether rows need columns the stored table lacks.
func needsDDL(rows *Rows, st shape) bool {
	return !st.exists || len(rows.want.Columns) != len(st.table.Columns)
}

// Replacement says what Replace replaces.
type Replacement struct {
	Mode      destination.LoadMode // ReplaceTable or ReplacePartition
	Partition string               // for ReplacePartition
	// PrimaryKey lists the keys of the table's primary key; with one,
	// rows sharing a key are merged and upserted.
	PrimaryKey []string
}

// Replace swaps the table for one holding exactly events (ReplaceTable),
// or replaces the rows of one partition with them (ReplacePartition), in
// one transaction: all or nothing.
func (t *Table) Replace(ctx context.Context, events []schema.Event, r Replacement) error {
	t.writing.Lock()
	defer t.writing.Unlock()
	// The table changes under the shape, whatever the outcome.
	defer t.forget()
	opts := t.opts
	opts.PrimaryKey = r.PrimaryKey
	lo := destination.LoadOptions{Mode: r.Mode, Partition: r.Partition, Upsert: len(r.PrimaryKey) > 0}
	d := t.driver.Dialect()
	var batch schema.Batch
	switch r.Mode {
	case destination.ReplaceTable:
		// The new table holds exactly the events' columns.
		_, batch, _ = schema.Build(d, t.name, opts, events, nil)
	case destination.ReplacePartition:
		for i := range events {
			ev := &events[i]
			ev.Fields = slices.DeleteFunc(ev.Fields, func(f schema.Field) bool { return f.Key == destination.PartitionColumn })
			ev.Fields = append(ev.Fields, schema.Field{Key: destination.PartitionColumn, Value: schema.TextValue(r.Partition)})
		}
		st, err := t.read(ctx)
		if err != nil {
			return err
		}
		rows, err := t.fit(ctx, t.buildWith(st, opts, events), st, func() []schema.Event { return events })
		if err != nil {
			return err
		}
		batch = rows.batch
	default:
		return fmt.Errorf("replacing %s: load mode %s replaces nothing", t.name, r.Mode)
	}
	p, err := destination.NewPlan(batch, lo)
	if err != nil {
		return err
	}
	if err := t.driver.Write(ctx, p); err != nil {
		return fmt.Errorf("replacing %s (%s) with %d rows: %w", p.Table.Name, r.Mode, len(p.Rows), err)
	}
	return nil
}

// read returns the table's shape, describing the table if it is unknown.
func (t *Table) read(ctx context.Context) (shape, error) {
	st := t.current()
	if st.known {
		return st, nil
	}
	name := schema.SanitizeIdent(t.driver.Dialect(), t.name)
	stored, ok, err := t.driver.Describe(ctx, name)
	if err != nil {
		return st, fmt.Errorf("describing table %s: %w", name, err)
	}
	if !ok {
		return t.setMissing(), nil
	}
	return t.set(stored), nil
}

func (t *Table) build(st shape, events []schema.Event) *Rows {
	return t.buildWith(st, t.opts, events)
}

func (t *Table) buildWith(st shape, opts schema.TableOptions, events []schema.Event) *Rows {
	var stored *schema.Table
	if st.exists {
		stored = &st.table
	}
	want, batch, notes := schema.Build(t.driver.Dialect(), t.name, opts, events, stored)
	return &Rows{version: st.version, want: want, batch: batch, notes: notes}
}

// report logs what a batch could not store in its own column.
func (t *Table) report(notes []schema.Note) {
	for _, n := range notes {
		msg := "value kept in " + schema.UnmappedColumn
		if n.Reason == schema.ReasonNearColumnLimit {
			msg = "table is close to the destination's column limit"
		}
		t.log.Warn(msg, "note", n.String())
	}
}

func (t *Table) current() shape {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shape
}

func (t *Table) set(stored schema.Table) shape {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shape = shape{table: stored, exists: true, known: true, version: t.shape.version + 1}
	return t.shape
}

func (t *Table) setMissing() shape {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shape = shape{known: true, version: t.shape.version + 1}
	return t.shape
}

func (t *Table) forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shape = shape{version: t.shape.version + 1}
}
