package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.ndjson"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			f.Add(line)
		}
	}
	for _, s := range []string{`{}`, `[]`, `{"a":{"__sql_type":"json"}}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
		`{"a":{"b":{"c":[1,{"d":2}]}},"a_b_c":3}`, `{"__sql_type_a":"int","a":{"b":1}}`, `{"a":1e400,"b":-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Parse(raw)
		acceptable := utf8.Valid(raw) && json.Valid(raw) && bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{"))
		if err != nil {
			if acceptable {
				t.Fatalf("valid object refused: %v", err)
			}
			if !errors.Is(err, ErrInvalidJSON) && !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrNotObject) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if !acceptable {
			t.Fatalf("accepted %q", raw)
		}
		again, err := Parse(raw)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("flattening is not deterministic")
		}
		// Sharing the input changes nothing but the copy.
		var ps Parser
		if shared, err := ps.ParseShared(bytes.Clone(raw)); err != nil || !reflect.DeepEqual(shared, e) {
			t.Fatalf("ParseShared %+v, %v; Parse %+v", shared, err, e)
		}
		// The fast path and the checked path flatten alike.
		if checked := parseChecked(raw); !reflect.DeepEqual(checked, e) {
			t.Fatalf("fast path %+v, checked path %+v", e, checked)
		}
		keys := map[string]bool{}
		for _, fl := range e.Fields {
			if keys[fl.Key] {
				t.Fatalf("key %q twice", fl.Key)
			}
			keys[fl.Key] = true
			if fl.Type != Null && !goTypeOK(fl.Type, fl.Value) {
				t.Fatalf("field %s: %s holds %v", fl.Key, fl.Type, fl.Any())
			}
			if !utf8.ValidString(fl.Key) {
				t.Fatalf("key %q is not UTF-8", fl.Key)
			}
			if s := fl.Str(); !utf8.ValidString(s) {
				t.Fatalf("value %q is not UTF-8", s)
			}
		}
		// Top-level keys without "_" cannot come from flattening: compare
		// their scalar values with encoding/json.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatal(err)
		}
		for _, fl := range e.Fields {
			v, ok := top[fl.Key]
			if !ok || strings.Contains(fl.Key, "_") {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil && fl.Type == Text && fl.Str() != s {
				t.Fatalf("key %q: %q, encoding/json says %q", fl.Key, fl.Str(), s)
			}
		}
		want, b, _ := Build(postgres, "t", TableOptions{}, []Event{e, e}, nil)
		checkBatch(t, want, b)
		checkKept(t, e, want, b.Rows[0])

		// Against a stored table whose columns have other types, every
		// value is cast or kept in UnmappedColumn, never dropped.
		stored := Table{Name: "t"}
		for i, c := range want.Columns {
			if c.Name != UnmappedColumn {
				c.Type = DataType(1 + i%6)
				stored.Columns = append(stored.Columns, c)
			}
		}
		want, b, _ = Build(postgres, "t", TableOptions{}, []Event{e}, &stored)
		checkBatch(t, want, b)
		checkKept(t, e, want, b.Rows[0])
	})
}

// checkKept asserts that every field of e is in row: in the column of its
// key or along its key's path in UnmappedColumn.
func checkKept(t *testing.T, e Event, want Table, row []Value) {
	t.Helper()
	var unmapped map[string]any
	inColumn := map[string]bool{}
	for j, v := range row {
		switch {
		case v.IsAbsent():
		case want.Columns[j].Name == UnmappedColumn:
			dec := json.NewDecoder(strings.NewReader(v.Str()))
			dec.UseNumber() // 1e400 is JSON, not a float64
			if err := dec.Decode(&unmapped); err != nil {
				t.Fatalf("unmapped %s: %v", v.Str(), err)
			}
		default:
			inColumn[want.Columns[j].Key] = true
		}
	}
	for _, f := range e.Fields {
		if !inColumn[f.Key] && !hasPath(unmapped, KeyPath(f.Key)) {
			t.Fatalf("field %s is in no column and not in %s", KeyString(f.Key), UnmappedColumn)
		}
	}
}

// hasPath reports whether the decoded JSON object has a value at path.
func hasPath(obj map[string]any, path []string) bool {
	for i, seg := range path {
		v, ok := obj[seg]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		if obj, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}

func FuzzSanitizeIdent(f *testing.F) {
	for _, s := range []string{"user_id", "User Name", "", "1st", "ключ", "emoji😀", "a\x00b", "\xff",
		strings.Repeat("ä", 40), strings.Repeat("x", 70), "İstanbul", "ǅ", "K"} {
		f.Add(s, uint8(63), true, true)
		f.Add(s, uint8(64), false, false)
	}
	f.Fuzz(func(t *testing.T, name string, maxLen uint8, inBytes, lower bool) {
		d := Dialect{MaxIdentLen: int(maxLen) % 80, LenInBytes: inBytes, Lowercase: lower}
		s := SanitizeIdent(d, name)
		if s == "" || !utf8.ValidString(s) {
			t.Fatalf("%q → %q", name, s)
		}
		if d.MaxIdentLen > 0 && identLen(d, s) > d.MaxIdentLen {
			t.Fatalf("%q → %q is longer than %d", name, s, d.MaxIdentLen)
		}
		for i, r := range s {
			if !identRune(r) || i == 0 && isDigit(r) || lower && unicode.ToLower(r) != r {
				t.Fatalf("%q → %q has %q at %d", name, s, r, i)
			}
		}
		if again := SanitizeIdent(d, name); again != s {
			t.Fatalf("not deterministic: %q then %q", s, again)
		}
		if twice := SanitizeIdent(d, s); twice != s {
			t.Fatalf("not idempotent: %q then %q", s, twice)
		}
	})
}

func keysOf(e Event) []string {
	keys := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		keys[i] = f.Key
	}
	return keys
}

// parseChecked flattens valid input on Parse's checked path only.
func parseChecked(raw []byte) Event {
	var p parser
	p.reset(raw, string(raw))
	p.object(skipWS(raw, 0), 0)
	return p.finish()
}

func FuzzValidObject(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":[1,2,{"b":null}]} `, `[]`, `{"a":1}{}`, "{\"a\":\"\xff\"}", `{"a":"\u12"}`, `{"a":01}`, `{"a":-}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := utf8.Valid(b) && json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
		if got := ValidObject(b); got != want {
			t.Fatalf("ValidObject(%q) = %v, want %v", b, got, want)
		}
	})
}
