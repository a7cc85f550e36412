package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/replay"
	"github.com/streamforge/streamforge/internal/topics"
)

// FailedSource reads the newest records of a topic: GET /failed scans the
// retry and dead-letter topics with it.
type FailedSource interface {
	ReadAll(ctx context.Context, topic string, limit int) ([]kafka.Record, error)
}

// failedEvent is one line of GET /failed: an event whose load failed, with
// the reason, as Jitsu Bulker shows it.
type failedEvent struct {
	// ID names a dead event for POST /failed/{destinationId}/replay.
	ID       string          `json:"id,omitempty"`
	Time     time.Time       `json:"time"` // of the last failure
	Table    string          `json:"table"`
	Error    string          `json:"error"`
	Attempts int             `json:"attempts"`
	Event    json.RawMessage `json:"event"`
	// Replayed is when a dead event was replayed, if it was.
	Replayed *time.Time `json:"replayed,omitempty"`
}

const (
	defaultLimit = 100
	maxLimit     = 10000
)

func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d", maxLimit)
	}
	return n, nil
}

// eventsLimit checks that the events log is on and reads the limit
// parameter, answering the error itself; ok is false when it did.
func (s *Server) eventsLimit(w http.ResponseWriter, r *http.Request) (limit int, ok bool) {
	if s.d.Events == nil {
		fail(w, http.StatusNotImplemented, "the events log is off")
		return 0, false
	}
	limit, err := limitParam(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return 0, false
	}
	return limit, true
}

// listEvents answers GET /events?destination=&table=&status=&limit=.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.eventsLimit(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := eventslog.Filter{Destination: q.Get("destination"), Table: q.Get("table"), Limit: limit}
	if st := q.Get("status"); st != "" {
		for _, v := range strings.Split(st, ",") {
			switch v := eventslog.Status(strings.TrimSpace(v)); v {
			case eventslog.Accepted, eventslog.Loaded, eventslog.Failed, eventslog.Dead, eventslog.Warning, eventslog.Replayed:
				f.Statuses = append(f.Statuses, v)
			default:
				fail(w, http.StatusBadRequest, "status: want accepted, loaded, failed, dead, warning or replayed")
				return
			}
		}
	}
	es, err := s.d.Events.List(r.Context(), f)
	if err != nil {
		s.d.Logger.Error("reading the events log", "err", err)
		fail(w, http.StatusServiceUnavailable, "the events log is unavailable")
		return
	}
	if es == nil {
		es = []eventslog.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": es})
}

// logRecord is an entry in the shape of Jitsu Bulker's /log answer.
type logRecord struct {
	ID      string          `json:"id"`
	Date    time.Time       `json:"date"`
	Content eventslog.Entry `json:"content"`
}

// log answers Jitsu's GET /log/{eventType}/{actorId}: eventType is
// incoming, bulker_batch or bulker_stream, optionally with .all or .error;
// actorId is the destination id.
func (s *Server) log(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.eventsLimit(w, r)
	if !ok {
		return
	}
	kind, scope, _ := strings.Cut(r.PathValue("eventType"), ".")
	if scope != "" && scope != "all" && scope != "error" {
		fail(w, http.StatusBadRequest, "eventType: want incoming, bulker_batch or bulker_stream, with .all or .error")
		return
	}
	dest := r.PathValue("actorId")
	var statuses []eventslog.Status
	switch kind {
	case "incoming":
		if scope == "error" {
			// Rejected requests are answered, not logged: nothing to show.
			writeJSON(w, http.StatusOK, []logRecord{})
			return
		}
		statuses = []eventslog.Status{eventslog.Accepted}
	case "bulker_batch", "bulker_stream":
		if d, ok := s.d.Destinations.Lookup(dest); ok && "bulker_"+string(modeOf(d)) != kind {
			writeJSON(w, http.StatusOK, []logRecord{})
			return
		}
		statuses = []eventslog.Status{eventslog.Loaded, eventslog.Failed, eventslog.Dead, eventslog.Warning}
		if scope == "error" {
			statuses = statuses[1:]
		}
	default:
		fail(w, http.StatusBadRequest, "eventType: want incoming, bulker_batch or bulker_stream, with .all or .error")
		return
	}
	es, err := s.d.Events.List(r.Context(), eventslog.Filter{Destination: dest, Statuses: statuses, Limit: limit})
	if err != nil {
		s.d.Logger.Error("reading the events log", "err", err)
		fail(w, http.StatusServiceUnavailable, "the events log is unavailable")
		return
	}
	out := make([]logRecord, len(es))
	for i, e := range es {
		out[i] = logRecord{ID: e.ID, Date: e.Time, Content: e}
	}
	writeJSON(w, http.StatusOK, out)
}

func modeOf(d destination.Config) destination.DeliveryMode {
	if d.Options.Mode == "" {
		return destination.Batch
	}
	return d.Options.Mode
}

// failed answers GET /failed/{destinationId}?tableName=&status=retry|dead&limit=
// with NDJSON, one failed event per line, newest first, as Jitsu Bulker
// does. The destination need not be configured any more: its dead events
// remain. It scans a bounded tail of the topic (Config.FailedScan): it
// suits inspection, not export.
func (s *Server) failed(w http.ResponseWriter, r *http.Request) {
	if s.d.Failed == nil {
		fail(w, http.StatusNotImplemented, "listing failed events is not available")
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	dest, table := r.PathValue("destinationId"), r.URL.Query().Get("tableName")
	var names []string
	switch status := r.URL.Query().Get("status"); status {
	case "", "dead":
		// Jitsu's dead-letter topic, and the one earlier versions wrote.
		names = []string{topics.Dead(s.cfg.TopicPrefix), topics.EarlierDead(s.cfg.TopicPrefix)}
	case "retry":
		names = []string{topics.Retry(s.cfg.TopicPrefix)}
	default:
		fail(w, http.StatusBadRequest, "status: want dead or retry")
		return
	}
	var recs []kafka.Record
	for _, topic := range names {
		rs, err := s.d.Failed.ReadAll(r.Context(), topic, s.cfg.FailedScan)
		if err != nil {
			s.d.Logger.Error("reading failed events", "destination", dest, "topic", topic, "err", err)
			fail(w, http.StatusServiceUnavailable, "failed events are unavailable: "+err.Error())
			return
		}
		recs = append(recs, rs...)
	}
	var replayed map[string]time.Time
	dead := names[0] == topics.Dead(s.cfg.TopicPrefix)
	if dead {
		if replayed, err = replay.Replayed(r.Context(), s.d.Failed, s.cfg.TopicPrefix, s.cfg.FailedScan); err != nil {
			s.d.Logger.Error("reading replayed events", "destination", dest, "err", err)
			fail(w, http.StatusServiceUnavailable, "failed events are unavailable: "+err.Error())
			return
		}
	}
	slices.SortStableFunc(recs, func(a, b kafka.Record) int { return a.Time.Compare(b.Time) })
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	n := 0
	for _, rec := range slices.Backward(recs) {
		f := topics.ParseFailure(rec)
		if f.Destination != dest || table != "" && f.Table != table {
			continue
		}
		ev := json.RawMessage(rec.Value)
		if !json.Valid(ev) {
			ev, _ = json.Marshal(string(rec.Value)) // an unparsable event is shown as a string
		}
		fe := failedEvent{Time: rec.Time.UTC(), Table: f.Table, Error: f.Error, Attempts: f.Attempt, Event: ev}
		if dead {
			fe.ID = topics.DeadID(s.cfg.TopicPrefix, rec)
			if at, ok := replayed[fe.ID]; ok {
				fe.Replayed = &at
			}
		}
		if err := enc.Encode(fe); err != nil {
			return // the client is gone
		}
		if n++; n == limit {
			return
		}
	}
}
