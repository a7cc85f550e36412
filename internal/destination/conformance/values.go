package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/schema"
)

// timeLayouts are the forms drivers hand timestamps back in when not as
// time.Time; a layout without an offset is read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// canonical puts a value read from any driver (or an expectation) in one
// form per logical type, so rows compare with reflect.DeepEqual: bool,
// int64, float64, timestamps as RFC 3339 in UTC, strings, and JSON
// re-encoded with sorted keys and numbers kept verbatim.
func canonical(t schema.DataType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if r, ok := v.(json.RawMessage); ok {
		v = string(r)
	}
	switch t {
	case schema.Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case string:
			switch strings.ToLower(x) {
			case "1", "t", "true":
				return true, nil
			case "0", "f", "false":
				return false, nil
			}
		}
	case schema.Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case string:
			return strconv.ParseInt(x, 10, 64)
		}
	case schema.Float:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case schema.Timestamp:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		case string:
			for _, l := range timeLayouts {
				if ts, err := time.Parse(l, x); err == nil {
					return ts.UTC().Format(time.RFC3339Nano), nil
				}
			}
			return nil, fmt.Errorf("unparsable timestamp %q", x)
		}
	case schema.Text:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case schema.JSON:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, err
			}
			s = string(b)
		}
		return canonicalJSON(s)
	}
	return nil, fmt.Errorf("unexpected %T %v for a %s column", v, v, t)
}

func canonicalJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return "", fmt.Errorf("invalid JSON %q: %w", s, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}
