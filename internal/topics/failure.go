package topics

import (
	"strconv"
	"time"

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

// Headers encodes f.
func (f Failure) Headers() []kafka.Header {
	h := []kafka.Header{
		{Key: HeaderTable, Value: []byte(f.Table)},
		{Key: HeaderDestination, Value: []byte(f.Destination)},
		{Key: HeaderRetryTopic, Value: []byte(f.Topic)},
		{Key: HeaderAttempt, Value: []byte(strconv.Itoa(f.Attempt))},
		{Key: HeaderError, Value: []byte(f.Error)},
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
