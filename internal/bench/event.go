package bench

import (
	"strconv"
	"time"
)

// Event returns the i-th benchmark event: a realistic ~300-byte analytics
// event with a dozen fields, an RFC 3339 timestamp and nested objects, so
// that flattening, inference and casting do their real work. Values vary
// with i so rows are not identical.
func Event(i int, ts time.Time) []byte {
	b := make([]byte, 0, 360)
	b = append(b, `{"event_id":"evt-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","type":"`...)
	b = append(b, eventTypes[i%len(eventTypes)]...)
	b = append(b, `","timestamp":"`...)
	b = ts.Add(time.Duration(i)*time.Millisecond).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","user":{"id":`...)
	b = strconv.AppendInt(b, int64(100000+i%50000), 10)
	b = append(b, `,"anonymous_id":"anon-`...)
	b = strconv.AppendInt(b, int64(i%7919), 16)
	b = append(b, `","traits":{"plan":"`...)
	b = append(b, plans[i%len(plans)]...)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, int64(18+i%60), 10)
	b = append(b, `}},"context":{"page":{"url":"https://shop.example.com/p/`...)
	b = strconv.AppendInt(b, int64(i%1000), 10)
	b = append(b, `","title":"Product page"},"ip":"203.0.113.`...)
	b = strconv.AppendInt(b, int64(i%250), 10)
	b = append(b, `","locale":"en-US"},"properties":{"price":`...)
	b = strconv.AppendFloat(b, float64(i%10000)/100+0.99, 'f', 2, 64)
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, int64(1+i%5), 10)
	b = append(b, `,"in_stock":`...)
	b = strconv.AppendBool(b, i%3 != 0)
	b = append(b, `}}`...)
	return b
}

var (
	eventTypes = []string{"page_view", "add_to_cart", "checkout", "identify"}
	plans      = []string{"free", "pro", "enterprise"}
)
