package schema

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SanitizeIdent turns a key or table name into an identifier of the
// dialect: folded to lower case when d.Lowercase; ASCII letters, digits and
// "_" kept, and so are letters and digits of the Basic Multilingual Plane
// (MySQL allows no others in identifiers); anything else becomes "_"; an
// empty name or one starting with a digit gets a "_" prefix; a name longer
// than d.MaxIdentLen is cut and ends in "_" and a hash of the whole name,
// so long names sharing a prefix stay apart. Reserved words need nothing:
// destinations always quote identifiers. SanitizeIdent is idempotent.
func SanitizeIdent(d Dialect, name string) string {
	s := name
	if !validIdent(d, name) {
		b := make([]byte, 0, len(name)+1)
		for i, r := range name {
			if d.Lowercase {
				r = unicode.ToLower(r)
			}
			if i == 0 && isDigit(r) {
				b = append(b, '_')
			}
			if identRune(r) {
				b = utf8.AppendRune(b, r)
			} else {
				b = append(b, '_')
			}
		}
		if len(b) == 0 {
			b = append(b, '_')
		}
		s = string(b)
	}
	if d.MaxIdentLen > 0 && identLen(d, s) > d.MaxIdentLen {
		return withHash(d, s, name)
	}
	return s
}

// validIdent is SanitizeIdent's fast path: the name needs no change but
// perhaps truncation.
func validIdent(d Dialect, name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if !identRune(r) || i == 0 && isDigit(r) || d.Lowercase && unicode.ToLower(r) != r {
			return false
		}
	}
	return true
}

func identRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return r <= 0xFFFF && r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func isDigit(r rune) bool {
	return r >= '0' && r <= '9' || r >= utf8.RuneSelf && unicode.IsDigit(r)
}

// identLen is the length of s as the dialect counts it.
func identLen(d Dialect, s string) int {
	if d.LenInBytes {
		return len(s)
	}
	return utf8.RuneCountInString(s)
}

// hashLen is the length of the suffix withHash adds: "_" and 8 hex digits.
const hashLen = 9

// withHash cuts the sanitised s so that "_" + a hash of key fits the
// dialect's limit and appends it. key is the original name, so different
// keys get different suffixes.
func withHash(d Dialect, s, key string) string {
	const hexDigits = "0123456789abcdef"
	h := fnv32(key)
	var suffix [hashLen]byte
	suffix[0] = '_'
	for i := 8; i > 0; i-- {
		suffix[i] = hexDigits[h&0xf]
		h >>= 4
	}
	keep := len(s)
	if d.MaxIdentLen > 0 {
		room := d.MaxIdentLen - hashLen
		if room < 0 {
			return string(suffix[:d.MaxIdentLen])
		}
		keep = prefixLen(d, s, room)
	}
	return s[:keep] + string(suffix[:])
}

// prefixLen returns the byte length of the longest prefix of s, cut at a
// rune boundary, whose dialect length is at most n.
func prefixLen(d Dialect, s string, n int) int {
	if d.LenInBytes {
		if n >= len(s) {
			return len(s)
		}
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return n
	}
	count := 0
	for i := range s {
		if count == n {
			return i
		}
		count++
	}
	return len(s)
}

// fnv32 is FNV-1a, inlined to avoid hash.Hash's allocation.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
