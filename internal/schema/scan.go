package schema

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// The fast path of Parse: one pass that checks the syntax and the UTF-8 of
// the input while it flattens. It gives up on anything unusual (a syntax
// error, a type hint, nesting deeper than maxScanDepth) and Parse then
// takes the checked path, which validates first, reports the error
// precisely and knows every hint before the fields it applies to. Events
// without hints, nearly all of them, are read once.

// maxScanDepth bounds the recursion of the fast path's validator; deeper
// input takes the checked path, which is iterative.
const maxScanDepth = 512

// strSpecial marks the bytes that end the quick scan of a string: the
// quote, the backslash, control characters and non-ASCII bytes.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skipPlain returns the index of the first byte from b[i] on that strSpecial
// marks, or len(b). It reads eight bytes at a time: most of a string is
// plain ASCII.
func skipPlain(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// A byte's high bit is set in m where the byte is a quote, a
		// backslash, below 0x20 or non-ASCII; the lowest such byte is
		// exact (borrows only reach the bytes above it).
		m := ((q-ones)&^q | (bs-ones)&^bs | (x - ones*0x20) | x) & highs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && !strSpecial[b[i]] {
		i++
	}
	return i
}

// fastObject flattens the object at p.src[i] under the current key and
// returns the index after it; ok is false where the fast path gives up.
func (p *parser) fastObject(i, depth int) (end int, ok bool) {
	src := p.src
	prefix := len(p.key)
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(src) || src[i] != '"' {
			return 0, false
		}
		kEnd, esc, ok := scanString(src, i)
		if !ok {
			return 0, false
		}
		name := src[i+1 : kEnd-1]
		if esc {
			name = escapeSegment([]byte(unquote(src[i:kEnd])))
		}
		if len(name) >= len(hintKey) && string(name[:len(hintKey)]) == hintKey {
			return 0, false // perhaps a hint: the checked path applies it
		}
		i = skipWS(src, kEnd)
		if i >= len(src) || src[i] != ':' {
			return 0, false
		}
		i = skipWS(src, i+1)
		p.appendKey(prefix, depth > 0, name)
		if i < len(src) && src[i] == '{' && depth+1 < maxFlattenDepth {
			if i, ok = p.fastObject(i, depth+1); !ok {
				return 0, false
			}
		} else if i < len(src) && src[i] == '"' {
			// A string is cut from the input unless escaped: scanString
			// knows, so it is not scanned again.
			end, esc, ok := scanString(src, i)
			if !ok {
				return 0, false
			}
			s := p.str[i+1 : end-1]
			if esc {
				s = unquote(src[i:end])
			}
			p.emit(stringValue(s))
			i = end
		} else {
			start := i
			if i, ok = validValue(src, i, depth+1); !ok {
				return 0, false
			}
			if src[start] == '{' {
				p.emit(JSONValue(p.compact(start, i)))
			} else {
				p.emit(p.scalar(start, i))
			}
		}
		i = skipWS(src, i)
		if i >= len(src) {
			return 0, false
		}
		switch src[i] {
		case ',':
			i = skipWS(src, i+1)
		case '}':
			p.key = p.key[:prefix]
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// validValue returns the index after the valid JSON value at b[i].
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxScanDepth {
		return 0, false
	}
	switch c := b[i]; c {
	case '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case '{', '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, false
				}
				if i, _, ok = scanString(b, i); !ok {
					return 0, false
				}
				if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipWS(b, i+1)
			}
			if i, ok = validValue(b, i, depth+1); !ok {
				return 0, false
			}
			if i = skipWS(b, i); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case closing:
				return i + 1, true
			default:
				return 0, false
			}
		}
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		return scanNumber(b, i)
	}
}

func literal(b []byte, i int, lit string) (int, bool) {
	end := i + len(lit)
	return end, end <= len(b) && string(b[i:end]) == lit
}

// scanString returns the index after the valid JSON string at b[i] and
// whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	start := i + 1
	ascii := true
	for i = start; i < len(b); {
		if i = skipPlain(b, i); i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:i]) {
				return 0, false, false
			}
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			ascii = false
			i++
		}
	}
	return 0, false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber returns the index after the JSON number at b[i].
func scanNumber[T string | []byte](b T, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// ValidObject reports whether b is exactly one JSON object in valid UTF-8,
// whitespace around it allowed: the check Parse makes, without flattening.
func ValidObject(b []byte) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	if end, ok := validValue(b, i, 0); ok {
		return skipWS(b, end) == len(b)
	}
	// The quick check gives up on deep nesting as on errors; rare input,
	// which the checked path decides.
	return check(b) == nil
}
