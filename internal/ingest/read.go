package ingest

import (
	"bytes"
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

// countParam reads the non-negative integer parameter name; absent, 0.
func countParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer", name)
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
	f := eventslog.Filter{Destination: s.destID(q.Get("destination")), Table: q.Get("table"), Limit: limit}
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
// actorId is the destination id. Jitsu's beforeId, start, end, ndjson and
// maxBytes apply.
func (s *Server) log(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.eventsLimit(w, r)
	if !ok {
		return
	}
	f, err := logFilter(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ndjson, _ := strconv.ParseBool(r.URL.Query().Get("ndjson"))
	maxBytes, err := countParam(r, "maxBytes")
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	kind, scope, _ := strings.Cut(r.PathValue("eventType"), ".")
	if scope != "" && scope != "all" && scope != "error" {
		fail(w, http.StatusBadRequest, "eventType: want incoming, bulker_batch or bulker_stream, with .all or .error")
		return
	}
	dest := s.destID(r.PathValue("actorId"))
	var statuses []eventslog.Status
	switch kind {
	case "incoming":
		if scope == "error" {
			// Rejected requests are answered, not logged: nothing to show.
			writeLog(w, nil, ndjson, maxBytes)
			return
		}
		statuses = []eventslog.Status{eventslog.Accepted}
	case "bulker_batch", "bulker_stream":
		if d, ok := s.d.Destinations.Lookup(dest); ok && "bulker_"+string(modeOf(d)) != kind {
			writeLog(w, nil, ndjson, maxBytes)
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
	f.Destination, f.Statuses, f.Limit = dest, statuses, limit
	es, err := s.d.Events.List(r.Context(), f)
	if err != nil {
		s.d.Logger.Error("reading the events log", "err", err)
		fail(w, http.StatusServiceUnavailable, "the events log is unavailable")
		return
	}
	writeLog(w, es, ndjson, maxBytes)
}

// writeLog writes records as a JSON array, or NDJSON, stopping before the
// record that would take the answer over maxBytes (0: no bound), as
// Jitsu's /log does.
func writeLog(w http.ResponseWriter, es []eventslog.Entry, ndjson bool, maxBytes int) {
	// Records are separated by sep and each followed by after; end closes
	// the answer.
	open, sep, after, end := "[", ",", "", "]"
	w.Header().Set("Content-Type", "application/json")
	if ndjson {
		open, sep, after, end = "", "", "\n", ""
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	var b bytes.Buffer
	b.WriteString(open)
	written := 0
	for _, e := range es {
		rec, err := json.Marshal(logRecord{ID: e.ID, Date: e.Time, Content: e})
		if err != nil {
			continue // an Entry always encodes; nothing to show otherwise
		}
		lead := ""
		if written > 0 {
			lead = sep
		}
		if maxBytes > 0 && b.Len()+len(lead)+len(rec)+len(after)+len(end) > maxBytes {
			break
		}
		b.WriteString(lead)
		b.Write(rec)
		b.WriteString(after)
		written++
	}
	b.WriteString(end)
	_, _ = w.Write(b.Bytes()) // the client may be gone; nothing to do then
}

// logFilter reads Jitsu's paging parameters of /log: beforeId, an entry
// id (the page after it), and start and end, inclusive, each a Unix time
// in milliseconds (13 digits) or a date (2006-01-02, its midnight UTC),
// or as an extension an RFC 3339 time.
func logFilter(r *http.Request) (eventslog.Filter, error) {
	q := r.URL.Query()
	var f eventslog.Filter
	if id := q.Get("beforeId"); id != "" {
		if _, err := eventslog.IDTime(id); err != nil {
			return f, fmt.Errorf("beforeId: %w", err)
		}
		f.BeforeID = id
	}
	var err error
	if f.Since, err = timeParam(q.Get("start")); err != nil {
		return f, fmt.Errorf("start: %w", err)
	}
	if f.Until, err = timeParam(q.Get("end")); err != nil {
		return f, fmt.Errorf("end: %w", err)
	}
	return f, nil
}

func timeParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if len(v) == 13 {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a Unix time in milliseconds, a date (2006-01-02) or an RFC 3339 time", truncate(v, 40))
}

func modeOf(d destination.Config) destination.DeliveryMode {
	if d.Options.Mode == "" {
		return destination.Batch
	}
	return d.Options.Mode
}

// failedMode is the mode of the incoming topic a failed event came from.
func failedMode(prefix string, f topics.Failure) destination.DeliveryMode {
	n, err := topics.Parse(prefix, f.Topic)
	if err != nil {
		return ""
	}
	return n.Mode
}

// failed answers GET /failed/{destinationId}?tableName=&status=retry|dead&mode=&limit=&offset=
// with NDJSON, one failed event per line, newest first, as Jitsu Bulker
// does; mode keeps the events of that mode's topics (Jitsu's parameter),
// offset skips that many, to page. The destination need not be configured any more: its dead events
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
	skip, err := countParam(r, "offset")
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	dest, table := s.destID(r.PathValue("destinationId")), r.URL.Query().Get("tableName")
	mode := destination.DeliveryMode(r.URL.Query().Get("mode"))
	if mode != "" && mode != destination.Batch && mode != destination.Stream {
		fail(w, http.StatusBadRequest, "mode: want batch or stream")
		return
	}
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
			// The events are listed all the same, without when they were
			// replayed.
			s.d.Logger.Warn("reading replay markers; failed events are listed without their replay times", "destination", dest, "err", err)
		}
	}
	slices.SortStableFunc(recs, func(a, b kafka.Record) int { return a.Time.Compare(b.Time) })
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	n := 0
	for _, rec := range slices.Backward(recs) {
		f := topics.ParseFailure(rec)
		if f.Destination != dest || table != "" && f.Table != table || mode != "" && failedMode(s.cfg.TopicPrefix, f) != mode {
			continue
		}
		if skip > 0 {
			skip--
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

// destID is the id of the configured destination that id names, which
// may differ in case (Jitsu keeps BULKER_DESTINATION_<ID>'s); an id no
// destination has is kept: its events may outlive its configuration.
func (s *Server) destID(id string) string {
	if c, ok := s.d.Destinations.Lookup(id); ok {
		return c.ID
	}
	return id
}
