package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/sink"
)

// BulkLoader applies a bulk request in the destination, all or nothing;
// *sink.Registry implements it. An error wrapping destination.ErrData is
// the data's fault (answered 400); any other is an outage (503). Warnings
// go to the events log.
type BulkLoader interface {
	Bulk(ctx context.Context, req sink.BulkRequest) ([]sink.Warning, error)
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request) {
	destLabel, reason := unknownLabel, reasonOK
	defer func() {
		status := "loaded"
		if reason != reasonOK {
			status = "rejected"
		}
		s.bulks.WithLabelValues(destLabel, status, reason).Inc()
	}()
	if s.d.Bulk == nil {
		reason = reasonBadRequest
		fail(w, http.StatusNotImplemented, "bulk loading is not available")
		return
	}
	dest, table, why, ok := s.target(w, r, r.PathValue("destinationId"))
	if !ok {
		reason = why
		return
	}
	destLabel = dest.ID
	log := s.d.Logger.With("destination", dest.ID, "table", table)

	req, allowEmpty, err := bulkRequest(r, dest, table)
	if err != nil {
		reason = reasonBadRequest
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.cfg.BulkReadTimeout > 0 {
		// A bulk body may be far larger than an event: it gets its own
		// bound, from now on, in place of the server's ReadTimeout. A
		// writer without a connection (a test recorder) keeps none.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BulkReadTimeout))
	}
	body, code, err := readBody(w, r, s.cfg.MaxBulkSize, "BULKER_MAX_BULK_SIZE", "BULKER_HTTP_BULK_READ_TIMEOUT_SEC")
	if err != nil {
		reason = bodyReason(code)
		fail(w, code, err.Error())
		return
	}
	if req.Events, err = splitNDJSON(body, s.cfg.MaxEventSize); err != nil {
		reason = reasonBadEvent
		fail(w, http.StatusBadRequest, err.Error())
		log.Info("bulk rejected", "err", err)
		return
	}
	if len(req.Events) == 0 && req.Mode == destination.Append {
		// Nothing to add, as Jitsu answers an empty batch or stream.
		n := 0
		writeJSON(w, http.StatusOK, answer{Success: true, Count: &n})
		return
	}
	if len(req.Events) == 0 && !allowEmpty {
		// A truncated upload or an empty export must not wipe the table.
		reason = reasonBadEvent
		fail(w, http.StatusBadRequest, fmt.Sprintf("the body holds no event: nothing replaced; to empty the %s, send allowEmpty=true", replaced(req.Mode)))
		log.Info("bulk rejected", "err", "no event")
		return
	}

	mode := req.Mode.String()
	warns, err := s.d.Bulk.Bulk(r.Context(), req)
	entry := eventslog.Entry{Time: s.d.Now().UTC(), Destination: dest.ID, Table: table, Status: eventslog.Loaded}
	entry.Body, _ = json.Marshal(map[string]any{"bulk": mode, "partition": req.Partition, "count": len(req.Events)})
	if err != nil {
		reason = reasonLoad
		entry.Status, entry.Error = eventslog.Failed, err.Error()
		code := http.StatusServiceUnavailable
		if errors.Is(err, destination.ErrData) {
			code = http.StatusBadRequest
		}
		fail(w, code, fmt.Sprintf("loading into %s: %v", dest.ID, err))
		log.Error("bulk load failed", "events", len(req.Events), "err", err)
	} else {
		n := len(req.Events)
		writeJSON(w, http.StatusOK, answer{Success: true, Count: &n})
		log.Info("bulk loaded", "mode", mode, "events", n)
	}
	if s.d.Events == nil {
		return
	}
	entries := []eventslog.Entry{entry}
	for _, warn := range warns {
		entries = append(entries, eventslog.Entry{Time: entry.Time, Destination: dest.ID, Table: table,
			Status: eventslog.Warning, Error: warn.String()})
	}
	for _, e := range entries {
		if err := s.d.Events.Add(r.Context(), e); err != nil {
			log.Warn("adding to the events log", "err", err)
		}
	}
}

// bulkRequest reads the query of a /bulk request; allowEmpty is the
// caller's explicit consent to an empty body emptying the table or
// partition.
func bulkRequest(r *http.Request, dest destination.Config, table string) (req sink.BulkRequest, allowEmpty bool, err error) {
	q := r.URL.Query()
	req = sink.BulkRequest{Destination: dest.ID, Table: table}
	switch m := q.Get("mode"); m {
	case "", destination.ReplaceTable.String():
		req.Mode = destination.ReplaceTable
	case destination.ReplacePartition.String():
		req.Mode = destination.ReplacePartition
	case string(destination.Batch), string(destination.Stream):
		// Jitsu's modes that keep the table: both add the rows, in one
		// transaction (Jitsu's stream commits row by row).
		req.Mode = destination.Append
	default:
		return req, false, fmt.Errorf("mode %q: want %s, %s, %s or %s", truncate(m, 32), destination.ReplaceTable.String(),
			destination.ReplacePartition.String(), destination.Batch, destination.Stream)
	}
	req.Partition = q.Get("partition")
	if req.Partition == "" {
		req.Partition = q.Get("partitionId")
	}
	if req.Partition == "" && req.Mode == destination.ReplacePartition {
		req.Partition = dest.Options.PartitionID // Jitsu's destination option
	}
	switch {
	case req.Mode == destination.ReplacePartition && req.Partition == "":
		return req, false, fmt.Errorf("mode %s needs the partition query parameter", destination.ReplacePartition.String())
	case req.Mode != destination.ReplacePartition && req.Partition != "":
		return req, false, fmt.Errorf("partition is only used with mode=%s", destination.ReplacePartition.String())
	}
	switch v := q.Get("allowEmpty"); v {
	case "", "false":
	case "true":
		allowEmpty = true
	default:
		return req, false, fmt.Errorf("allowEmpty %q: want true or false", truncate(v, 32))
	}
	for _, v := range q["pk"] { // pk=a,b and pk=a&pk=b (Jitsu) both work
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				req.PrimaryKey = append(req.PrimaryKey, k)
			}
		}
	}
	if len(req.PrimaryKey) == 0 {
		req.PrimaryKey = dest.Options.PrimaryKeys()
	}
	return req, allowEmpty, nil
}

// replaced names what a bulk request of mode m replaces.
func replaced(m destination.LoadMode) string {
	if m == destination.ReplacePartition {
		return "partition"
	}
	return "table"
}

// splitNDJSON returns the events of an NDJSON body, one JSON object per
// line; blank lines are skipped. The first bad line fails the whole body,
// named by its number (from 1).
func splitNDJSON(body []byte, maxEvent int64) ([][]byte, error) {
	var out [][]byte
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if int64(len(line)) > maxEvent {
			return nil, fmt.Errorf("line %d: event of %d bytes exceeds %d bytes (BULKER_MAX_EVENT_SIZE)", n, len(line), maxEvent)
		}
		if err := ValidateEvent(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, line)
	}
	return out, nil
}
