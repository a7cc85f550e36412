package schema

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// number infers a JSON number literal: written without fraction or
// exponent and within int64 → Int; otherwise a finite float64 → Float. A
// literal neither can hold exactly enough (beyond int64, beyond float64's
// range, or a non-zero value that underflows to 0) → Text holding the
// literal, so it is never wrapped or rounded to infinity. The value keeps
// the literal.
func number(lit string) Value {
	if integral(lit) {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return Value{Type: Int, n: uint64(i), s: lit, set: true}
		}
		return Value{Type: Text, s: lit, numText: true, set: true}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || f == 0 && hasNonZeroDigit(lit) {
		return Value{Type: Text, s: lit, numText: true, set: true}
	}
	return Value{Type: Float, n: math.Float64bits(f), s: lit, set: true}
}

// integral reports whether a number literal has neither fraction nor
// exponent; a loop over a few bytes is cheaper than strings.ContainsAny.
func integral(lit string) bool {
	for i := 0; i < len(lit); i++ {
		switch lit[i] {
		case '.', 'e', 'E':
			return false
		}
	}
	return true
}

// hasNonZeroDigit reports whether the mantissa of a number literal has a
// digit other than 0.
func hasNonZeroDigit(lit string) bool {
	for i := 0; i < len(lit); i++ {
		switch c := lit[i]; {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// isJSONNumber reports whether s is a number literal as JSON writes it,
// which rules out "NaN", "Inf", "0x1p3", "+1" and spaces.
func isJSONNumber(s string) bool {
	end, ok := scanNumber(s, 0)
	return ok && end == len(s)
}

func digits[T string | []byte](s T, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// exactInt returns the integer a number literal denotes exactly ("1.0",
// "1e3", "-12.50e1"), or false when it has a fraction or overflows int64.
func exactInt(lit string) (int64, bool) {
	if !isJSONNumber(lit) {
		return 0, false
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil {
			return 0, false // an exponent this large is never an int64
		}
		mant, exp = lit[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	ds := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	for len(ds) > 0 && ds[len(ds)-1] == '0' {
		ds = ds[:len(ds)-1]
		exp++
	}
	if ds == "" {
		return 0, true
	}
	if exp < 0 || len(ds)+exp > 19 {
		return 0, false
	}
	if neg {
		ds = "-" + ds
	}
	v, err := strconv.ParseInt(ds+strings.Repeat("0", exp), 10, 64)
	return v, err == nil
}

// exactFloat reports whether a float64 holds the integer i exactly.
func exactFloat(i int64) (float64, bool) {
	f := float64(i)
	return f, f < math.MaxInt64 && int64(f) == i
}

// parseTimestamp recognises RFC 3339 and the common ISO 8601 variants:
// "2006-01-02", "2006-01-02T15:04", "2006-01-02 15:04:05", any number of
// fractional digits (beyond nanoseconds they are cut), and a zone of "Z" or
// ±hh:mm, ±hhmm, ±hh; no zone means UTC. The result is in UTC and within
// years 1–9999, which every destination can store.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 10 || len(s) > 64 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := atoiN(s[0:4])
	month, ok2 := atoiN(s[5:7])
	day, ok3 := atoiN(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec, off int
	rest := s[10:]
	if rest != "" {
		if len(rest) < 6 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || rest[3] != ':' {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = atoiN(rest[1:3]); !ok || hour > 23 {
			return time.Time{}, false
		}
		if minute, ok = atoiN(rest[4:6]); !ok || minute > 59 {
			return time.Time{}, false
		}
		rest = rest[6:]
		if len(rest) >= 3 && rest[0] == ':' {
			if sec, ok = atoiN(rest[1:3]); !ok || sec > 59 {
				return time.Time{}, false
			}
			rest = rest[3:]
			if len(rest) >= 2 && rest[0] == '.' {
				n := digits(rest, 1)
				if n == 1 {
					return time.Time{}, false
				}
				for i, scale := 1, 100000000; i < n && scale > 0; i, scale = i+1, scale/10 {
					nsec += int(rest[i]-'0') * scale
				}
				rest = rest[n:]
			}
		}
		if off, ok = zone(rest); !ok {
			return time.Time{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec-off, nsec, time.UTC)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// zone parses a zone designator into its offset east of UTC in seconds.
func zone(z string) (int, bool) {
	switch {
	case z == "" || z == "Z" || z == "z":
		return 0, true
	case z[0] != '+' && z[0] != '-':
		return 0, false
	}
	var hh, mm string
	switch len(z) {
	case 3:
		hh = z[1:3]
		mm = "00"
	case 5:
		hh, mm = z[1:3], z[3:5]
	case 6:
		if z[3] != ':' {
			return 0, false
		}
		hh, mm = z[1:3], z[4:6]
	default:
		return 0, false
	}
	h, ok1 := atoiN(hh)
	m, ok2 := atoiN(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	if z[0] == '-' {
		return -(h*3600 + m*60), true
	}
	return h*3600 + m*60, true
}

// atoiN parses a fixed-width run of ASCII digits.
func atoiN(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Common is the lowest common type of two types, the type of a column that
// holds both: Null is no constraint; Bool → Int → Float → Text widen in
// that order; a Timestamp with any other non-null scalar is Text; JSON with
// anything is JSON, since any value is a JSON value.
func Common(a, b DataType) DataType {
	switch {
	case a == b || b == Null:
		return a
	case a == Null:
		return b
	case a == JSON || b == JSON:
		return JSON
	case a == Timestamp || b == Timestamp || a == Text || b == Text:
		return Text
	default:
		return max(a, b)
	}
}

// HintType is the type of a column created from a type hint's SQL type:
// JSON types → JSON, integers → Int, floats and decimals → Float, booleans
// → Bool, dates and timestamps → Timestamp, anything else → Text.
func HintType(sqlType string) DataType {
	name := strings.ToLower(strings.TrimSpace(sqlType))
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = strings.TrimSpace(name[:i])
	}
	name = strings.TrimSuffix(name, " unsigned")
	switch name {
	case "json", "jsonb":
		return JSON
	case "int", "integer", "bigint", "smallint", "tinyint", "mediumint",
		"int2", "int4", "int8", "serial", "bigserial", "smallserial":
		return Int
	case "float", "float4", "float8", "real", "double", "double precision",
		"numeric", "decimal":
		return Float
	case "bool", "boolean":
		return Bool
	case "timestamp", "timestamptz", "timestamp with time zone",
		"timestamp without time zone", "datetime", "date":
		return Timestamp
	}
	return Text
}
