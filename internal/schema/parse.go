package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// Errors of Parse, wrapped with the detail; the ingest API answers them
// with 400.
var (
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	ErrInvalidJSON = errors.New("invalid JSON")
	ErrNotObject   = errors.New("event is not a JSON object")
)

// Type hints, as Jitsu Bulker reads them: a member "__sql_type_<key>"
// gives the SQL type of its sibling <key>; "__sql_type" (or
// "__sql_type_") inside a nested object keeps that object whole, as one
// column of that type. The type is a string, or Jitsu's array form
// ["type", "ddl type"], whose last element is the type the column is
// created with. Hint members are never fields. A hint of another shape is
// kept as its JSON text, which no destination accepts as a type, so it is
// refused with a reason instead of silently ignored.
const hintKey = "__sql_type"

// maxFlattenDepth bounds flattening: objects nested deeper are kept whole
// as JSON. Their column names would be truncated and hashed anyway, and the
// bound keeps Parse linear on hostile input.
const maxFlattenDepth = 32

// Field is one column value of an event.
type Field struct {
	// Key is the path of the field's key (see KeyPath); Build maps it to
	// a column.
	Key string
	Value
}

// Event is a flattened event: its fields in first-seen order, one per key.
// A key missing from the event has no field; an explicit null has a field
// of type Null.
type Event struct {
	Fields []Field
	// SQLTypes are the type hints by field key; nil without any. Hints are
	// rare, so a field does not carry room for one.
	SQLTypes map[string]string
}

// Parse decodes one JSON object into an Event. Numbers keep their exact
// value; nested objects are flattened with "_"; arrays become JSON values;
// type hints are applied and are not fields. A key repeated in the object
// keeps its first position and its last value, as JSON decoders do.
func Parse(raw []byte) (Event, error) {
	var p Parser
	return p.Parse(raw)
}

// Parser parses events like Parse, reusing its scratch space from one
// event to the next: a loader parsing thousands of events keeps one per
// goroutine. The zero value is ready; it is not safe for concurrent use.
type Parser struct {
	p parser
	// Slab, when not nil, is where the fields of the events parsed next
	// are cut from, instead of an allocation per event.
	Slab *Slab
}

// Slab is memory for the fields of many events, reused from one batch to
// the next: each event's fields allocated on their own were the largest
// part of what a loader allocates. The events parsed into a slab hold
// their fields until its Reset. The zero value is ready, and grows to the
// size of the batches it serves.
type Slab struct{ buf []Field }

// Reset frees the slab for the events parsed next; the events parsed into
// it before must be out of use.
func (s *Slab) Reset() {
	clear(s.buf[:cap(s.buf)]) // old fields must not keep their strings alive
	s.buf = s.buf[:0]
}

// take returns room for an event of about n fields, of length 0: its
// fields are appended to it, and may outgrow it into memory of their own.
func (s *Slab) take(n int) []Field {
	if cap(s.buf)-len(s.buf) < n {
		// The events cut from the old buffer keep it; it is dropped with
		// them.
		s.buf = make([]Field, 0, max(2*cap(s.buf), 64*n))
	}
	l := len(s.buf)
	return s.buf[l:l:cap(s.buf)]
}

// keep marks fields, appended to what take returned, as in use, unless
// they outgrew the slab. The result cannot be appended to.
func (s *Slab) keep(fields []Field) []Field {
	if l := len(s.buf); len(fields) > 0 && l < cap(s.buf) && unsafe.SliceData(fields) == &s.buf[:l+1][l] {
		s.buf = s.buf[:l+len(fields)]
	}
	return fields[:len(fields):len(fields)]
}

// Parse is the package's Parse with the parser's scratch space.
func (ps *Parser) Parse(raw []byte) (Event, error) {
	return ps.parse(raw, string(raw))
}

// ParseShared is Parse without the copy of raw: the event's strings point
// into raw, which must not change while the event is in use. For input
// that is never written again, such as a consumed Kafka record's value, it
// saves a copy of every event.
func (ps *Parser) ParseShared(raw []byte) (Event, error) {
	return ps.parse(raw, unsafe.String(unsafe.SliceData(raw), len(raw)))
}

// parse flattens raw, whose text str is where values are cut from.
func (ps *Parser) parse(raw []byte, str string) (Event, error) {
	p := &ps.p
	p.slab = ps.Slab
	p.reset(raw, str)
	defer p.release()
	start := skipWS(raw, 0)
	if start < len(raw) && raw[start] == '{' {
		if end, ok := p.fastObject(start, 0); ok && skipWS(raw, end) == len(raw) {
			return p.finish(), nil
		}
	}
	// The checked path: check the whole input, then flatten it again with
	// every hint known before the fields it applies to.
	if err := check(raw); err != nil {
		return Event{}, err
	}
	p.rewind()
	p.object(start, 0)
	return p.finish(), nil
}

// check says what is wrong with input that is not one JSON object in
// valid UTF-8.
func check(raw []byte) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("%w at byte %d", ErrInvalidUTF8, firstInvalidUTF8(raw))
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		err := json.Unmarshal(raw, &v)
		if err == nil { // cannot happen: Valid and Unmarshal agree
			err = errors.New("rejected")
		}
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if c := raw[skipWS(raw, 0)]; c != '{' {
		return fmt.Errorf("%w: got %s", ErrNotObject, kindOf(c))
	}
	return nil
}

// reset readies the parser for raw, whose text str goes to the event with
// the fields; the rest is scratch, sized on first use. The fields are
// emitted straight into the event's slice, sized like the previous event's:
// events of a stream mostly share their shape, and a copy to the right size
// would cost as much as the parse's allocations.
func (p *parser) reset(raw []byte, str string) {
	p.src, p.str = raw, str
	n := p.lastFields
	if n == 0 {
		n = min(bytes.Count(raw, []byte{':'}), 1024) // every member has a colon
	}
	if p.slab != nil {
		p.fields = p.slab.take(n)
	} else {
		p.fields = make([]Field, 0, n)
	}
	if cap(p.members) == 0 {
		p.spans, p.arena = make([]span, 0, 32), make([]byte, 0, len(raw))
		p.members, p.key = make([]member, 0, 32), make([]byte, 0, 128)
	}
	p.rewind()
}

// rewind drops what a partial pass emitted.
func (p *parser) rewind() {
	p.fields, p.spans, p.arena = p.fields[:0], p.spans[:0], p.arena[:0]
	p.members, p.hints, p.key, p.typed = p.members[:0], p.hints[:0], p.key[:0], p.typed[:0]
}

// release lets go of the input.
func (p *parser) release() { p.src, p.str, p.slab = nil, "", nil }

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func kindOf(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// member is one key of an object: the offsets of the quoted key and of
// the value in the input.
type member struct {
	keyStart, keyEnd int
	start, end       int
}

type span struct{ off, n int }

type hint struct {
	key     string // full key path the hint applies to
	sqlType string
}

// typed is a field emitted with a hint's SQL type.
type typed struct {
	field   int // index in parser.fields
	sqlType string
}

// parser flattens events. Its checked path (object and the functions it
// calls) walks input already checked by json.Valid, so it trusts the
// syntax. Its slices are stacks shared by the nesting levels.
type parser struct {
	src    []byte
	str    string  // src, once converted: values are cut from it
	fields []Field // the event's, until finish hands them over
	slab   *Slab   // where fields is cut from; nil: an allocation
	// lastFields is how many fields the previous event emitted, lastKeys
	// its key arena.
	lastFields int
	lastKeys   string
	spans      []span // of each field's key in arena
	arena      []byte
	members    []member
	hints      []hint
	key        []byte
	typed      []typed
}

// object flattens the object starting at src[i] under the current key.
func (p *parser) object(i, depth int) {
	base := len(p.members)
	hintBase := len(p.hints)
	defer func() {
		p.members = p.members[:base]
		p.hints = p.hints[:hintBase]
	}()
	// First pass: the members, so hints are known before their siblings.
	i = skipWS(p.src, i+1)
	for p.src[i] != '}' {
		kEnd := stringEnd(p.src, i)
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		p.members = append(p.members, member{i, kEnd, vStart, vEnd})
		i = skipWS(p.src, vEnd)
		if p.src[i] == ',' {
			i = skipWS(p.src, i+1)
		}
	}
	prefix := len(p.key)
	nested := depth > 0
	for _, m := range p.members[base:] {
		if target, ok := hintTarget(p.name(m)); ok && len(target) > 0 {
			p.appendKey(prefix, nested, target)
			p.hints = append(p.hints, hint{string(p.key), p.hintValue(m.start, m.end)})
		}
	}
	for _, m := range p.members[base:] {
		name := p.name(m)
		if _, ok := hintTarget(name); ok {
			continue
		}
		p.appendKey(prefix, nested, name)
		sqlType := p.hintFor()
		if p.src[m.start] != '{' {
			p.emitTyped(p.scalar(m.start, m.end), sqlType)
			continue
		}
		// The object's own hint is the innermost one.
		if inner, ok := p.objectHint(m.start); ok {
			p.emitTyped(JSONValue(p.withoutHint(m.start, m.end)), inner)
		} else if sqlType != "" || depth+1 >= maxFlattenDepth {
			p.emitTyped(JSONValue(p.compact(m.start, m.end)), sqlType)
		} else {
			p.object(m.start, depth+1)
		}
	}
	p.key = p.key[:prefix]
}

// name is the decoded key of m, escaped as a key segment; it aliases the
// input unless escaped.
func (p *parser) name(m member) []byte {
	q := p.src[m.keyStart:m.keyEnd]
	for _, c := range q {
		if c == '\\' {
			return escapeSegment([]byte(unquote(q)))
		}
	}
	return q[1 : len(q)-1]
}

// hintTarget reports whether the member name is a type hint, and the key
// of the sibling it applies to; empty for the enclosing object's own hint.
func hintTarget(name []byte) (target []byte, ok bool) {
	if len(name) < len(hintKey) || string(name[:len(hintKey)]) != hintKey {
		return nil, false
	}
	target = name[len(hintKey):]
	if len(target) > 0 && target[0] == '_' {
		target = target[1:]
	}
	return target, true
}

// hintValue is the SQL type of the hint value src[start:end] (see hintKey).
func (p *parser) hintValue(start, end int) string {
	switch p.src[start] {
	case '"':
		return unquote(p.src[start:end])
	case '[':
		var types []string
		if json.Unmarshal(p.src[start:end], &types) == nil && len(types) > 0 {
			return types[len(types)-1]
		}
	}
	return p.compact(start, end)
}

// appendKey sets the key stack to the key at prefix extended with name,
// the segments separated by keySep even when a key is empty.
func (p *parser) appendKey(prefix int, nested bool, name []byte) {
	p.key = p.key[:prefix]
	if nested {
		p.key = append(p.key, keySep)
	}
	p.key = append(p.key, name...)
}

// hintFor returns the innermost hint for the current key. A hint names its
// key by the key's path, or, as in Jitsu Bulker, by the key as flattened
// ("__sql_type_o_x" for {"o":{"x":1}}).
func (p *parser) hintFor() string {
	for i := len(p.hints) - 1; i >= 0; i-- {
		if flatEqual(p.hints[i].key, p.key) {
			return p.hints[i].sqlType
		}
	}
	return ""
}

// flatEqual reports whether two keys are equal once flattened, the
// separator read as "_" (escaped segments, which cannot come from a hint's
// name, compare as they are).
func flatEqual(a string, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == keySep {
			x = '_'
		}
		if y == keySep {
			y = '_'
		}
		if x != y {
			return false
		}
	}
	return true
}

// objectHint looks for the object's own hint ("__sql_type") directly in
// the object src[start:end].
func (p *parser) objectHint(start int) (sqlType string, ok bool) {
	for i := skipWS(p.src, start+1); p.src[i] != '}'; {
		kEnd := stringEnd(p.src, i)
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		if target, ok := hintTarget(p.name(member{keyStart: i, keyEnd: kEnd})); ok && len(target) == 0 {
			return p.hintValue(vStart, vEnd), true
		}
		i = skipWS(p.src, vEnd)
		if p.src[i] == ',' {
			i = skipWS(p.src, i+1)
		}
	}
	return "", false
}

// withoutHint renders the object src[start:end] compacted, without its
// own hint member: the hint is not data. Hints for its members stay: they
// are part of the object as stored.
func (p *parser) withoutHint(start, end int) string {
	out := make([]byte, 0, end-start)
	out = append(out, '{')
	for i := skipWS(p.src, start+1); p.src[i] != '}'; {
		kEnd := stringEnd(p.src, i)
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		if target, ok := hintTarget(p.name(member{keyStart: i, keyEnd: kEnd})); !ok || len(target) > 0 {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, p.src[i:kEnd]...)
			out = append(out, ':')
			out = appendCompact(out, p.src[vStart:vEnd])
		}
		i = skipWS(p.src, vEnd)
		if p.src[i] == ',' {
			i = skipWS(p.src, i+1)
		}
	}
	return string(append(out, '}'))
}

// emit appends a field of v under the current key, which goes to the key
// arena.
func (p *parser) emit(v Value) {
	key := p.key
	if len(key) == 0 {
		key = append(key, emptyKey...)
	}
	p.spans = append(p.spans, span{len(p.arena), len(key)})
	p.arena = append(p.arena, key...)
	p.fields = append(p.fields, Field{Value: v})
}

// emitTyped emits v with the SQL type of a hint, if any.
func (p *parser) emitTyped(v Value, sqlType string) {
	if sqlType != "" {
		p.typed = append(p.typed, typed{len(p.fields), sqlType})
	}
	p.emit(v)
}

// finish gives the fields their keys, all cut from one string, and makes
// the event. Events of a stream mostly repeat the keys of the one before:
// they then share its string, which costs no allocation and lets Build
// compare keys by pointer.
func (p *parser) finish() Event {
	keys := p.lastKeys
	if string(p.arena) != keys {
		keys = string(p.arena)
		p.lastKeys = keys
	}
	for i, sp := range p.spans {
		p.fields[i].Key = keys[sp.off : sp.off+sp.n]
	}
	var sqlTypes map[string]string
	if len(p.typed) > 0 {
		// A repeated key takes its last value, hint or none.
		sqlTypes = make(map[string]string, len(p.typed))
		next := 0
		for i, f := range p.fields {
			if next < len(p.typed) && p.typed[next].field == i {
				sqlTypes[f.Key] = p.typed[next].sqlType
				next++
			} else {
				delete(sqlTypes, f.Key)
			}
		}
	}
	p.lastFields = len(p.fields)
	fields := p.fields
	if p.slab != nil {
		fields = p.slab.keep(fields)
	}
	fields = dedup(fields)
	p.fields = nil
	return Event{Fields: fields, SQLTypes: sqlTypes}
}

// text decodes the JSON string src[start:end]; without escapes it is cut
// from the input's string, which costs no allocation.
func (p *parser) text(start, end int) string {
	for _, c := range p.src[start+1 : end-1] {
		if c == '\\' {
			return unquote(p.src[start:end])
		}
	}
	return p.str[start+1 : end-1]
}

// compact is the JSON value src[start:end] without insignificant
// whitespace, cut from the input's string when it has none.
func (p *parser) compact(start, end int) string {
	for _, c := range p.src[start:end] {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return compact(p.src[start:end])
		}
	}
	return p.str[start:end]
}

// scalar infers the value of the JSON value src[start:end], not an object.
func (p *parser) scalar(start, end int) Value {
	v := p.src[start:end]
	switch v[0] {
	case 'n':
		return NullValue()
	case 't':
		return BoolValue(true)
	case 'f':
		return BoolValue(false)
	case '[':
		return JSONValue(p.compact(start, end))
	case '"':
		return stringValue(p.text(start, end))
	default:
		return number(p.str[start:end])
	}
}

// stringValue infers the value of a JSON string's text s: a timestamp, kept
// with s as sent, or text.
func stringValue(s string) Value {
	if t, ok := parseTimestamp(s); ok {
		v := TimeValue(t)
		v.s = s
		return v
	}
	return TextValue(s)
}

// dedup merges repeated keys: first position, last value. A key can only
// repeat one of the same length and last byte, and most keys of an event
// differ in one of them: those are compared with no other key.
func dedup(fs []Field) []Field {
	if len(fs) > 32 {
		return dedupMap(fs)
	}
	var seen uint64 // a bit per class of length and last byte
	for i := range fs {
		k := fs[i].Key
		class := len(k)
		if class > 0 {
			class = class*7 + int(k[class-1])
		}
		bit := uint64(1) << (class & 63)
		if seen&bit != 0 {
			for j := range i {
				if fs[j].Key == k {
					return dedupMap(fs)
				}
			}
		}
		seen |= bit
	}
	return fs
}

func dedupMap(fs []Field) []Field {
	pos := make(map[string]int, len(fs))
	out := fs[:0]
	for _, f := range fs {
		if i, ok := pos[f.Key]; ok {
			out[i] = f
			continue
		}
		pos[f.Key] = len(out)
		out = append(out, f)
	}
	return out
}
