package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
)

// FailedQuery selects failed events of one destination.
type FailedQuery struct {
	Destination string
	Table       string // empty: every table
	Status      string // FailedRetry or FailedDead
	Limit       int
}

// Failed event statuses: waiting in the retry topic, or dead-lettered.
const (
	FailedRetry = "retry"
	FailedDead  = "dead"
)

// FailedEvent is an event whose load failed, with the reason.
type FailedEvent struct {
	Time     time.Time       `json:"time"` // of the last failure
	Table    string          `json:"table"`
	Error    string          `json:"error"`
	Attempts int             `json:"attempts"`
	Event    json.RawMessage `json:"event"`
}

// FailedReader lists failed events (from the retry and dead-letter
// topics).
type FailedReader interface {
	Failed(ctx context.Context, q FailedQuery) ([]FailedEvent, error)
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
			case eventslog.Accepted, eventslog.Loaded, eventslog.Failed, eventslog.Dead:
				f.Statuses = append(f.Statuses, v)
			default:
				fail(w, http.StatusBadRequest, "status: want accepted, loaded, failed or dead")
				return
			}
		}
	}
	es, err := s.d.Events.List(r.Context(), f)
	if err != nil {
		s.d.Logger.Error("reading the events log", "error", err)
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
		if d, ok := s.d.Destinations.Lookup(dest); ok && "bulker_"+modeOf(d) != kind {
			writeJSON(w, http.StatusOK, []logRecord{})
			return
		}
		statuses = []eventslog.Status{eventslog.Loaded, eventslog.Failed, eventslog.Dead}
		if scope == "error" {
			statuses = statuses[1:]
		}
	default:
		fail(w, http.StatusBadRequest, "eventType: want incoming, bulker_batch or bulker_stream, with .all or .error")
		return
	}
	es, err := s.d.Events.List(r.Context(), eventslog.Filter{Destination: dest, Statuses: statuses, Limit: limit})
	if err != nil {
		s.d.Logger.Error("reading the events log", "error", err)
		fail(w, http.StatusServiceUnavailable, "the events log is unavailable")
		return
	}
	out := make([]logRecord, len(es))
	for i, e := range es {
		out[i] = logRecord{ID: e.ID, Date: e.Time, Content: e}
	}
	writeJSON(w, http.StatusOK, out)
}

func modeOf(d destination.Config) string {
	if d.Options.Mode == "" {
		return destination.ModeBatch
	}
	return d.Options.Mode
}

// failed answers GET /failed/{destinationId}?tableName=&status=retry|dead&limit=
// with NDJSON, one failed event per line, as Jitsu Bulker does. The
// destination need not be configured any more: its dead events remain.
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
	q := FailedQuery{Destination: r.PathValue("destinationId"), Table: r.URL.Query().Get("tableName"), Status: r.URL.Query().Get("status"), Limit: limit}
	switch q.Status {
	case "":
		q.Status = FailedDead
	case FailedDead, FailedRetry:
	default:
		fail(w, http.StatusBadRequest, "status: want dead or retry")
		return
	}
	evs, err := s.d.Failed.Failed(r.Context(), q)
	if err != nil {
		s.d.Logger.Error("reading failed events", "destination", q.Destination, "status", q.Status, "error", err)
		fail(w, http.StatusServiceUnavailable, "failed events are unavailable: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			return // the client is gone
		}
	}
}
