package topics

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/streamforge/streamforge/internal/kafka"
)

// Failure is what bulker records about an event it could not load: the
// headers of the event's record in the retry or dead-letter topic. It is
// the one place that writes and reads them.
type Failure struct {
	Destination string
	Table       string // exactly as requested
	Topic       string // the incoming topic the event came from
	Attempt     int    // failed loads so far, this one included
	Error       string // the last load error
	// RetryAfter is when the event may be re-queued; zero in the
	// dead-letter topic.
	RetryAfter time.Time
	ReceivedAt string // when bulker accepted the event (RFC 3339), if known
	// ReplayOf is the dead-letter id (DeadID) of the record this event was
	// replayed from; a replayed event that fails again goes straight back
	// to the dead-letter topic.
	ReplayOf string
}

// maxErrorBytes bounds the error header: a database's message may quote
// the whole row, and the record must stay within kafka.RecordOverhead of
// the event it carries.
const maxErrorBytes = 4 << 10

// Headers encodes f; an error longer than maxErrorBytes is cut, ending in
// "…".
func (f Failure) Headers() []kafka.Header {
	h := []kafka.Header{
		{Key: HeaderTable, Value: []byte(f.Table)},
		{Key: HeaderDestination, Value: []byte(f.Destination)},
		{Key: HeaderRetryTopic, Value: []byte(f.Topic)},
		{Key: HeaderAttempt, Value: []byte(strconv.Itoa(f.Attempt))},
		{Key: HeaderError, Value: []byte(cut(f.Error, maxErrorBytes))},
	}
	if f.ReceivedAt != "" {
		h = append(h, kafka.Header{Key: HeaderReceivedAt, Value: []byte(f.ReceivedAt)})
	}
	if f.ReplayOf != "" {
		h = append(h, kafka.Header{Key: HeaderReplayOf, Value: []byte(f.ReplayOf)})
	}
	if !f.RetryAfter.IsZero() {
		h = append(h, kafka.Header{Key: HeaderRetryAfter, Value: f.RetryAfter.UTC().AppendFormat(nil, time.RFC3339Nano)})
	}
	return h
}

// ParseFailure decodes the Failure in r's headers; fields r lacks are
// zero. It reads incoming records too: a re-queued event carries the
// Failure that sent it to the retry topic.
func ParseFailure(r kafka.Record) Failure {
	f := Failure{
		Destination: r.Header(HeaderDestination),
		Table:       r.Header(HeaderTable),
		Topic:       r.Header(HeaderRetryTopic),
		Error:       r.Header(HeaderError),
		ReceivedAt:  r.Header(HeaderReceivedAt),
		ReplayOf:    r.Header(HeaderReplayOf),
	}
	f.Attempt, _ = strconv.Atoi(r.Header(HeaderAttempt))
	f.RetryAfter, _ = time.Parse(time.RFC3339Nano, r.Header(HeaderRetryAfter))
	return f
}

// cut shortens s to at most n bytes, at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}
