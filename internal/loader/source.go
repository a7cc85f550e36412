package loader

import (
	"errors"
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/topics"
)

// Source is a Kafka topic that bulker did not write but loads into a
// destination table: its records are JSON objects, as /post bodies are.
// Its worker is an incoming topic's worker, with the target named here
// instead of in the topic's name.
type Source struct {
	ID          string
	Topic       string
	Destination string
	Table       string
	// Mode is batch or stream; empty takes the destination's.
	Mode destination.DeliveryMode
	// Group is the consumer group; empty is bulker-source-<ID>.
	Group string
}

// GroupName is the consumer group the source is read with.
func (s Source) GroupName() string {
	if s.Group != "" {
		return s.Group
	}
	return "bulker-source-" + s.ID
}

// Validate names the first bad field. A source may not read one of
// bulker's own topics: their records already reach a table, and the retry
// and dead-letter records would loop.
func (s Source) Validate(prefix string) error {
	switch {
	case s.ID == "":
		return errors.New("source: id is empty")
	case !topics.Valid(s.Topic):
		return fmt.Errorf("source %s: topic %q is not a Kafka topic name", s.ID, s.Topic)
	case s.Destination == "":
		return fmt.Errorf("source %s: destination is empty", s.ID)
	case s.Table == "":
		return fmt.Errorf("source %s: table is empty", s.ID)
	case s.Mode != "" && s.Mode != destination.Batch && s.Mode != destination.Stream:
		return fmt.Errorf("source %s: mode %q: want batch or stream", s.ID, s.Mode)
	}
	if strings.HasPrefix(s.Topic, prefix+"in.id.") ||
		s.Topic == topics.Retry(prefix) || s.Topic == topics.Dead(prefix) ||
		s.Topic == topics.EarlierDead(prefix) || s.Topic == topics.Replayed(prefix) {
		return fmt.Errorf("source %s: topic %s is one of bulker's own", s.ID, s.Topic)
	}
	if _, err := topics.Incoming(prefix, topics.Name{Destination: s.Destination, Mode: destination.Batch, Table: s.Table}); err != nil {
		return fmt.Errorf("source %s: %w", s.ID, err)
	}
	return nil
}

// SourceList gives the manager the configured sources; they may change
// while it runs.
type SourceList interface {
	Sources() []Source
}
