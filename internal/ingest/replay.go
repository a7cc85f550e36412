package ingest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/streamforge/streamforge/internal/replay"
)

// Replayer re-queues dead events; *replay.Replayer implements it.
type Replayer interface {
	Replay(ctx context.Context, req replay.Request) (replay.Result, error)
}

// replayAnswer is the answer of POST /failed/{destinationId}/replay.
type replayAnswer struct {
	Success bool   `json:"success"`
	Error   string `json:"error,omitempty"`
	replay.Result
}

// replayFailed answers POST /failed/{destinationId}/replay?tableName=T&ids=a,b&force=true.
func (s *Server) replayFailed(w http.ResponseWriter, r *http.Request) {
	if s.d.Replay == nil {
		fail(w, http.StatusNotImplemented, "replaying failed events is not available")
		return
	}
	q := r.URL.Query()
	req := replay.Request{Destination: s.destID(r.PathValue("destinationId")), Table: q.Get("tableName")}
	for _, id := range strings.Split(q.Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			req.IDs = append(req.IDs, id)
		}
	}
	if v := q.Get("force"); v != "" {
		force, err := strconv.ParseBool(v)
		if err != nil {
			fail(w, http.StatusBadRequest, "force: want true or false")
			return
		}
		req.Force = force
	}
	res, err := s.d.Replay.Replay(r.Context(), req)
	switch {
	case errors.Is(err, replay.ErrBadRequest):
		fail(w, http.StatusBadRequest, err.Error())
	case err != nil:
		s.d.Logger.Error("replaying dead events", "destination", req.Destination, "table", req.Table, "err", err)
		// What was done before the failure, so the operator knows which
		// ids to replay again.
		writeJSON(w, http.StatusServiceUnavailable, replayAnswer{Error: "replay failed: " + err.Error(), Result: res})
	default:
		s.d.Logger.Info("dead events replayed", "destination", req.Destination, "table", req.Table,
			"replayed", len(res.Replayed), "already_replayed", len(res.AlreadyReplayed), "not_found", len(res.NotFound))
		writeJSON(w, http.StatusOK, replayAnswer{Success: true, Result: res})
	}
}
