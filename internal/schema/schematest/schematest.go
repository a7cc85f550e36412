// Package schematest builds schema values from plain Go values, for test
// fixtures and for plain COPYs of built rows.
package schematest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamforge/streamforge/internal/schema"
)

// ValueOf makes a Value of a Go value of a DataType (see schema.DataType;
// an int is an Int and []byte JSON), nil (SQL NULL), or a Value. Another
// type panics: it is meant for rows written in code.
func ValueOf(x any) schema.Value {
	switch x := x.(type) {
	case nil:
		return schema.NullValue()
	case schema.Value:
		return x
	case bool:
		return schema.BoolValue(x)
	case int:
		return schema.IntValue(int64(x))
	case int64:
		return schema.IntValue(x)
	case float64:
		return schema.FloatValue(x)
	case time.Time:
		return schema.TimeValue(x)
	case string:
		return schema.TextValue(x)
	case json.RawMessage:
		return schema.JSONValue(string(x))
	case []byte:
		return schema.JSONValue(string(x))
	}
	panic(fmt.Sprintf("schematest.ValueOf: %T is not the value of a DataType", x))
}

// Rows makes rows of ValueOf each value.
func Rows(rows [][]any) [][]schema.Value {
	out := make([][]schema.Value, len(rows))
	for i, r := range rows {
		out[i] = make([]schema.Value, len(r))
		for j, x := range r {
			out[i][j] = ValueOf(x)
		}
	}
	return out
}

// AnyRows returns rows as the Go values of their types (see Value.Any),
// Absent as nil: what a plain COPY or INSERT of the rows sends.
func AnyRows(rows [][]schema.Value) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			if !v.IsAbsent() {
				out[i][j] = v.Any()
			}
		}
	}
	return out
}
