// Package topics names bulker's Kafka topics and record headers. It is the
// one place that knows the naming scheme, shared by ingest (which produces)
// and the loaders (which consume, retry and dead-letter).
//
// Incoming events go to in.id.{destination}.m.{batch|stream}.t.{table}, as
// in Jitsu Bulker. A table name that is not a legal topic name (characters
// outside [A-Za-z0-9._-]), or that holds Jitsu's partition marker ".p.",
// is encoded as Jitsu encodes it, base64url after ".b64.", so every table
// keeps a topic of its own and the name is recovered exactly. Parse reads
// Jitsu's topics too — with a ".p.N" partition suffix — and the ".h."
// (hex) names of earlier versions.
package topics

import (
	"encoding/base64"
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
	HeaderReplayOf    = "replay_of" // the dead-letter id (DeadID) a replayed event came from
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
	if legal(n.Table) && !strings.Contains(n.Table, partitionMarker) {
		t = ".t." + n.Table
	} else {
		t = ".b64." + base64.RawURLEncoding.EncodeToString([]byte(n.Table))
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
	if m := destination.DeliveryMode(mode); m != destination.Batch && m != destination.Stream {
		return Name{}, fmt.Errorf("topic %s: mode %q is not batch or stream", topic, mode)
	}
	kind, table, ok := strings.Cut(table, ".")
	if !ok || table == "" {
		return Name{}, fmt.Errorf("topic %s has no table", topic)
	}
	if i := strings.LastIndex(table, partitionMarker); i >= 0 && allDigits(table[i+len(partitionMarker):]) {
		table = table[:i] // Jitsu's partition of a table's topic
	}
	switch kind {
	case "t":
	case "b64":
		b, err := base64.RawURLEncoding.DecodeString(table)
		if err != nil {
			return Name{}, fmt.Errorf("topic %s: bad base64 table name: %w", topic, err)
		}
		table = string(b)
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

// Dead is the dead-letter topic: events that will not be retried. Its name
// is Jitsu Bulker's.
func Dead(prefix string) string { return prefix + "destination-messages-dead-letter" }

// EarlierDead is the dead-letter topic of StreamForge before it took
// Jitsu's name; GET /failed still reads it.
func EarlierDead(prefix string) string { return prefix + "destination-messages-dead" }

// partitionMarker separates a table from Jitsu's partition number.
const partitionMarker = ".p."

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Valid reports whether topic is a legal Kafka topic name.
func Valid(topic string) bool { return legal(topic) && len(topic) <= MaxTopicLen }

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
