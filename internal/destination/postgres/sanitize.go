package postgres

import (
	"strings"
	"unicode/utf8"
)

// replacement stands in for what PostgreSQL cannot store: NUL, which text
// and jsonb reject, and invalid UTF-8. Replacing rather than dropping keeps
// the event and a visible trace of the odd character.
const replacement = "\uFFFD"

// textOK reports whether s is storable in a text column as it is.
func textOK(s string) bool {
	return plainASCII(s) || strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// plainASCII reports whether s is ASCII without NUL, so valid UTF-8 that
// text takes as it is. It reads eight bytes at a time: most text is ASCII,
// and then costs a fraction of a UTF-8 check.
func plainASCII(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one load: the compiler combines the bytes
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// A high bit set: a byte is NUL (borrowing) or not ASCII.
		if ((x-ones)|x)&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// sanitizeText makes s storable in a text column.
func sanitizeText(s string) string {
	if textOK(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, replacement), "\x00", replacement)
}

// jsonOK reports whether JSON text is storable in json and jsonb as it is:
// no NUL, no \u escape (which might be \u0000 or a lone surrogate), valid
// UTF-8.
func jsonOK(s string) bool {
	return !strings.Contains(s, `\u`) && textOK(s)
}

// sanitizeJSON makes JSON text storable in json and jsonb: NUL bytes and the
// escape \u0000 become U+FFFD, and so do unpaired surrogate escapes, which
// jsonb rejects too. An escaped backslash before "u0000" is left alone.
func sanitizeJSON(s string) string {
	if jsonOK(s) {
		return s
	}
	b := []byte(strings.ToValidUTF8(s, replacement))
	var out strings.Builder
	out.Grow(len(b))
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0:
			if inString {
				out.WriteString(`\ufffd`)
			}
		case c == '"':
			inString = !inString
			out.WriteByte(c)
		case c == '\\' && inString && i+1 < len(b):
			if b[i+1] != 'u' {
				out.WriteByte(c)
				out.WriteByte(b[i+1])
				i++
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				out.WriteByte(c)
				continue
			}
			switch {
			case r == 0:
				out.WriteString(`\ufffd`)
			case r >= 0xD800 && r < 0xDC00:
				if lowSurrogateAt(b, i+6) {
					out.Write(b[i : i+12])
					i += 11
					continue
				}
				out.WriteString(`\ufffd`)
			case r >= 0xDC00 && r < 0xE000:
				out.WriteString(`\ufffd`)
			default:
				out.Write(b[i : i+6])
			}
			i += 5
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

// lowSurrogateAt reports whether b holds \uDC00-\uDFFF at i.
func lowSurrogateAt(b []byte, i int) bool {
	if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return false
	}
	r, ok := hex4(b, i+2)
	return ok && r >= 0xDC00 && r < 0xE000
}

// hex4 decodes four hex digits at i.
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
