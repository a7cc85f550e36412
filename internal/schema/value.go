package schema

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Value is one value of a field or of a row, typed by its DataType. It is
// a plain struct rather than an interface so that a value takes no
// allocation of its own: a loader holds tens of thousands of them per
// batch. The zero Value is Absent, so that a fresh row is all absent.
type Value struct {
	// s is the text of Text and JSON; for numbers the literal as sent and
	// for timestamps the string as sent, when known, so that a cast to
	// text or JSON is exact.
	s string
	// n is a Bool (0 or 1), an Int, a Float's bits or a Timestamp's Unix
	// seconds.
	n    uint64
	nsec int32 // a Timestamp's nanoseconds
	Type DataType
	// numText marks Text holding a number too large for Int and Float: its
	// JSON is the number, not a string.
	numText bool
	set     bool // false: Absent
}

// assign copies *v into *dst. Value has too many fields for the compiler
// to copy it in registers: "*dst = *v" is a typed memory move, whose write
// barrier, while the collector marks, costs ten times the copy. Field by
// field only the string's pointer takes a barrier, an inlined one.
func (dst *Value) assign(v *Value) {
	dst.s = v.s
	dst.n = v.n
	dst.nsec = v.nsec
	dst.Type = v.Type
	dst.numText = v.numText
	dst.set = v.set
}

// Absent is the row value of a column the event did not have, unlike an
// explicit JSON null. An upsert keeps the stored value of an absent column.
var Absent = Value{}

// NullValue is SQL NULL, the value of a JSON null.
func NullValue() Value { return Value{set: true} }

// BoolValue is a Bool value.
func BoolValue(b bool) Value {
	if b {
		return Value{Type: Bool, n: 1, set: true}
	}
	return Value{Type: Bool, set: true}
}

// IntValue is an Int value.
func IntValue(i int64) Value { return Value{Type: Int, n: uint64(i), set: true} }

// FloatValue is a Float value.
func FloatValue(f float64) Value { return Value{Type: Float, n: math.Float64bits(f), set: true} }

// TimeValue is a Timestamp value; Time returns it in UTC.
func TimeValue(t time.Time) Value {
	return Value{Type: Timestamp, n: uint64(t.Unix()), nsec: int32(t.Nanosecond()), set: true}
}

// TextValue is a Text value.
func TextValue(s string) Value { return Value{Type: Text, s: s, set: true} }

// JSONValue is a JSON value: JSON text, which the caller has checked.
func JSONValue(j string) Value { return Value{Type: JSON, s: j, set: true} }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.Type == Null && v.set }

// IsAbsent reports whether v is Absent.
func (v Value) IsAbsent() bool { return !v.set }

// Bool, Int, Float, Time, Unix and Str read a value of their type; for a
// value of another type, what they return means nothing.

// Bool is the value of a Bool.
func (v Value) Bool() bool { return v.n != 0 }

// Int is the value of an Int.
func (v Value) Int() int64 { return int64(v.n) }

// Float is the value of a Float.
func (v Value) Float() float64 { return math.Float64frombits(v.n) }

// Time is the timestamp in UTC.
func (v Value) Time() time.Time { return time.Unix(int64(v.n), int64(v.nsec)).UTC() }

// Unix is the timestamp in seconds and nanoseconds since 1970 UTC, which
// an encoder can use without making a time.Time.
func (v Value) Unix() (sec int64, nsec int32) { return int64(v.n), v.nsec }

// Str is the text of a Text or JSON value.
func (v Value) Str() string { return v.s }

// Any returns the value as the Go value of its DataType (see DataType):
// nil for SQL NULL, Absent as it is.
func (v Value) Any() any {
	if !v.set {
		return Absent
	}
	switch v.Type {
	case Bool:
		return v.Bool()
	case Int:
		return v.Int()
	case Float:
		return v.Float()
	case Timestamp:
		return v.Time()
	case Text:
		return v.s
	case JSON:
		return json.RawMessage(v.s)
	}
	return nil
}

// literal is the number as sent, or else as Go writes it.
func (v Value) literal() string {
	if v.s != "" {
		return v.s
	}
	switch v.Type {
	case Int:
		return strconv.FormatInt(v.Int(), 10)
	case Float:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return ""
}

// text is the value as a string, as close as possible to what was sent.
func (v Value) text() string {
	switch v.Type {
	case Bool:
		return strconv.FormatBool(v.Bool())
	case Int, Float:
		return v.literal()
	case Timestamp:
		if v.s != "" {
			return v.s
		}
		return v.Time().Format(time.RFC3339Nano)
	case Text, JSON:
		return v.s
	}
	return ""
}

// appendJSON appends the value as JSON, as it was sent.
func (v Value) appendJSON(out []byte) []byte {
	switch v.Type {
	case Null:
		return append(out, "null"...)
	case Bool:
		return strconv.AppendBool(out, v.Bool())
	case Int, Float:
		return append(out, v.literal()...)
	case Text:
		if v.numText {
			return append(out, v.s...)
		}
		return appendQuoted(out, v.s)
	case JSON:
		return append(out, v.s...)
	}
	return appendQuoted(out, v.text())
}
