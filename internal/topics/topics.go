// Package topics names bulker's Kafka topics and record headers. It is the
// one place that knows the naming scheme, shared by ingest (which produces)
// and the loaders (which consume, retry and dead-letter).
//
// Incoming events go to in.id.{destination}.m.{batch|stream}.t.{table}, as
// in Jitsu Bulker. A table name that is not a legal topic name (characters
// outside [A-Za-z0-9._-]) is hex-encoded after ".h." instead of ".t.", so
// every table keeps a topic of its own and the name is recovered exactly.
package topics

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/destination"
)

// MaxTopicLen is Kafka's limit on a topic name.
const MaxTopicLen = 249

// Header names carried by bulker's records. Incoming records carry
// HeaderReceivedAt (the topic names destination and table), and once
// re-queued those of their Failure; records in the retry and dead-letter
// topics carry them all (see failure.go).
const (
	HeaderTable       = "table"          // the table name, exactly as requested
	HeaderAttempt     = "retries"        // how many loads of this event failed
	HeaderError       = "error"          // the last load error
	HeaderRetryTopic  = "original_topic" // the topic the event came from
	HeaderRetryAfter  = "retry_time"     // RFC 3339 time before which it is not retried
	HeaderReceivedAt  = "received_at"    // RFC 3339 time bulker accepted the event
	HeaderDestination = "destination_id"
)

// Name is a parsed incoming topic.
type Name struct {
	Destination string
	Mode        destination.DeliveryMode
	Table       string
}

// Incoming returns the topic for events of one destination, mode and table.
func Incoming(prefix string, n Name) (string, error) {
	if n.Table == "" {
		return "", errors.New("table name is empty")
	}
	var t string
	if legal(n.Table) {
		t = ".t." + n.Table
	} else {
		t = ".h." + hex.EncodeToString([]byte(n.Table))
	}
	topic := prefix + "in.id." + n.Destination + ".m." + string(n.Mode) + t
	if len(topic) > MaxTopicLen {
		return "", fmt.Errorf("table name %q is too long: its topic would exceed %d characters", n.Table, MaxTopicLen)
	}
	return topic, nil
}

// Parse reverses Incoming.
func Parse(prefix, topic string) (Name, error) {
	rest, ok := strings.CutPrefix(topic, prefix+"in.id.")
	if !ok {
		return Name{}, fmt.Errorf("topic %s is not an incoming topic", topic)
	}
	dest, rest, ok := strings.Cut(rest, ".m.")
	if !ok || dest == "" {
		return Name{}, fmt.Errorf("topic %s has no mode", topic)
	}
	mode, table, ok := strings.Cut(rest, ".")
	if !ok {
		return Name{}, fmt.Errorf("topic %s has no table", topic)
	}
	kind, table, ok := strings.Cut(table, ".")
	if !ok || table == "" {
		return Name{}, fmt.Errorf("topic %s has no table", topic)
	}
	switch kind {
	case "t":
	case "h":
		b, err := hex.DecodeString(table)
		if err != nil {
			return Name{}, fmt.Errorf("topic %s: bad hex table name: %w", topic, err)
		}
		table = string(b)
	default:
		return Name{}, errors.New("topic " + topic + " has no table")
	}
	return Name{Destination: dest, Mode: destination.DeliveryMode(mode), Table: table}, nil
}

// Retry is the topic of events waiting for another load attempt.
func Retry(prefix string) string { return prefix + "destination-messages-retry" }

// Dead is the dead-letter topic: events that will not be retried.
func Dead(prefix string) string { return prefix + "destination-messages-dead" }

func legal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
