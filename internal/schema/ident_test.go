package schema

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeIdent(t *testing.T) {
	sqlite := Dialect{Name: "sqlite", MaxIdentLen: 1024, Lowercase: true, MaxColumns: 2000}
	long := strings.Repeat("x", 70)
	tests := []struct {
		d    Dialect
		in   string
		want string
	}{
		{postgres, "user_id", "user_id"},
		{postgres, "UserId", "userid"},
		{mysql, "UserId", "UserId"},
		{postgres, "user", "user"}, // reserved words are quoted by destinations
		{postgres, "order", "order"},
		{postgres, "default", "default"},
		{postgres, "select", "select"},
		{postgres, "1st", "_1st"},
		{postgres, "٣x", "_٣x"}, // a non-ASCII digit leads too
		{postgres, "", "_"},
		{postgres, "with space", "with_space"},
		{postgres, `quo"te`, "quo_te"},
		{postgres, "it's", "it_s"},
		{postgres, "a.b-c/d", "a_b_c_d"},
		{postgres, "Événement", "événement"},
		{mysql, "Événement", "Événement"},
		{postgres, "ключ", "ключ"},
		{postgres, "emoji😀", "emoji_"}, // outside the BMP: not allowed in MySQL names
		{postgres, "a\x00b", "a_b"},    // NUL
		{postgres, "bad\xffutf8", "bad_utf8"},
		{postgres, long, strings.Repeat("x", 54) + "_" + hexHash(long)},
		{mysql, long, strings.Repeat("x", 55) + "_" + hexHash(long)},
		{sqlite, long, long},
		{Dialect{}, long, long}, // no limit
	}
	for _, tt := range tests {
		if got := SanitizeIdent(tt.d, tt.in); got != tt.want {
			t.Errorf("SanitizeIdent(%s, %q) = %q; want %q", tt.d.Name, tt.in, got, tt.want)
		}
	}
}

func hexHash(s string) string {
	const hexDigits = "0123456789abcdef"
	h := fnv32(s)
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}

func TestSanitizeIdentMultiByteLimits(t *testing.T) {
	// 40 two-byte letters: 80 bytes, 40 characters.
	name := strings.Repeat("ä", 40)
	pg := SanitizeIdent(postgres, name)
	if len(pg) > 63 || !utf8.ValidString(pg) || !strings.HasPrefix(pg, strings.Repeat("ä", 27)+"_") {
		t.Errorf("postgres: %q (%d bytes)", pg, len(pg))
	}
	if my := SanitizeIdent(mysql, name); my != name {
		t.Errorf("mysql counts characters: %q", my)
	}
	// 70 characters: too long for MySQL as well, cut by characters.
	name = strings.Repeat("ä", 70)
	my := SanitizeIdent(mysql, name)
	if utf8.RuneCountInString(my) != 64 || !strings.HasPrefix(my, strings.Repeat("ä", 55)+"_") {
		t.Errorf("mysql: %q (%d characters)", my, utf8.RuneCountInString(my))
	}
	// A 3-byte letter must not be cut in the middle.
	name = strings.Repeat("a", 53) + strings.Repeat("語", 10)
	pg = SanitizeIdent(postgres, name)
	if len(pg) > 63 || !utf8.ValidString(pg) || !strings.HasPrefix(pg, strings.Repeat("a", 53)+"_") {
		t.Errorf("postgres: %q", pg)
	}
	// Long names that share a prefix stay apart.
	a := SanitizeIdent(postgres, strings.Repeat("p", 80)+"1")
	b := SanitizeIdent(postgres, strings.Repeat("p", 80)+"2")
	if a == b {
		t.Errorf("both long names became %q", a)
	}
}
