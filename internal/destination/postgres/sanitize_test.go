package postgres

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"a\x00b", "a\uFFFDb"},
		{"\x00\x00", "\uFFFD\uFFFD"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"emoji 😀", "emoji 😀"},
		{"a longer string\x00 past a word", "a longer string\uFFFD past a word"},
		{"a longer string \xff past a word", "a longer string \uFFFD past a word"},
	}
	for _, tt := range tests {
		if got := sanitizeText(tt.in); got != tt.want {
			t.Errorf("sanitizeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPlainASCII checks the eight-bytes-at-a-time check against its
// definition, with a NUL or a non-ASCII byte at every position of a word
// and of the tail.
func TestPlainASCII(t *testing.T) {
	plain := []byte("the quick brown fox jumps over")
	if !plainASCII(string(plain)) || !plainASCII("") || !plainASCII("\x01\x7f~") {
		t.Fatal("plain ASCII refused")
	}
	for _, c := range []byte{0x00, 0x80, 0xc3, 0xff} {
		for at := range 20 {
			b := append([]byte(nil), plain[:20]...)
			b[at] = c
			if plainASCII(string(b)) {
				t.Errorf("plainASCII(%q) = true with %#x at %d", b, c, at)
			}
		}
	}
}

func TestSanitizeJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"untouched", `{"a":"b","n":1}`, `{"a":"b","n":1}`},
		{"other escapes", `{"a":"\u00e9\n\"\\"}`, `{"a":"\u00e9\n\"\\"}`},
		{"nul escape", `{"a":"x\u0000y"}`, `{"a":"x\ufffdy"}`},
		{"nul escape upper hex", `["\u0000"]`, `["\ufffd"]`},
		{"nested", `{"a":{"b":["\u0000",{"c":"\u0000"}]}}`, `{"a":{"b":["\ufffd",{"c":"\ufffd"}]}}`},
		{"nul in key", `{"k\u0000":1}`, `{"k\ufffd":1}`},
		{"escaped backslash", `{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{"escaped backslash then nul", `{"a":"\\\u0000"}`, `{"a":"\\\ufffd"}`},
		{"raw nul byte in string", "{\"a\":\"x\x00y\"}", `{"a":"x\ufffdy"}`},
		{"surrogate pair kept", `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d\ude00"}`},
		{"lone high surrogate", `{"a":"\ud83dx"}`, `{"a":"\ufffdx"}`},
		{"lone low surrogate", `{"a":"\ude00"}`, `{"a":"\ufffd"}`},
		{"invalid utf8", "{\"a\":\"\xff\"}", `{"a":"` + "\uFFFD" + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitizeJSON(tt.in); got != tt.want {
				t.Errorf("sanitizeJSON(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzSanitizeJSON: valid JSON stays valid, holds no NUL once decoded,
// and decodes to the input with NUL replaced.
func FuzzSanitizeJSON(f *testing.F) {
	for _, s := range []string{`{"a":"\u0000"}`, `["\\u0000","\ud800"]`, `"x"`, `{"k\u0000":{"n":[1,"\u0000"]}}`, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out := sanitizeJSON(string(in))
		if !json.Valid([]byte(out)) {
			t.Fatalf("sanitizeJSON(%q) = %q: invalid JSON", in, out)
		}
		if strings.Contains(out, `\u0000`) && !strings.Contains(string(in), `\\u0000`) {
			t.Fatalf("sanitizeJSON(%q) = %q still holds \\u0000", in, out)
		}
		if !utf8.Valid(in) {
			return // invalid bytes become U+FFFD per run, not per byte as in encoding/json
		}
		var got, want any
		_ = json.Unmarshal([]byte(out), &got)
		_ = json.Unmarshal(in, &want)
		if !jsonEqualModNUL(want, got) {
			t.Fatalf("sanitizeJSON(%q) = %q: decodes to %#v, want %#v with NUL replaced", in, out, got, want)
		}
	})
}

// jsonEqualModNUL compares decoded JSON with NULs in want read as U+FFFD.
func jsonEqualModNUL(want, got any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && utf8.ValidString(g) && strings.ReplaceAll(w, "\x00", "\uFFFD") == g
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonEqualModNUL(w[i], g[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !jsonEqualModNUL(v, g[strings.ReplaceAll(k, "\x00", "\uFFFD")]) {
				return false
			}
		}
		return true
	default:
		return want == got
	}
}
