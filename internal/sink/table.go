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
	"sync/atomic"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// Options are a destination's settings for its tables.
type Options struct {
	PrimaryKey []string // keys of the primary key
	Timestamp  string   // key of the column to index
	// Upsert makes Append update the rows whose primary key exists.
	Upsert bool
	// SchemaFreeze, MaxColumns and OmitNils: see schema.TableOptions.
	SchemaFreeze bool
	MaxColumns   int
	OmitNils     bool
}

// NewTable returns the writer of table (as requested, before sanitising)
// in d. Callers share one per table: see Registry.
func NewTable(d destination.Driver, table string, o Options, log *slog.Logger) *Table {
	return &Table{
		driver: d,
		name:   table,
		opts: schema.TableOptions{PrimaryKey: o.PrimaryKey, TimestampColumn: o.Timestamp,
			SchemaFreeze: o.SchemaFreeze, MaxColumns: o.MaxColumns, OmitNils: o.OmitNils},
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
	// encodedRowBytes is about the size of a row as last encoded, for the
	// buffer of the next.
	encodedRowBytes atomic.Int64
	// buffers holds encoded rows' buffers given back by Rows.Release, for
	// Prepare to encode later batches into: a loader encodes tens of
	// kilobytes per chunk, which the collector would otherwise clear and
	// sweep again for every batch.
	buffers sync.Pool

	// writing serialises writes, so that DDL and replacements of one
	// table never race within this process.
	writing sync.Mutex

	mu    sync.Mutex
	shape shape
	// hints holds each type hint checked: "" if the destination takes it,
	// else why it refuses it.
	hints map[string]string
}

// Warning is something a write did not do as the events asked, told once
// per table: a type hint the destination refused.
type Warning struct {
	Key     string // the event key (schema.KeyString)
	SQLType string
	Reason  string
}

func (w Warning) String() string {
	return fmt.Sprintf("type hint %q for key %q refused: %s; the column takes the type of its values", w.SQLType, w.Key, w.Reason)
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
	// encoded holds the rows as the driver encoded them (see
	// destination.Encoder), before those of batch; encodedRows is how many.
	encoded     [][]byte
	encodedRows int
	// owner takes the encoded buffers back (see Release).
	owner *Table
}

// Len is the number of rows.
func (r *Rows) Len() int { return r.encodedRows + len(r.batch.Rows) }

// Prepare builds the rows of events against the table as last seen,
// without touching the database, so that a caller can build a batch while
// the previous one loads. It returns nil when the shape is unknown or the
// events need columns the table lacks: Append then does the work. When
// the driver is a destination.Encoder and the table is not upserted, the
// rows are encoded at once and built in rs, scratch memory free again on
// return (nil: an allocation).
func (t *Table) Prepare(events []schema.Event, rs *schema.RowSlab) *Rows {
	st := t.current()
	if !st.known || !st.exists || len(events) == 0 {
		return nil
	}
	enc, encodes := t.driver.(destination.Encoder)
	if !encodes || t.upsert {
		return t.prepared(t.buildIn(nil, st, t.opts, events), st)
	}
	if rs != nil {
		defer rs.Reset()
	}
	rows := t.prepared(t.buildIn(rs, st, t.opts, events), st)
	if rows == nil {
		return nil
	}
	n := len(rows.batch.Rows)
	buf, ok := enc.Encode(t.buffer(n*int(t.encodedRowBytes.Load())), rows.batch.Table, rows.batch.Rows)
	if !ok {
		if cap(buf) > 0 {
			t.buffers.Put(&buf)
		}
		if rs != nil {
			rows.batch.Rows = cloneRows(rows.batch.Rows) // out of the scratch memory
		}
		return rows
	}
	// Room for the next chunk's rows like these, and a little more.
	t.encodedRowBytes.Store(int64(len(buf)/n + len(buf)/n/16 + 1))
	rows.encoded, rows.encodedRows, rows.batch.Rows, rows.owner = [][]byte{buf}, n, nil, t
	return rows
}

// buffer returns an empty buffer for encoded rows of at least size bytes.
// A pooled one too small (a batch's last chunk, often short) is left to
// the collector: encoding into it would grow it again and again.
func (t *Table) buffer(size int) []byte {
	if b, ok := t.buffers.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

// Release gives the rows' encoded buffers back to their table, for later
// batches to be encoded into. The caller must be done with the rows: once
// loaded, or given up. Rows without encoded buffers, or nil, do nothing;
// the parts given to Join are not released (Join takes their buffers).
func (r *Rows) Release() {
	if r == nil || r.owner == nil {
		return
	}
	for _, b := range r.encoded {
		r.owner.buffers.Put(&b)
	}
	r.encoded, r.encodedRows, r.owner = nil, 0, nil
}

// prepared is rows, or nil when they need DDL first.
func (t *Table) prepared(rows *Rows, st shape) *Rows {
	if needsDDL(rows, st) {
		return nil
	}
	return rows
}

// cloneRows copies rows into memory of their own.
func cloneRows(rows [][]schema.Value) [][]schema.Value {
	if len(rows) == 0 {
		return rows
	}
	values := make([]schema.Value, 0, len(rows)*len(rows[0]))
	out := make([][]schema.Value, len(rows))
	for i, r := range rows {
		values = append(values, r...)
		out[i] = values[len(values)-len(r) : len(values) : len(values)]
	}
	return out
}

// Read reads the table's shape unless it is known, so that Prepare can
// build the rows of a first batch while it is still being read from
// Kafka. A write under way reads it anyway: Read then does nothing.
func (t *Table) Read(ctx context.Context) error {
	if !t.writing.TryLock() {
		return nil
	}
	defer t.writing.Unlock()
	_, err := t.read(ctx)
	return err
}

// Join returns the rows of parts, prepared in order from consecutive
// chunks of one batch, as the rows of the whole batch, with their notes
// merged as Prepare would have grouped them; nil if a part is nil, was
// prepared against another shape of the table than the first, or was
// encoded when the first was not or the other way round. A caller
// prepares a large batch chunk by chunk so that only one chunk's parsed
// events are in memory at a time.
func Join(parts []*Rows) *Rows {
	if len(parts) == 0 || parts[0] == nil {
		return nil
	}
	first := parts[0]
	n := 0
	for _, p := range parts {
		if p == nil || p.version != first.version || !sameShape(p.want, first.want) || (p.encoded == nil) != (first.encoded == nil) {
			return nil
		}
		n += p.Len()
	}
	if len(parts) == 1 {
		return first
	}
	out := &Rows{version: first.version, want: first.want, batch: schema.Batch{Table: first.batch.Table}, owner: first.owner}
	if first.encoded == nil {
		out.batch.Rows = make([][]schema.Value, 0, n)
	}
	type noteKey struct{ column, key, reason, valueType string }
	seen := map[noteKey]int{}
	for _, p := range parts {
		for _, note := range p.notes {
			k := noteKey{note.Column, note.Key, note.Reason, note.ValueType}
			i, ok := seen[k]
			switch {
			case !ok:
				seen[k] = len(out.notes)
				if note.Row >= 0 {
					note.Row += out.Len()
				}
				out.notes = append(out.notes, note)
			case note.Row >= 0: // a table's warning is the same in every part
				out.notes[i].Count += note.Count
			}
		}
		out.batch.Rows = append(out.batch.Rows, p.batch.Rows...)
		out.encoded = append(out.encoded, p.encoded...)
		out.encodedRows += p.encodedRows
		p.owner = nil // the buffers are out's now: one Release, not two
	}
	return out
}

// sameShape reports whether a and b, each a table that rows were built
// for, are the same, SQL types included: rows of one fit the other.
func sameShape(a, b schema.Table) bool {
	return madeAs(a, b) && slices.Equal(a.Columns, b.Columns)
}

// madeAs reports whether stored is the table want asked for: the same
// name, keys and columns, each of the SQL type want gave it or, where
// want left that to the destination, of any.
func madeAs(stored, want schema.Table) bool {
	if stored.Name != want.Name || stored.TimestampColumn != want.TimestampColumn ||
		!slices.Equal(stored.PrimaryKey, want.PrimaryKey) || len(stored.Columns) != len(want.Columns) {
		return false
	}
	for i, w := range want.Columns {
		s := stored.Columns[i]
		if s.Name != w.Name || s.Type != w.Type || s.Key != w.Key || w.SQLType != "" && s.SQLType != w.SQLType {
			return false
		}
	}
	return true
}

// Append loads events in one transaction, adding the columns they need
// first. rows may hold them prepared (see Prepare); events is called only
// when rows must be built (again). After a failure the table is read
// again once, in case it was altered or dropped outside bulker. An error
// wrapping destination.ErrData is the rows' fault; any other is an outage.
// The warnings are new to this table.
func (t *Table) Append(ctx context.Context, rows *Rows, events func() []schema.Event) ([]Warning, error) {
	t.writing.Lock()
	defer t.writing.Unlock()
	warns, err := t.append(ctx, rows, events)
	if err == nil {
		return warns, nil
	}
	t.forget()
	if ctx.Err() != nil {
		return warns, err
	}
	more, err := t.append(ctx, nil, events)
	return append(warns, more...), err
}

func (t *Table) append(ctx context.Context, rows *Rows, events func() []schema.Event) ([]Warning, error) {
	st, err := t.read(ctx)
	if err != nil {
		return nil, err
	}
	if rows == nil || rows.version != st.version {
		rows = t.build(st, events())
	}
	var warns []Warning
	if needsDDL(rows, st) {
		// Hints matter to new columns only: check them before making any.
		// The rows were built here, with every refusal known before: only
		// a new one changes them.
		if warns, err = t.checkHints(ctx, events()); err != nil {
			return nil, err
		}
		if len(warns) > 0 {
			rows = t.build(st, events())
		}
	}
	if rows, err = t.fit(ctx, rows, st, events); err != nil {
		return warns, err
	}
	t.report(rows.notes)
	p, err := destination.NewPlan(rows.batch, destination.LoadOptions{Mode: destination.Append, Upsert: t.upsert})
	if err != nil {
		return warns, err
	}
	p.Encoded, p.EncodedRows = rows.encoded, rows.encodedRows
	if err := t.driver.Write(ctx, p); err != nil {
		return warns, fmt.Errorf("loading %d rows into %s: %w", p.Len(), p.Table.Name, err)
	}
	return warns, nil
}

// checkHints asks the destination about the events' type hints it has not
// seen yet, and returns a warning for each it refuses, with the first key
// it was given for. The caller holds writing.
func (t *Table) checkHints(ctx context.Context, events []schema.Event) ([]Warning, error) {
	var warns []Warning
	for _, e := range events {
		for key, h := range e.SQLTypes {
			t.mu.Lock()
			_, seen := t.hints[h]
			t.mu.Unlock()
			if seen {
				continue
			}
			reason, err := t.driver.CheckType(ctx, h)
			if err != nil {
				return warns, fmt.Errorf("checking type hint %q: %w", h, err)
			}
			t.mu.Lock()
			if t.hints == nil {
				t.hints = map[string]string{}
			}
			t.hints[h] = reason
			t.mu.Unlock()
			if reason != "" {
				w := Warning{Key: schema.KeyString(key), SQLType: h, Reason: reason}
				t.log.Warn("type hint refused", "key", w.Key, "sql_type", h, "reason", reason)
				warns = append(warns, w)
			}
		}
	}
	return warns, nil
}

// refused is the set of hints the destination refused.
func (t *Table) refused() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out map[string]bool
	for h, reason := range t.hints {
		if reason != "" {
			if out == nil {
				out = map[string]bool{}
			}
			out[h] = true
		}
	}
	return out
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
		if madeAs(stored, rows.want) {
			// Built against the table as stored, the rows would come out
			// the same: they only take its SQL types.
			rows.want, rows.batch.Table, rows.version = stored, stored, st.version
			continue
		}
		rows = t.build(st, events())
	}
	if needsDDL(rows, st) {
		return nil, fmt.Errorf("table %s keeps changing under bulker", rows.want.Name)
	}
	return rows, nil
}

// needsDDL reports whether rows need columns the stored table lacks, or
// keys recorded for its columns.
func needsDDL(rows *Rows, st shape) bool {
	if !st.exists || len(rows.want.Columns) != len(st.table.Columns) {
		return true
	}
	for i, c := range rows.want.Columns {
		if c.Key != st.table.Columns[i].Key {
			return true
		}
	}
	return false
}

// Replacement says what Replace replaces.
type Replacement struct {
	Mode      destination.LoadMode // ReplaceTable, ReplacePartition or Append
	Partition string               // for ReplacePartition
	// PrimaryKey lists the keys of the table's primary key; with one,
	// rows sharing a key are merged and upserted.
	PrimaryKey []string
}

// Replace swaps the table for one holding exactly events (ReplaceTable),
// replaces the rows of one partition with them (ReplacePartition), or
// adds them (Append, upserting with a primary key), in one transaction:
// all or nothing.
func (t *Table) Replace(ctx context.Context, events []schema.Event, r Replacement) ([]Warning, error) {
	t.writing.Lock()
	defer t.writing.Unlock()
	// The table changes under the shape, whatever the outcome.
	defer t.forget()
	warns, err := t.checkHints(ctx, events)
	if err != nil {
		return warns, err
	}
	opts := t.opts
	opts.PrimaryKey = r.PrimaryKey
	opts.RefusedHints = t.refused()
	lo := destination.LoadOptions{Mode: r.Mode, Partition: r.Partition, Upsert: len(r.PrimaryKey) > 0}
	d := t.driver.Dialect()
	var batch schema.Batch
	switch r.Mode {
	case destination.ReplaceTable:
		// The new table holds exactly the events' columns, under the name
		// of the table it replaces; emptying a table on purpose keeps the
		// columns it has, which views and queries may name.
		st, err := t.read(ctx)
		if err != nil {
			return warns, err
		}
		if len(events) == 0 {
			if !st.exists {
				return warns, nil
			}
			batch.Table = st.table
			break
		}
		_, batch, _ = schema.Build(d, t.name, opts, events, nil)
		if st.exists {
			batch.Table.Name = st.table.Name
		}
	case destination.ReplacePartition:
		for i := range events {
			ev := &events[i]
			ev.Fields = slices.DeleteFunc(ev.Fields, func(f schema.Field) bool { return f.Key == destination.PartitionColumn })
			ev.Fields = append(ev.Fields, schema.Field{Key: destination.PartitionColumn, Value: schema.TextValue(r.Partition)})
		}
		fallthrough
	case destination.Append:
		st, err := t.read(ctx)
		if err != nil {
			return warns, err
		}
		rows, err := t.fit(ctx, t.buildIn(nil, st, opts, events), st, func() []schema.Event { return events })
		if err != nil {
			return warns, err
		}
		batch = rows.batch
	default:
		return warns, fmt.Errorf("loading %s in bulk: unknown load mode %s", t.name, r.Mode)
	}
	p, err := destination.NewPlan(batch, lo)
	if err != nil {
		return warns, err
	}
	if err := t.driver.Write(ctx, p); err != nil {
		return warns, fmt.Errorf("replacing %s (%s) with %d rows: %w", p.Table.Name, r.Mode, len(p.Rows), err)
	}
	return warns, nil
}

// read returns the table's shape, describing the table if it is unknown.
func (t *Table) read(ctx context.Context) (shape, error) {
	st := t.current()
	if st.known {
		return st, nil
	}
	// The natural name first, so a table bulker made stays its table;
	// else one Jitsu Bulker made, whose name keeps the case ("Events").
	d := t.driver.Dialect()
	names := []string{schema.SanitizeIdent(d, t.name)}
	if jitsu := schema.JitsuTableName(d, t.name); jitsu != names[0] {
		names = append(names, jitsu)
	}
	for _, name := range names {
		stored, ok, err := t.driver.Describe(ctx, name)
		if err != nil {
			return st, fmt.Errorf("describing table %s: %w", name, err)
		}
		if ok {
			return t.set(stored), nil
		}
	}
	return t.setMissing(), nil
}

func (t *Table) build(st shape, events []schema.Event) *Rows {
	return t.buildIn(nil, st, t.opts, events)
}

// buildIn builds the rows of events in rs (nil: an allocation).
func (t *Table) buildIn(rs *schema.RowSlab, st shape, opts schema.TableOptions, events []schema.Event) *Rows {
	opts.RefusedHints = t.refused()
	var stored *schema.Table
	if st.exists {
		stored = &st.table
	}
	want, batch, notes := schema.BuildIn(rs, t.driver.Dialect(), t.name, opts, events, stored)
	return &Rows{version: st.version, want: want, batch: batch, notes: notes}
}

// maxNotesLogged bounds the notes one log line shows: an event of 20,000
// keys must not write 20,000 lines.
const maxNotesLogged = 10

// report logs, in one line per batch, what the batch could not store in
// its own column.
func (t *Table) report(notes []schema.Note) {
	values, keys := 0, 0
	var shown []string
	for _, n := range notes {
		if n.Reason == schema.ReasonNearColumnLimit {
			t.log.Warn("table is close to the destination's column or row size limit", "columns", n.Count)
			continue
		}
		values += n.Count
		keys++
		if len(shown) < maxNotesLogged {
			shown = append(shown, n.String())
		}
	}
	if values > 0 {
		t.log.Warn("values kept in "+schema.UnmappedColumn, "values", values, "keys", keys, "first", shown)
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
