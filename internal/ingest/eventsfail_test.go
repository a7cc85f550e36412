package ingest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/eventslog"
)

// A failure stays in /events?status=failed and in Jitsu's /log error view
// after far more accepted events than the log keeps.
func TestFailuresListedUnderTraffic(t *testing.T) {
	e := newEnv(t, false) // the events log keeps 100 per destination
	ctx := t.Context()
	if err := e.events.Add(ctx, eventslog.Entry{Destination: "pg", Table: "a", Status: eventslog.Failed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if r := e.do(t, "POST", "/post/pg?tableName=a", `{"id":1}`, ""); r.code != 200 {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
	}
	for _, target := range []string{"/events?status=failed", "/events?destination=pg&status=failed,dead,warning", "/log/bulker_batch.error/pg", "/log/bulker_batch/pg"} {
		r := e.do(t, "GET", target, "", "")
		if r.code != 200 || !strings.Contains(r.body, `"error":"boom"`) {
			t.Errorf("%s: %d %.200s", target, r.code, r.body)
		}
	}
	var got struct{ Events []eventslog.Entry }
	if r := e.do(t, "GET", "/events?destination=pg&status=accepted&limit=1000", "", ""); json.Unmarshal([]byte(r.body), &got) != nil || len(got.Events) != 100 {
		t.Errorf("accepted entries kept: %d, want 100", len(got.Events))
	}
}
