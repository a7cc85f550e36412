package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors of Parse, wrapped with the detail; the ingest API answers them
// with 400.
var (
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	ErrInvalidJSON = errors.New("invalid JSON")
	ErrNotObject   = errors.New("event is not a JSON object")
)

// Type hint keys. "__sql_type_<col>" gives the SQL type of the sibling
// column <col>; "__sql_type" inside a nested object keeps that object
// whole as one JSON column. Only string values are hints.
const (
	hintKey    = "__sql_type"
	hintPrefix = "__sql_type_"
)

// maxFlattenDepth bounds flattening: objects nested deeper are kept whole
// as JSON. Their column names would be truncated and hashed anyway, and the
// bound keeps Parse linear on hostile input.
const maxFlattenDepth = 32

// Field is one column value of an event.
type Field struct {
	// Key is the original key path, the segments joined with "_"
	// ({"a":{"b":1}} → "a_b"); Build sanitises it for the dialect.
	Key   string
	Type  DataType
	Value any // the Go value of Type (see DataType); nil for a JSON null
	// SQLType comes from a type hint; empty without one.
	SQLType string
	// lit is the value as sent, for numbers (the JSON literal) and
	// timestamps (the string), so a cast to text or JSON is exact.
	lit string
}

// Event is a flattened event: its fields in first-seen order, one per key.
// A key missing from the event has no field; an explicit null has a field
// of type Null.
type Event struct {
	Fields []Field
}

// Parse decodes one JSON object into an Event. Numbers keep their exact
// value; nested objects are flattened with "_"; arrays become JSON values;
// type hints are applied and are not fields. A key repeated in the object
// keeps its first position and its last value, as JSON decoders do.
func Parse(raw []byte) (Event, error) {
	if !utf8.Valid(raw) {
		return Event{}, fmt.Errorf("%w at byte %d", ErrInvalidUTF8, firstInvalidUTF8(raw))
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		err := json.Unmarshal(raw, &v)
		if err == nil { // cannot happen: Valid and Unmarshal agree
			err = errors.New("rejected")
		}
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	start := skipWS(raw, 0)
	if raw[start] != '{' {
		return Event{}, fmt.Errorf("%w: got %s", ErrNotObject, kindOf(raw[start]))
	}
	p := parser{src: raw}
	p.object(start, 0)
	return Event{Fields: dedup(p.fields)}, nil
}

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

// member is one key of an object, with the raw bytes of its value.
type member struct {
	key        string
	start, end int
}

type hint struct {
	key     string // full key path the hint applies to
	sqlType string
}

// parser walks input already checked by json.Valid, so it trusts the
// syntax. Its slices are stacks shared by the nesting levels.
type parser struct {
	src     []byte
	fields  []Field
	members []member
	hints   []hint
	key     []byte
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
		key := unquote(p.src[i:kEnd])
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		p.members = append(p.members, member{key, vStart, vEnd})
		i = skipWS(p.src, vEnd)
		if p.src[i] == ',' {
			i = skipWS(p.src, i+1)
		}
	}
	prefix := len(p.key)
	for _, m := range p.members[base:] {
		if p.src[m.start] == '"' && m.key != hintKey && isHint(m.key) {
			p.hints = append(p.hints, hint{p.childKey(prefix, m.key[len(hintPrefix):]), unquote(p.src[m.start:m.end])})
		}
	}
	p.key = p.key[:prefix]
	for _, m := range p.members[base:] {
		if isHint(m.key) && p.src[m.start] == '"' {
			continue
		}
		key := p.childKey(prefix, m.key)
		sqlType := p.hintFor(key)
		if p.src[m.start] == '{' {
			inner, whole := p.objectHint(m.start, m.end)
			switch {
			case whole:
				p.fields = append(p.fields, Field{Key: key, Type: JSON, Value: p.withoutHint(m.start, m.end), SQLType: inner})
			case sqlType != "" || depth+1 >= maxFlattenDepth:
				p.fields = append(p.fields, Field{Key: key, Type: JSON, Value: compact(p.src[m.start:m.end]), SQLType: sqlType})
			default:
				p.object(m.start, depth+1)
			}
		} else {
			f := scalar(p.src[m.start:m.end])
			f.Key, f.SQLType = key, sqlType
			p.fields = append(p.fields, f)
		}
		p.key = p.key[:prefix]
	}
}

func isHint(key string) bool {
	return key == hintKey || len(key) > len(hintPrefix) && key[:len(hintPrefix)] == hintPrefix
}

// childKey extends the key stack with name and returns the full key.
func (p *parser) childKey(prefix int, name string) string {
	p.key = p.key[:prefix]
	if prefix > 0 {
		p.key = append(p.key, '_')
	}
	p.key = append(p.key, name...)
	return string(p.key)
}

// hintFor returns the innermost hint for key.
func (p *parser) hintFor(key string) string {
	for i := len(p.hints) - 1; i >= 0; i-- {
		if p.hints[i].key == key {
			return p.hints[i].sqlType
		}
	}
	return ""
}

// objectHint looks for a string "__sql_type" member directly in the object
// src[start:end].
func (p *parser) objectHint(start, end int) (sqlType string, ok bool) {
	for i := skipWS(p.src, start+1); p.src[i] != '}'; {
		kEnd := stringEnd(p.src, i)
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		if p.src[vStart] == '"' && kEnd-i == len(hintKey)+2 && string(p.src[i+1:kEnd-1]) == hintKey {
			return unquote(p.src[vStart:vEnd]), true
		}
		i = skipWS(p.src, vEnd)
		if p.src[i] == ',' {
			i = skipWS(p.src, i+1)
		}
	}
	return "", false
}

// withoutHint renders the object src[start:end] compacted, without its
// "__sql_type" member: the hint is not data.
func (p *parser) withoutHint(start, end int) json.RawMessage {
	out := make([]byte, 0, end-start)
	out = append(out, '{')
	for i := skipWS(p.src, start+1); p.src[i] != '}'; {
		kEnd := stringEnd(p.src, i)
		vStart := skipWS(p.src, skipWS(p.src, kEnd)+1)
		vEnd := valueEnd(p.src, vStart)
		if p.src[vStart] != '"' || unquote(p.src[i:kEnd]) != hintKey {
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
	return append(out, '}')
}

// scalar infers the field of a JSON value that is not an object.
func scalar(v []byte) Field {
	switch v[0] {
	case 'n':
		return Field{Type: Null}
	case 't':
		return Field{Type: Bool, Value: true}
	case 'f':
		return Field{Type: Bool, Value: false}
	case '[':
		return Field{Type: JSON, Value: compact(v)}
	case '"':
		s := unquote(v)
		if t, ok := parseTimestamp(s); ok {
			return Field{Type: Timestamp, Value: t, lit: s}
		}
		return Field{Type: Text, Value: s}
	default:
		return number(string(v))
	}
}

// dedup merges repeated keys: first position, last value.
func dedup(fs []Field) []Field {
	if len(fs) <= 32 {
		for i := 1; i < len(fs); i++ {
			for j := 0; j < i; j++ {
				if fs[j].Key == fs[i].Key {
					return dedupMap(fs)
				}
			}
		}
		return fs
	}
	return dedupMap(fs)
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
