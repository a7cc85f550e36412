package schema

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		err  error
		text string // part of the message
	}{
		{"", ErrInvalidJSON, "unexpected end"},
		{"   ", ErrInvalidJSON, "unexpected end"},
		{`{"a":1`, ErrInvalidJSON, "unexpected end"},
		{`{"a":1}x`, ErrInvalidJSON, "after top-level value"},
		{`{"a":1}{"b":2}`, ErrInvalidJSON, "after top-level value"},
		{`{a:1}`, ErrInvalidJSON, "looking for beginning of object key"},
		{`{"a":NaN}`, ErrInvalidJSON, "invalid character 'N'"},
		{`{"a":01}`, ErrInvalidJSON, "after object key:value pair"},
		{`[{"a":1}]`, ErrNotObject, "got array"},
		{`"text"`, ErrNotObject, "got string"},
		{`12`, ErrNotObject, "got number"},
		{` true`, ErrNotObject, "got boolean"},
		{`null`, ErrNotObject, "got null"},
		{"{\"a\":\"\xff\"}", ErrInvalidUTF8, "at byte 6"},
		{"{\"\xc3\":1}", ErrInvalidUTF8, "at byte 2"},
		{"{\"a\":\"\xed\xa0\x80\"}", ErrInvalidUTF8, "at byte 6"}, // an encoded surrogate
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("Parse(%q) = %v; want %v containing %q", tt.in, err, tt.err, tt.text)
		}
	}
}

// fieldString renders a field of e for comparison: key, SQL type and value.
func fieldString(e Event, f Field) string {
	v := renderValue(f.Value)
	if t := e.SQLTypes[f.Key]; t != "" {
		return fmt.Sprintf("%s(%s)=%s", KeyString(f.Key), t, v)
	}
	return fmt.Sprintf("%s=%s", KeyString(f.Key), v)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"flat scalars", `{"b":true,"i":-12,"f":1.25,"s":"x","n":null,"e":""}`,
			[]string{`b=bool true`, `i=int -12`, `f=float 1.25`, `s=text "x"`, `n=null`, `e=text ""`}},
		{"nested", `{"a":{"b":1,"c":{"d":"x"}},"z":2}`,
			[]string{`a.b=int 1`, `a.c.d=text "x"`, `z=int 2`}},
		{"whitespace everywhere", " \n{ \"a\" : { \"b\" : [ 1 , { \"c\" : 2 } ] } }\t",
			[]string{`a.b=json [1,{"c":2}]`}},
		{"arrays are JSON", `{"mixed":[1,"a",null,true],"objs":[{"a":1}],"nested":[[],[[1]]],"empty":[]}`,
			[]string{`mixed=json [1,"a",null,true]`, `objs=json [{"a":1}]`, `nested=json [[],[[1]]]`, `empty=json []`}},
		{"numbers in JSON keep their digits", `{"a":[12345678901234567890123, 1.0000000000000000001]}`,
			[]string{`a=json [12345678901234567890123,1.0000000000000000001]`}},
		{"empty object has no leaves", `{"a":{},"b":1}`, []string{`b=int 1`}},
		{"empty key", `{"":1,"a":{"":2}}`, []string{`[""]=int 1`, `["a",""]=int 2`}},
		{"empty parent key", `{"":{"a":1},"a":2}`, []string{`["","a"]=int 1`, `a=int 2`}},
		{"repeated key: first position, last value", `{"a":1,"b":2,"a":"x"}`,
			[]string{`a=text "x"`, `b=int 2`}},
		{"repeated key among keys of its length and last byte", `{"ab":1,"cb":2,"xy":3,"ab":4}`,
			[]string{`ab=int 4`, `cb=int 2`, `xy=int 3`}},
		{"flattened key equal to a flat key: two keys", `{"a_b":1,"a":{"b":2}}`, []string{`a_b=int 1`, `a.b=int 2`}},
		{"escapes", `{"k\"\\\/\u00e9":"\b\f\n\r\t\u0041\ud83d\ude00\u0000"}`,
			[]string{"k\"\\/é=text \"\\b\\f\\n\\r\\tA😀\\x00\""}},
		{"lone surrogates", `{"a":"\ud800","b":"\udc00x","c":"\ud800\u0041"}`,
			[]string{`a=text "�"`, `b=text "�x"`, `c=text "�A"`}},
		{"sibling hint before", `{"__sql_type_a":"varchar(4)","a":"ab"}`, []string{`a(varchar(4))=text "ab"`}},
		{"sibling hint after", `{"a":12,"__sql_type_a":"text"}`, []string{`a(text)=int 12`}},
		{"nested sibling hint", `{"o":{"__sql_type_x":"bigint","x":"12"}}`, []string{`o.x(bigint)=text "12"`}},
		{"hint by flattened key", `{"__sql_type_o_x":"bigint","o":{"x":1}}`, []string{`o.x(bigint)=int 1`}},
		{"inner hint wins", `{"__sql_type_o_x":"bigint","o":{"x":1,"__sql_type_x":"int"}}`, []string{`o.x(int)=int 1`}},
		{"hint keeps an object whole", `{"__sql_type_o":"json","o":{"x":{"y":1}}}`, []string{`o(json)=json {"x":{"y":1}}`}},
		{"nested __sql_type keeps the object whole without the hint",
			`{"o":{"a":{"b":1},"__sql_type":"jsonb","__sql_type_a":"text"}}`,
			[]string{`o(jsonb)=json {"a":{"b":1},"__sql_type_a":"text"}`}},
		{"the object's own hint wins over its sibling hint", `{"__sql_type_o":"json","o":{"__sql_type":"text"}}`,
			[]string{`o(text)=json {}`}},
		{"top-level __sql_type is ignored", `{"__sql_type":"json","a":1}`, []string{`a=int 1`}},
		{"hint for a missing column", `{"__sql_type_zz":"int","a":1}`, []string{`a=int 1`}},
		{"a hint that is not a type is kept as JSON, to be refused", `{"__sql_type_a":5,"a":1,"__sql_type_":"x"}`,
			[]string{`a(5)=int 1`}},
		{"Jitsu's array form: the last type", `{"__sql_type_a":["varchar(5)","varchar(6)"],"a":"x","__sql_type_b":["int"],"b":1}`,
			[]string{`a(varchar(6))=text "x"`, `b(int)=int 1`}},
		{"hint keys are never fields, whatever their value", `{"__sql_type_a":{"x":1},"a":1,"__sql_typeb":[],"b":2}`,
			[]string{`a({"x":1})=int 1`, `b([])=int 2`}},
		{"nested object hint that is not a type", `{"o":{"__sql_type":1,"x":2}}`,
			[]string{`o(1)=json {"x":2}`}},
		{"nested object hint with a trailing _", `{"o":{"__sql_type_":"json","x":2}}`,
			[]string{`o(json)=json {"x":2}`}},
		{"a repeated key takes the hint of its last value", `{"o":{"__sql_type":"json","x":1},"o":2}`,
			[]string{`o=int 2`}},
		{"a repeated key keeps a hint on its last value", `{"o":2,"o":{"__sql_type":"json","x":1}}`,
			[]string{`o(json)=json {"x":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, fieldString(e, f))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Parse(%s):\ngot  %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDoesNotAlias(t *testing.T) {
	raw := []byte(`{"a":[1, 2],"s":"abc","o":{"__sql_type":"json","x":1}}`)
	e, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = ' '
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, fieldString(e, f))
	}
	if want := `a=json [1,2] s=text "abc" o(json)=json {"x":1}`; strings.Join(got, " ") != want {
		t.Fatalf("after overwriting the input: %s; want %s", got, want)
	}
}

func TestParseDeepNesting(t *testing.T) {
	// Flattening stops at maxFlattenDepth: the rest is one JSON value.
	depth := 40
	in := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	e, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Fields) != 1 {
		t.Fatalf("got %d fields", len(e.Fields))
	}
	f := e.Fields[0]
	wantKey := KeyOf(slices.Repeat([]string{"a"}, maxFlattenDepth)...)
	wantVal := strings.Repeat(`{"a":`, depth-maxFlattenDepth) + "1" + strings.Repeat("}", depth-maxFlattenDepth)
	if f.Key != wantKey || f.Type != JSON || f.Str() != wantVal {
		t.Fatalf("got %s", fieldString(e, f))
	}

	// Beyond JSON's own limit the event is refused, without a stack
	// overflow or quadratic work.
	depth = 20000
	in = strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalidJSON) {
		t.Fatalf("20000 levels: %v", err)
	}
	depth = 9000
	in = strings.Repeat(`{"a":[`, depth/2) + "1" + strings.Repeat("]}", depth/2)
	if _, err := Parse([]byte(in)); err != nil {
		t.Fatalf("9000 levels: %v", err)
	}
}

func TestParseWideEvent(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"field_%04d":{"v":%d}`, i, i)
	}
	b.WriteString("}")
	e, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Fields) != 1000 {
		t.Fatalf("got %d fields", len(e.Fields))
	}
	for i, f := range e.Fields {
		if f.Key != KeyOf(fmt.Sprintf("field_%04d", i), "v") || f.Type != Int || f.Int() != int64(i) {
			t.Fatalf("field %d: %s", i, fieldString(e, f))
		}
	}
}

func TestInferNumbers(t *testing.T) {
	tests := []struct {
		lit  string
		typ  DataType
		want any
	}{
		{"0", Int, int64(0)},
		{"-0", Int, int64(0)},
		{"9007199254740993", Int, int64(9007199254740993)}, // 2^53+1: no float64 rounding
		{"9223372036854775807", Int, int64(9223372036854775807)},
		{"-9223372036854775808", Int, int64(-9223372036854775808)},
		{"9223372036854775808", Text, "9223372036854775808"}, // beyond int64: exact, never wrapped
		{"-9223372036854775809", Text, "-9223372036854775809"},
		{"1.0", Float, 1.0},
		{"1e3", Float, 1000.0},
		{"1E+3", Float, 1000.0},
		{"-0.0", Float, 0.0},
		{"1.5e-7", Float, 1.5e-7},
		{"1e400", Text, "1e400"},
		{"-1e400", Text, "-1e400"},
		{"1e-400", Text, "1e-400"},
		{"0.0e-400", Float, 0.0},
	}
	for _, tt := range tests {
		v := number(tt.lit)
		if v.Type != tt.typ || v.Any() != tt.want {
			t.Errorf("number(%s) = %v %#v; want %v %#v", tt.lit, v.Type, v.Any(), tt.typ, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	ok := []struct {
		in   string
		want time.Time
	}{
		{"2021-03-04T05:06:07Z", utc(2021, 3, 4, 5, 6, 7, 0)},
		{"2021-03-04T05:06:07+05:30", utc(2021, 3, 3, 23, 36, 7, 0)},
		{"2021-03-04T05:06:07-08:00", utc(2021, 3, 4, 13, 6, 7, 0)},
		{"2021-03-04T05:06:07+0530", utc(2021, 3, 3, 23, 36, 7, 0)},
		{"2021-03-04T05:06:07+05", utc(2021, 3, 4, 0, 6, 7, 0)},
		{"2021-03-04T05:06:07.1Z", utc(2021, 3, 4, 5, 6, 7, 100000000)},
		{"2021-03-04T05:06:07.123456789999Z", utc(2021, 3, 4, 5, 6, 7, 123456789)},
		{"2021-03-04 05:06:07", utc(2021, 3, 4, 5, 6, 7, 0)},
		{"2021-03-04 05:06:07.5", utc(2021, 3, 4, 5, 6, 7, 500000000)},
		{"2021-03-04T05:06", utc(2021, 3, 4, 5, 6, 0, 0)},
		{"2021-03-04", utc(2021, 3, 4, 0, 0, 0, 0)},
		{"0001-01-01T00:00:00Z", utc(1, 1, 1, 0, 0, 0, 0)},
		{"9999-12-31T23:59:59.999999999Z", utc(9999, 12, 31, 23, 59, 59, 999999999)},
		{"2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)},
	}
	for _, tt := range ok {
		got, valid := parseTimestamp(tt.in)
		if !valid || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", tt.in, got, valid, tt.want)
		}
	}
	for _, in := range []string{"2021", "12", "2021-03", "20210304", "2021-02-29", "2021-13-01",
		"2021-00-10", "2021-03-04T24:00:00Z", "2021-03-04T05:60:00Z", "2021-03-04T05:06:61Z",
		"2021-03-04T05:06:07.Z", "2021-03-04T05", "2021-03-04T05:06:07+24:00", "2021-03-04T05:06:07 Z",
		"2021-03-04X05:06:07Z", "0000-01-01", "9999-12-31T23:00:00-01:00", "-001-01-01",
		"2021-03-04T05:06:07Zjunk", "１２３４-01-01", "2021-03-04T05:06:07+5:30"} {
		if got, valid := parseTimestamp(in); valid {
			t.Errorf("parseTimestamp(%q) = %v; want text", in, got)
		}
	}
}

func TestCommon(t *testing.T) {
	tests := []struct{ a, b, want DataType }{
		{Null, Null, Null}, {Null, Int, Int}, {Timestamp, Null, Timestamp},
		{Bool, Int, Int}, {Int, Float, Float}, {Bool, Float, Float}, {Float, Text, Text},
		{Bool, Text, Text}, {Timestamp, Timestamp, Timestamp}, {Timestamp, Int, Text},
		{Timestamp, Text, Text}, {Bool, Timestamp, Text}, {JSON, Int, JSON}, {Text, JSON, JSON},
		{JSON, Timestamp, JSON}, {JSON, Null, JSON},
	}
	for _, tt := range tests {
		if got := Common(tt.a, tt.b); got != tt.want {
			t.Errorf("Common(%v, %v) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Common(tt.b, tt.a); got != tt.want {
			t.Errorf("Common(%v, %v) = %v; want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestHintType(t *testing.T) {
	tests := map[string]DataType{
		"json": JSON, "JSONB": JSON, "varchar(4)": Text, "text": Text, "bigint": Int, "INT(11)": Int,
		"bigint unsigned": Int, "double precision": Float, "numeric(10, 2)": Float, "boolean": Bool,
		"timestamp(6) with time zone": Timestamp, "DateTime(3)": Timestamp, "date": Timestamp,
		"geometry": Text, "": Text,
	}
	for in, want := range tests {
		if got := HintType(in); got != want {
			t.Errorf("HintType(%q) = %v; want %v", in, got, want)
		}
	}
}

// A reused Parser gives what Parse gives, and an event it returned is not
// changed by the next one it parses.
func TestParserReuse(t *testing.T) {
	inputs := []string{
		`{"a":{"b":1,"__sql_type_c":"varchar(4)","c":"x"},"d":[1,2],"e":"2024-01-01T00:00:00Z"}`,
		`{"zz":{"yy":{"xx":true}},"a":"other","n":1.5}`,
		`{"only":null}`,
	}
	var p Parser
	var got []Event
	for _, in := range inputs {
		ev, err := p.Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	for i, in := range inputs {
		want, _ := Parse([]byte(in))
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("event %d from a reused parser = %+v, want %+v", i, got[i], want)
		}
	}
}

// Events parsed into a Slab equal Parse's and keep their fields while
// later events are parsed into it, whether they fit the slab, outgrow it
// (an event wider than the ones before), fail, or repeat a key. After a
// Reset the slab's memory serves new events and holds none of the old
// fields.
func TestParserSlab(t *testing.T) {
	wide := `{`
	for i := range 300 {
		wide += fmt.Sprintf(`"w%d":%d,`, i, i)
	}
	wide += `"last":"x"}`
	inputs := []string{
		`{"a":1,"b":"x"}`,
		`{"a":2,"b":"y"}`,
		wide,
		`{"a":{"b":1,"__sql_type_c":"varchar(4)","c":"x"},"d":[1,2]}`,
		`{"a":1,"a":2,"b":3}`,
		`{"x":"1","y":"2","z":"3","broken":}`,
		`{"after":"the error"}`,
	}
	var slab Slab
	p := Parser{Slab: &slab}
	for round := range 2 {
		var got []Event
		var errs []error
		for _, in := range inputs {
			ev, err := p.Parse([]byte(in))
			got, errs = append(got, ev), append(errs, err)
		}
		for i, in := range inputs {
			want, wantErr := Parse([]byte(in))
			if (errs[i] == nil) != (wantErr == nil) || !reflect.DeepEqual(got[i], want) {
				t.Errorf("round %d, event %d from a slab = %+v (%v), want %+v (%v)", round, i, got[i], errs[i], want, wantErr)
			}
		}
		slab.Reset()
		for _, f := range slab.buf[:cap(slab.buf)] {
			if f != (Field{}) {
				t.Fatalf("round %d: after Reset the slab still holds %+v", round, f)
			}
		}
	}
}

func TestValidObject(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	for _, tc := range []struct {
		in   []byte
		want bool
	}{
		{[]byte(` {"a":{"b":[1,-2.5e3,"x\u00e9",true,null]}} `), true},
		{[]byte(`{}`), true},
		{deep(maxScanDepth + 10), true}, // beyond the quick check: encoding/json decides
		{deep(20000), false},            // beyond encoding/json's nesting limit
		{[]byte(`[]`), false},
		{[]byte(`{"a":1}{}`), false},
		{[]byte(`{"a":01}`), false},
		{[]byte("{\"a\":\"\xff\"}"), false},
		{[]byte(`{"a":"\x"}`), false},
		{[]byte(""), false},
	} {
		if got := ValidObject(tc.in); got != tc.want {
			t.Errorf("ValidObject(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestSkipPlain checks the eight-bytes-at-a-time scan against the byte by
// byte definition, for every kind of special byte at every position of a
// word and after it, and from every start.
func TestSkipPlain(t *testing.T) {
	plain := []byte("abcdefghijklmnopqrstuvwxyz0123456789")
	for _, special := range []byte{'"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff} {
		for at := range 20 {
			b := append([]byte(nil), plain[:24]...)
			b[at] = special
			for start := 0; start <= len(b); start++ {
				want := start
				for want < len(b) && !strSpecial[b[want]] {
					want++
				}
				if got := skipPlain(b, start); got != want {
					t.Fatalf("skipPlain(%q, %d) = %d, want %d", b, start, got, want)
				}
			}
		}
	}
	// Neighbours of the special bytes are plain: no false positives.
	for _, c := range []byte{' ', '!', '#', '[', ']', 0x7f, 0x20} {
		b := bytes.Repeat([]byte{c}, 19)
		if got := skipPlain(b, 0); got != len(b) {
			t.Errorf("skipPlain(%q) = %d, want %d", b, got, len(b))
		}
	}
}
