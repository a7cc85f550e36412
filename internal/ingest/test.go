package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
)

// ConnectionTester checks that a destination's database can be reached
// and logged in to; *sink.Registry implements it.
type ConnectionTester interface {
	Test(ctx context.Context, c destination.Config) error
}

// testTimeout bounds POST /test: an unreachable host must not hold the
// request for the driver's own, longer, connect timeout.
const testTimeout = 15 * time.Second

// test answers POST /test: the body is a destination, either as in
// BULKER_DESTINATION_* ({"type","options","credentials"}) or as Jitsu's
// console sends it, the credentials flat beside "id" and
// "destinationType". 200 when the database answers, 422 with the reason
// otherwise.
func (s *Server) test(w http.ResponseWriter, r *http.Request) {
	if s.d.Test == nil {
		fail(w, http.StatusNotImplemented, "testing connections is not available")
		return
	}
	body, code, err := readBody(w, r, s.cfg.MaxEventSize, "BULKER_MAX_EVENT_SIZE", "BULKER_HTTP_READ_TIMEOUT_SEC")
	if err != nil {
		fail(w, code, err.Error())
		return
	}
	c, err := testConfig(body)
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
	defer cancel()
	if err := s.d.Test.Test(ctx, c); err != nil {
		s.d.Logger.Info("connection test failed", "destination", c.ID, "type", c.Type, "err", err)
		fail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	ok := true
	writeJSON(w, http.StatusOK, answer{Success: true, OK: &ok})
}

// testConfig reads the body of POST /test.
func testConfig(body []byte) (destination.Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return destination.Config{}, fmt.Errorf("want a destination as a JSON object: %w", err)
	}
	if _, nested := raw["credentials"]; !nested {
		// Jitsu's form: move the credentials under "credentials".
		doc := map[string]json.RawMessage{"credentials": nil}
		creds := map[string]json.RawMessage{}
		for k, v := range raw {
			switch k {
			case "id", "type", "options":
				doc[k] = v
			case "destinationType":
				doc["type"] = v
			default:
				creds[k] = v
			}
		}
		doc["credentials"], _ = json.Marshal(creds)
		body, _ = json.Marshal(doc)
	}
	return destination.ParseJSON(body, "test")
}
