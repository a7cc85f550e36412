package schema

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// How keys map to columns. The rule is a function of the key and the table
// alone — not of the batch, the order of keys or a restart — and one-to-one:
//
//  1. A column recorded for the key (Column.Key) is the key's column.
//  2. Otherwise a column no key owns yet, made by another tool or an
//     earlier version, is taken by the first key whose name it bears: the
//     key as flattened (Jitsu keeps case: "camelCase"), Jitsu's name for
//     it, or the key's natural name (below). Taking it records the key.
//  3. Otherwise the key gets a new column, recorded for it: its natural
//     name — the key flattened with "_" and sanitised (SanitizeIdent) —
//     unless a column has that name already, else the natural name cut to
//     fit with "_" and a hash of the key appended, which only that key has.
//
// Within a batch, keys claim names in a fixed order: keys already in
// canonical form first ("a_b" before {"a":{"b":…}} before "A_B"), then by
// the key's bytes. So two keys never share a column, and a key keeps its
// column whatever else arrives with it.

// plan maps each key of the batch to a column of want, adding the columns
// it needs.
func (bd *builder) plan(events []Event) {
	bd.keyCol = make([]int, len(bd.infos))
	m := newMapper(bd.d, bd.want.Columns)
	var open []int // keys without a column yet
	for i, in := range bd.infos {
		if c, ok := m.owned[in.key]; ok {
			bd.keyCol[i] = c
		} else {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		// The common case, every key has its column: no names to look up
		// but one, without building the mapper's indexes.
		bd.unmapped, bd.hasUnmapped = findColumn(bd.d, bd.want.Columns, UnmappedColumn)
		if !bd.hasUnmapped {
			bd.unmapped = len(bd.want.Columns)
		}
		return
	}
	m.indexNames()
	slices.SortFunc(open, bd.byRank)
	// Columns no key owns go to keys in passes, the closest match first:
	// a name equal to the key beats a name equal once case is folded.
	for _, pass := range []func(string) (int, bool){m.byHash, m.byExactName, m.byFoldedName} {
		rest := open[:0]
		for _, i := range open {
			if c, ok := pass(bd.infos[i].key); ok {
				bd.keyCol[i] = c
			} else {
				rest = append(rest, i)
			}
		}
		open = rest
	}
	rest := open // keys needing a new column
	slices.Sort(rest)
	bd.want.Columns = m.cols
	bd.unmapped, bd.hasUnmapped = m.index.find(UnmappedColumn)
	// Which keys get a column is decided in first-seen order, so the
	// overflow is the batch's last keys; names are then claimed in the
	// fixed order, and the columns appended in first-seen order.
	fills := bd.fills(events)
	cols := make(map[int]Column, len(rest))
	var made []int
	for _, i := range rest {
		in := bd.infos[i]
		bd.keyCol[i] = -1
		if bd.opts.SchemaFreeze || bd.opts.OmitNils && in.typ == Null {
			continue
		}
		c := Column{Type: in.typ, Key: in.key}
		if in.hint != "" && !bd.opts.RefusedHints[in.hint] {
			c.SQLType, c.Type = in.hint, HintType(in.hint)
		}
		if c.Type == Null {
			c.Type = Text
		}
		if fills(i, c.Type) && bd.room(c, len(made)) {
			cols[i] = c
			made = append(made, i)
			bd.newBytes += bd.d.TypeBytes[c.Type]
		}
	}
	byRank := slices.Clone(made)
	slices.SortFunc(byRank, bd.byRank)
	for _, i := range byRank {
		c := cols[i]
		c.Name = m.name(bd.infos[i].key)
		m.claim(c.Name)
		cols[i] = c
	}
	for _, i := range made {
		bd.keyCol[i] = len(bd.want.Columns)
		bd.want.Columns = append(bd.want.Columns, cols[i])
	}
	if !bd.hasUnmapped {
		bd.unmapped = len(bd.want.Columns) // added by rows if used
	}
}

// byRank orders key indexes as keys claim names: by rank, then by bytes.
func (bd *builder) byRank(a, b int) int {
	ka, kb := bd.infos[a].key, bd.infos[b].key
	if ra, rb := rank(bd.d, ka), rank(bd.d, kb); ra != rb {
		return ra - rb
	}
	return strings.Compare(ka, kb)
}

// rank orders keys claiming the same name: 0 for a plain key already in
// canonical form, 1 for a nested key whose segments are, 2 for the rest.
func rank(d Dialect, key string) int {
	flat := FlatKey(key)
	switch {
	case SanitizeIdent(d, flat) != flat:
		return 2
	case flat != key:
		return 1
	}
	return 0
}

// fills returns whether some value of key i in the batch can be stored in
// a column of type t: no column is made that only UnmappedColumn would
// fill.
func (bd *builder) fills(events []Event) func(i int, t DataType) bool {
	return func(i int, t DataType) bool {
		if t == bd.infos[i].typ || t == Text || t == JSON {
			return true // every value casts to its common type and to text
		}
		next := 0
		for _, e := range events {
			for _, f := range e.Fields {
				if int(bd.fieldKey[next]) == i {
					if _, ok := Cast(f.Value, t); ok {
						return true
					}
				}
				next++
			}
		}
		return false
	}
}

// room reports whether want, with made new columns already, has room for
// the new column c under the dialect's column and row size limits,
// keeping room for UnmappedColumn.
func (bd *builder) room(c Column, made int) bool {
	d := bd.d
	extra := made + 1 // c
	if !bd.hasUnmapped {
		extra++ // UnmappedColumn, should values overflow
	}
	if n := bd.maxColumns(); n > 0 && len(bd.want.Columns)+extra > n {
		return false
	}
	if d.MaxRowBytes > 0 {
		if bd.storedBytes < 0 {
			bd.storedBytes = rowBytes(d, bd.want.Columns)
		}
		n := bd.storedBytes + bd.newBytes + d.TypeBytes[c.Type]
		if !bd.hasUnmapped {
			n += d.TypeBytes[JSON]
		}
		return n <= d.MaxRowBytes
	}
	return true
}

// rowBytes is the most a row of cols takes, by the dialect's estimates.
func rowBytes(d Dialect, cols []Column) int {
	n := 0
	for _, c := range cols {
		n += d.TypeBytes[c.Type]
	}
	return n
}

// mapper finds and makes the columns of keys (see plan).
type mapper struct {
	d     Dialect
	cols  []Column
	owned map[string]int // key → its column
	index columnIndex    // names of cols
	// claimed holds the names of the columns made or taken in this batch,
	// compared as the dialect compares them.
	claimed map[string]bool
}

// newMapper returns the mapper of cols; before it looks columns up by name
// it needs indexNames.
func newMapper(d Dialect, cols []Column) *mapper {
	m := &mapper{d: d, cols: cols, owned: make(map[string]int, len(cols))}
	for i, c := range cols {
		if c.Key != "" {
			m.owned[c.Key] = i
		}
	}
	return m
}

func (m *mapper) indexNames() {
	m.index = newColumnIndex(m.d, m.cols)
	m.claimed = map[string]bool{}
}

// byHash finds the column named with the key's hashed name, made for it
// by an earlier version or before its record was written; it is recorded
// for the key.
func (m *mapper) byHash(key string) (int, bool) {
	if i, ok := m.index.exact[withHash(m.d, SanitizeIdent(m.d, FlatKey(key)), key)]; ok && m.free(i) {
		return m.take(i, key), true
	}
	return 0, false
}

// names are the names a column made for key by another tool or an earlier
// version may bear: the key flattened, Jitsu's name, the natural name.
func (m *mapper) names(key string) [3]string {
	flat := FlatKey(key)
	return [3]string{flat, jitsuName(m.d, flat), SanitizeIdent(m.d, flat)}
}

// byExactName takes the column no key owns that bears one of the key's
// names exactly (rule 2).
func (m *mapper) byExactName(key string) (int, bool) {
	for _, name := range m.names(key) {
		if i, ok := m.index.exact[name]; ok && m.free(i) {
			return m.take(i, key), true
		}
	}
	return 0, false
}

// byFoldedName is byExactName for names compared without case, where the
// dialect compares them so.
func (m *mapper) byFoldedName(key string) (int, bool) {
	if !m.d.FoldsNames {
		return 0, false
	}
	for _, name := range m.names(key) {
		if i, ok := m.index.find(name); ok && m.free(i) {
			return m.take(i, key), true
		}
	}
	return 0, false
}

func (m *mapper) free(i int) bool {
	return m.cols[i].Key == "" && !m.claimed[m.fold(m.cols[i].Name)] && m.cols[i].Name != UnmappedColumn
}

func (m *mapper) take(i int, key string) int {
	m.cols[i].Key = key
	m.owned[key] = i
	m.claim(m.cols[i].Name)
	return i
}

func (m *mapper) claim(name string) { m.claimed[m.fold(name)] = true }

func (m *mapper) fold(name string) string {
	if m.d.FoldsNames {
		return fold(name)
	}
	return name
}

// taken reports whether a column could not be named name.
func (m *mapper) taken(name string) bool {
	if _, ok := m.index.find(name); ok {
		return true
	}
	return m.claimed[m.fold(name)] || m.fold(name) == m.fold(UnmappedColumn)
}

// name is the name of a new column for key (rule 3).
func (m *mapper) name(key string) string {
	natural := SanitizeIdent(m.d, FlatKey(key))
	if !m.taken(natural) {
		return natural
	}
	name := withHash(m.d, natural, key)
	for attempt := 1; m.taken(name); attempt++ {
		// Two keys whose hashes collide: unlikely, and settled by order.
		name = withHash(m.d, natural, key+"\x00"+strconv.Itoa(attempt))
	}
	return name
}

// columnIndex finds a column by name: exactly, and also ignoring case
// where the dialect compares names that way.
type columnIndex struct {
	exact, folded map[string]int
}

func newColumnIndex(d Dialect, cols []Column) columnIndex {
	x := columnIndex{exact: make(map[string]int, len(cols))}
	if d.FoldsNames {
		x.folded = make(map[string]int, len(cols))
	}
	for i, c := range cols {
		x.exact[c.Name] = i
		if x.folded != nil {
			if _, dup := x.folded[fold(c.Name)]; !dup {
				x.folded[fold(c.Name)] = i
			}
		}
	}
	return x
}

// findColumn is columnIndex.find without an index, for a single lookup.
func findColumn(d Dialect, cols []Column, name string) (int, bool) {
	if i := slices.IndexFunc(cols, func(c Column) bool { return c.Name == name }); i >= 0 {
		return i, true
	}
	if d.FoldsNames {
		f := fold(name)
		if i := slices.IndexFunc(cols, func(c Column) bool { return fold(c.Name) == f }); i >= 0 {
			return i, true
		}
	}
	return 0, false
}

func (x columnIndex) find(name string) (int, bool) {
	if i, ok := x.exact[name]; ok {
		return i, true
	}
	if x.folded != nil {
		i, ok := x.folded[fold(name)]
		return i, ok
	}
	return 0, false
}

// jitsuUnsupported is what Jitsu Bulker replaces in column names: all but
// letters, digits, "_", space, "$" and "-".
var jitsuUnsupported = regexp.MustCompile(`[^\p{L}_\d $-]+`)

// jitsuName is the column Jitsu Bulker makes for a flattened key, so that
// its tables load on: case kept, unsupported characters replaced by "_",
// "_unnamed" for an empty key, "column_" and an MD5 for a key with nothing
// left, and cut at the dialect's length.
func jitsuName(d Dialect, flat string) string {
	if flat == "" {
		return "_unnamed"
	}
	name := jitsuUnsupported.ReplaceAllString(flat, "_")
	if name == "" || name == "_" {
		sum := md5.Sum([]byte(flat))
		return "column_" + hex.EncodeToString(sum[:])
	}
	if d.MaxIdentLen > 0 && len(name) > d.MaxIdentLen {
		cut := d.MaxIdentLen
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}

// JitsuTableName is the table Jitsu Bulker makes for a requested table
// name: as jitsuName, case kept. A name with no letters or digits, for
// which Jitsu hashes, gets the natural name.
func JitsuTableName(d Dialect, table string) string {
	if n := jitsuUnsupported.ReplaceAllString(table, "_"); n == "" || n == "_" {
		return SanitizeIdent(d, table)
	}
	return jitsuName(d, table)
}

// appendNested appends fields as one JSON object, nesting each field's
// value along its key's path, as it was sent: {"a":{"b":1},"a_b":2}.
func appendNested(out []byte, fields []Field) []byte {
	fs := slices.Clone(fields)
	// Sorted by key, fields of one object are neighbours.
	slices.SortStableFunc(fs, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	out = append(out, '{')
	var open []string // path of the object being written
	for i, f := range fs {
		path := KeyPath(f.Key)
		common := 0
		for common < len(open) && common < len(path)-1 && open[common] == path[common] {
			common++
		}
		for range len(open) - common {
			out = append(out, '}')
		}
		open = open[:common]
		if i > 0 && out[len(out)-1] != '{' {
			out = append(out, ',')
		}
		for _, seg := range path[common : len(path)-1] {
			out = appendQuoted(out, seg)
			out = append(out, ':', '{')
			open = append(open, seg)
		}
		out = appendQuoted(out, path[len(path)-1])
		out = append(out, ':')
		out = f.appendJSON(out)
	}
	for range open {
		out = append(out, '}')
	}
	return append(out, '}')
}
