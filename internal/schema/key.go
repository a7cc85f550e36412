package schema

import (
	"encoding/json"
	"fmt"
	"strings"
)

// A field's key is its path from the event's root: the keys of the nested
// objects it is in, then its own. The path is held in one string, which is
// how the key is compared, hashed and recorded: the segments joined by
// keySep. That encoding is one-to-one, so {"a":{"b":1}} and {"a_b":1} are
// two keys — flattening with "_" would make them one. A segment holding
// keySep or keyEsc (possible only through a \u001e or \u001f escape in
// the JSON) has them escaped by keyEsc. A top-level key without them is
// its own encoding, so most keys cost nothing. The empty top-level key is
// keyEsc alone, so that no key is the empty string.
const (
	keySep = '\x1f'
	keyEsc = '\x1e'
)

// emptyKey is the key of the empty top-level key.
const emptyKey = string(keyEsc)

// KeyPath returns the segments of key, decoded.
func KeyPath(key string) []string {
	if key == emptyKey {
		return []string{""}
	}
	if strings.IndexByte(key, keySep) < 0 && strings.IndexByte(key, keyEsc) < 0 {
		return []string{key}
	}
	var out []string
	var seg []byte
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == keyEsc && i+1 < len(key):
			i++
			seg = append(seg, key[i])
		case c == keySep:
			out = append(out, string(seg))
			seg = seg[:0]
		default:
			seg = append(seg, c)
		}
	}
	return append(out, string(seg))
}

// KeyOf encodes a path as a key.
func KeyOf(path ...string) string {
	if len(path) == 1 && path[0] == "" {
		return emptyKey
	}
	var b []byte
	for i, s := range path {
		if i > 0 {
			b = append(b, keySep)
		}
		b = appendSegment(b, s)
	}
	return string(b)
}

// appendSegment appends one segment of a key, escaped.
func appendSegment(b []byte, seg string) []byte {
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c == keySep || c == keyEsc {
			b = append(b, keyEsc)
		}
		b = append(b, seg[i])
	}
	return b
}

// escapeSegment returns seg with keySep and keyEsc escaped; the common
// case, with neither, returns seg itself.
func escapeSegment(seg []byte) []byte {
	for _, c := range seg {
		if c == keySep || c == keyEsc {
			return appendSegment(nil, string(seg))
		}
	}
	return seg
}

// FlatKey is the key as flattened names read, the segments joined with
// "_" ({"a":{"b":1}} → "a_b"): what column names derive from, and what a
// destination's primaryKey and timestamp options name.
func FlatKey(key string) string {
	if strings.IndexByte(key, keySep) < 0 && strings.IndexByte(key, keyEsc) < 0 {
		return key
	}
	return strings.Join(KeyPath(key), "_")
}

// KeyString renders key for people: the segments joined with ".", or as a
// JSON array when a segment holds a "." or is empty, so it is never
// ambiguous.
func KeyString(key string) string {
	path := KeyPath(key)
	for _, s := range path {
		if s == "" || strings.Contains(s, ".") || strings.HasPrefix(s, "[") {
			b, _ := json.Marshal(path)
			return string(b)
		}
	}
	return strings.Join(path, ".")
}

// KeyJSON is key as a JSON array of its segments: how destinations record
// the key a column holds, readable by people.
func KeyJSON(key string) string {
	b, _ := json.Marshal(KeyPath(key))
	return string(b)
}

// ParseKeyJSON reads a key written by KeyJSON.
func ParseKeyJSON(s string) (string, error) {
	var path []string
	if err := json.Unmarshal([]byte(s), &path); err != nil || len(path) == 0 {
		return "", fmt.Errorf("recorded key %q is not a JSON array of strings", s)
	}
	return KeyOf(path...), nil
}
