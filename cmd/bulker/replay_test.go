package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/wait"
)

// replayAnswer is the answer of POST /failed/{dest}/replay.
type replayAnswer struct {
	Success         bool
	Error           string
	Replayed        []string
	AlreadyReplayed []string
	NotFound        []string
}

func (p *proc) replay(query string) replayAnswer {
	p.t.Helper()
	code, body := p.do("POST", "/failed/pg/replay?"+query, "", apiToken)
	var a replayAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusOK || !a.Success {
		p.t.Fatalf("replay %s: %d %s", query, code, body)
	}
	return a
}

// Events the destination rejected are dead; replayed before the cause is
// fixed, one fails again and is dead again with its new record; after the
// fix a replay of the table loads each event exactly once, and replaying
// again re-queues nothing. Each replay is in the events log, and GET
// /failed says which dead events were replayed.
func TestReplayDeadEventsAfterTheFix(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("replay_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	b, _ := secureBulker(t,
		`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"batch","frequency":0.01},"credentials":`+creds+`}`,
		"BULKER_MESSAGES_RETRY_COUNT=0",
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	table := schema + ".codes"
	b.mustPost("pg", "codes", `{"id":10,"__sql_type_code":"varchar(4)","code":"fine"}`, apiToken)
	wait.For(t, 30*time.Second, "the table made with its varchar(4) column", func() bool { return count(pg, table) == 1 })
	b.mustPost("pg", "codes", `{"id":11,"code":"far too long"}`, apiToken)
	b.mustPost("pg", "codes", `{"id":12,"code":"longer still"}`, apiToken)
	dead := failedEvents(t, b, "/failed/pg?tableName=codes", 2)
	ids := map[string]string{} // by event
	for _, e := range dead {
		if e.ID == "" || !strings.Contains(e.Error, "too long") {
			t.Fatalf("dead event %s: id %q, error %q; want an id and the reason", e.Event, e.ID, e.Error)
		}
		ids[string(e.Event)[:8]] = e.ID
	}
	id11, id12 := ids[`{"id":11`], ids[`{"id":12`]

	if code, body := b.do("POST", "/failed/pg/replay?ids=nonsense", "", apiToken); code != http.StatusBadRequest {
		t.Errorf("a bad id: %d %s, want 400", code, body)
	}
	if code, _ := b.do("POST", "/failed/pg/replay?tableName=codes", "", ""); code != http.StatusUnauthorized {
		t.Errorf("replay without a token: %d, want 401", code)
	}
	if code, body := b.do("POST", "/failed/pg/replay", "", apiToken); code != http.StatusBadRequest {
		t.Errorf("replay of a whole destination: %d %s, want 400 asking for a table or ids", code, body)
	}

	// Not fixed yet: the replayed event is dead again, as a new record.
	if a := b.replay("ids=" + id11 + ",9:999"); !slices.Equal(a.Replayed, []string{id11}) || !slices.Equal(a.NotFound, []string{"9:999"}) {
		t.Fatalf("replay of %s: %+v", id11, a)
	}
	dead = failedEvents(t, b, "/failed/pg?tableName=codes", 3)
	if dead[0].ID == id11 || !strings.Contains(string(dead[0].Event), `"id":11`) || !strings.Contains(dead[0].Error, "too long") || dead[0].Replayed != nil {
		t.Errorf("newest dead event %+v: want event 11 again, with a new id and its reason", dead[0])
	}
	for _, e := range dead[1:] {
		if (e.ID == id11) != (e.Replayed != nil) {
			t.Errorf("dead event %s: replayed %v", e.ID, e.Replayed)
		}
	}

	// The fix, then the replay of the table: each event loads once.
	if _, err := pg.Exec("ALTER TABLE " + table + " ALTER COLUMN code TYPE text"); err != nil {
		t.Fatal(err)
	}
	a := b.replay("tableName=codes")
	if len(a.Replayed) != 2 || slices.Contains(a.Replayed, id11) || !slices.Contains(a.Replayed, id12) || !slices.Equal(a.AlreadyReplayed, []string{id11}) {
		t.Fatalf("replay of the table: %+v; want the new record of 11 and %s, with %s already replayed", a, id12, id11)
	}
	wait.For(t, 30*time.Second, "the replayed events loaded", func() bool { return count(pg, table) == 3 })
	if a := b.replay("tableName=codes"); len(a.Replayed) != 0 || len(a.AlreadyReplayed) != 3 {
		t.Errorf("second replay of the table: %+v; want nothing replayed, 3 already", a)
	}
	time.Sleep(2 * time.Second) // batch periods: nothing more arrives
	rows := queryRows(t, pg, "SELECT id, code FROM "+table+" ORDER BY id")
	if got := len(rows); got != 3 || rows[1][1] != "far too long" || rows[2][1] != "longer still" {
		t.Errorf("rows %v, want 10, 11 and 12 once each", rows)
	}
	if es := b.events("?destination=pg&status=replayed", apiToken); len(es) != 3 {
		t.Errorf("events log has %d replayed entries, want 3: %+v", len(es), es)
	}
	for _, e := range failedEvents(t, b, "/failed/pg?tableName=codes", 3) {
		if e.Replayed == nil {
			t.Errorf("dead event %s is not shown as replayed", e.ID)
		}
	}
}
