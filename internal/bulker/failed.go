package bulker

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"

	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// failedReader answers GET /failed from the retry and dead-letter topics.
// It scans a bounded tail of the topic, so it suits inspection, not export.
type failedReader struct {
	kafka  kafka.Config
	prefix string
	log    *slog.Logger
	// scan is how many of the newest records of the topic are looked at.
	scan int
}

// Failed implements ingest.FailedReader: newest first.
func (f failedReader) Failed(ctx context.Context, q ingest.FailedQuery) ([]ingest.FailedEvent, error) {
	topic := topics.Retry(f.prefix)
	if q.Status == ingest.FailedDead {
		topic = topics.Dead(f.prefix)
	}
	recs, err := kafka.ReadAll(ctx, f.kafka, f.log, topic, f.scan)
	if err != nil {
		return nil, err
	}
	var out []ingest.FailedEvent
	for _, r := range slices.Backward(recs) {
		if r.Header(topics.HeaderDestination) != q.Destination ||
			(q.Table != "" && r.Header(topics.HeaderTable) != q.Table) {
			continue
		}
		attempts, _ := strconv.Atoi(r.Header(topics.HeaderAttempt))
		ev := json.RawMessage(r.Value)
		if !json.Valid(ev) {
			b, _ := json.Marshal(string(r.Value)) // an unparsable event is shown as a string
			ev = b
		}
		out = append(out, ingest.FailedEvent{Time: r.Time.UTC(), Table: r.Header(topics.HeaderTable),
			Error: r.Header(topics.HeaderError), Attempts: attempts, Event: ev})
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}
