package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

func TestBulk(t *testing.T) {
	e := newEnv(t, false)
	body := "{\"id\":1}\r\n\n  \n{\"id\":2,\"a\":{\"b\":[1]}}\n{\"id\":3}"
	r := e.do(t, "POST", "/bulk/pg?tableName=users&mode=replace_partition&partition=2026-01&pk=id&pk=org,ts", body, "")
	if r.code != 200 || r.body != `{"success":true,"count":3}`+"\n" {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	req := e.bulk.reqs[0]
	if req.Destination != "pg" || req.Table != "users" || req.Mode != destination.ReplacePartition || req.Partition != "2026-01" ||
		fmt.Sprint(req.PrimaryKey) != "[id org ts]" {
		t.Errorf("request %+v", req)
	}
	if fmt.Sprintf("%s", req.Events) != `[{"id":1} {"id":2,"a":{"b":[1]}} {"id":3}]` {
		t.Errorf("events %s", req.Events)
	}
	es, _ := e.events.List(t.Context(), eventslog.Filter{Destination: "pg"})
	if len(es) != 1 || es[0].Status != eventslog.Loaded || string(es[0].Body) != `{"bulk":"replace_partition","count":3,"partition":"2026-01"}` {
		t.Errorf("events log %+v", es)
	}

	// Defaults: replace_table, the destination's primary key; an empty body
	// replaces the table with nothing only when the caller says so.
	if r := e.do(t, "POST", "/bulk/pg?tableName=users&allowEmpty=true", "", ""); r.code != 200 || r.body != `{"success":true,"count":0}`+"\n" {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if req := e.bulk.reqs[1]; req.Mode != destination.ReplaceTable || fmt.Sprint(req.PrimaryKey) != "[id ts]" || len(req.Events) != 0 {
		t.Errorf("request %+v", req)
	}
	// Jitsu's partitionId option names the partition a request leaves out.
	if r := e.do(t, "POST", "/bulk/parts?tableName=users&mode=replace_partition", `{"id":1}`, ""); r.code != 200 {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if req := e.bulk.reqs[2]; req.Partition != "default-part" {
		t.Errorf("partition %q, want the destination's partitionId", req.Partition)
	}
	if r := e.do(t, "POST", "/bulk/parts?tableName=users&mode=replace_partition&partition=p2", `{"id":1}`, ""); r.code != 200 || e.bulk.reqs[3].Partition != "p2" {
		t.Errorf("the request's partition must win: %d %s", r.code, r.body)
	}
}

func TestBulkRejected(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 1100) + `"}`
	cases := []struct {
		name, target, body string
		code               int
		msg                string
	}{
		{"bad line", "/bulk/pg?tableName=t", "{\"a\":1}\n{\"a\":2}\n{\"a\":\n{}", 400, "line 3: invalid JSON"},
		{"array line", "/bulk/pg?tableName=t", "{}\n\n[1]\n", 400, "line 3: want one JSON object, got an array"},
		{"invalid UTF-8 line", "/bulk/pg?tableName=t", "{}\n{\"a\":\"\xc3\x28\"}", 400, "line 2: invalid UTF-8 at byte 6"},
		{"long line", "/bulk/pg?tableName=t", "{}\n" + long, 400, "line 2: event of 1108 bytes exceeds 1024 bytes"},
		{"body too large", "/bulk/pg?tableName=t", strings.Repeat("{}\n", 3000), 413, "BULKER_MAX_BULK_SIZE"},
		{"bad mode", "/bulk/pg?tableName=t&mode=merge", "{}", 400, `mode "merge": want replace_table, replace_partition, batch or stream`},
		{"partition missing", "/bulk/pg?tableName=t&mode=replace_partition", "{}", 400, "needs the partition"},
		{"partition without mode", "/bulk/pg?tableName=t&partition=p", "{}", 400, "only used with mode=replace_partition"},
		{"no table", "/bulk/pg", "{}", 400, "tableName query parameter is required"},
		{"unknown destination", "/bulk/zz?tableName=t", "{}", 404, `destination "zz" not found`},
		{"empty body", "/bulk/pg?tableName=t", "", 400, "the body holds no event: nothing replaced; to empty the table, send allowEmpty=true"},
		{"blank lines only", "/bulk/pg?tableName=t&allowEmpty=false", "\n \r\n\t\n", 400, "to empty the table, send allowEmpty=true"},
		{"empty partition", "/bulk/pg?tableName=t&mode=replace_partition&partition=p", "", 400, "to empty the partition, send allowEmpty=true"},
		{"bad allowEmpty", "/bulk/pg?tableName=t&allowEmpty=yes", "", 400, `allowEmpty "yes": want true or false`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, false)
			r := e.do(t, "POST", c.target, c.body, "")
			if r.code != c.code || !strings.Contains(r.resp.Error, c.msg) {
				t.Fatalf("got %d %s, want %d %q", r.code, r.body, c.code, c.msg)
			}
			if len(e.bulk.reqs) != 0 {
				t.Error("the loader was called")
			}
		})
	}
}

func TestBulkLoadErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("column x: %w", destination.ErrData), 400},
		{errors.New("connection refused"), 503},
	} {
		e := newEnv(t, false)
		e.bulk.err = c.err
		r := e.do(t, "POST", "/bulk/pg?tableName=t", `{"x":1}`, "")
		if r.code != c.code || !strings.Contains(r.resp.Error, c.err.Error()) {
			t.Errorf("%v: got %d %s", c.err, r.code, r.body)
		}
		es, _ := e.events.List(t.Context(), eventslog.Filter{})
		if len(es) != 1 || es[0].Status != eventslog.Failed || es[0].Error != c.err.Error() {
			t.Errorf("events log %+v", es)
		}
	}
	e := newEnv(t, false, func(d *setup) { d.Bulk = nil })
	if r := e.do(t, "POST", "/bulk/pg?tableName=t", `{}`, ""); r.code != 501 {
		t.Errorf("no loader: %d", r.code)
	}
}

func TestFailed(t *testing.T) {
	e := newEnv(t, false)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	offset := int64(0)
	rec := func(topic, value string, f topics.Failure) kafka.Record {
		offset++
		return kafka.Record{Topic: topic, Partition: 0, Offset: offset, Value: []byte(value), Time: at, Headers: f.Headers()}
	}
	dead := topics.Dead("")
	e.failed.topics = map[string][]kafka.Record{
		dead: {
			rec(dead, `{"n":1}`, topics.Failure{Destination: "pg", Table: "t", Error: "boom", Attempt: 1}),
			rec(dead, `{"n":2}`, topics.Failure{Destination: "other", Table: "t", Error: "elsewhere"}),
			rec(dead, `{"n":"x"}`, topics.Failure{Destination: "pg", Table: "t", Error: "column n: want integer, got \"x\"", Attempt: 5}),
			rec(dead, `not json`, topics.Failure{Destination: "pg", Table: "u", Error: "parsing event"}),
		},
		topics.Retry(""): {rec(topics.Retry(""), `{"n":3}`, topics.Failure{Destination: "pg", Table: "t", Error: "later", Attempt: 2})},
		// The first dead event was replayed.
		topics.Replayed(""): {{Key: []byte("0:1"), Value: []byte(`{"at":"2026-01-02T00:00:00Z"}`)}},
	}
	r := e.do(t, "GET", "/failed/pg?tableName=t&limit=5", "", "")
	if r.code != 200 || r.hdr.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if len(lines) != 2 || lines[0] != `{"id":"0:3","time":"2026-01-01T00:00:00Z","table":"t","error":"column n: want integer, got \"x\"","attempts":5,"event":{"n":"x"}}` ||
		!strings.Contains(lines[1], `"id":"0:1",`) || !strings.Contains(lines[1], `"error":"boom"`) || !strings.Contains(lines[1], `"replayed":"2026-01-02T00:00:00Z"`) {
		t.Errorf("newest first, only pg's table t, with ids and when replayed: %s", r.body)
	}
	if r := e.do(t, "GET", "/failed/PG?tableName=t&limit=5", "", ""); strings.TrimSpace(r.body) != strings.Join(lines, "\n") {
		t.Errorf("/failed/PG, the id in another case, lists other events: %s", r.body)
	}
	if r := e.do(t, "GET", "/failed/pg?limit=1", "", ""); !strings.Contains(r.body, `"event":"not json"`) || strings.Count(r.body, "\n") != 1 {
		t.Errorf("limit 1, every table, an unparsable event as a string: %s", r.body)
	}
	if r := e.do(t, "GET", "/failed/pg?status=retry", "", ""); !strings.Contains(r.body, `"error":"later"`) || strings.Contains(r.body, `"id"`) || strings.Count(r.body, "\n") != 1 {
		t.Errorf("retry topic: %s", r.body)
	}
	if r := e.do(t, "GET", "/failed/gone", "", ""); r.code != 200 || r.body != "" {
		t.Errorf("a destination without failures: %d %q", r.code, r.body)
	}
	for _, n := range e.failed.limits {
		if n != 100 {
			t.Errorf("scanned %d records, want the configured 100", n)
		}
	}
	for _, target := range []string{"/failed/pg?status=lost", "/failed/pg?limit=0", "/failed/pg?limit=x", "/failed/pg?limit=10001"} {
		if r := e.do(t, "GET", target, "", ""); r.code != 400 || r.resp.Error == "" {
			t.Errorf("%s: %d %s", target, r.code, r.body)
		}
	}
}

func TestEventsAndLog(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(i int, dest, table string, st eventslog.Status) {
		_ = e.events.Add(ctx, eventslog.Entry{Time: base.Add(time.Duration(i) * time.Second), Destination: dest, Table: table, Status: st, Body: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	}
	add(1, "pg", "a", eventslog.Accepted)
	add(2, "pg", "b", eventslog.Accepted)
	add(3, "pg", "a", eventslog.Loaded)
	add(4, "live", "a", eventslog.Failed)
	add(5, "pg", "a", eventslog.Dead)

	var got struct{ Events []eventslog.Entry }
	list := func(target string) string {
		t.Helper()
		r := e.do(t, "GET", target, "", "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", target, r.code, r.body)
		}
		got.Events = nil
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range got.Events {
			ids = append(ids, string(ev.Body))
		}
		return strings.Join(ids, " ")
	}
	for target, want := range map[string]string{
		"/events":                            `{"i":5} {"i":4} {"i":3} {"i":2} {"i":1}`,
		"/events?limit=2":                    `{"i":5} {"i":4}`,
		"/events?destination=pg&table=a":     `{"i":5} {"i":3} {"i":1}`,
		"/events?destination=PG&table=a":     `{"i":5} {"i":3} {"i":1}`, // Jitsu keeps the case of ids
		"/events?status=failed,dead":         `{"i":5} {"i":4}`,
		"/events?destination=none":           ``,
		"/events?destination=pg&status=dead": `{"i":5}`,
	} {
		if g := list(target); g != want {
			t.Errorf("%s: got %s, want %s", target, g, want)
		}
	}
	if r := e.do(t, "GET", "/events", "", ""); !strings.Contains(r.body, `"destination":"pg","table":"a","status":"dead"`) {
		t.Errorf("entry fields: %s", r.body)
	}
	if r := e.do(t, "GET", "/events?destination=none", "", ""); r.body != `{"events":[]}`+"\n" {
		t.Errorf("empty list: %s", r.body)
	}
	for _, target := range []string{"/events?status=lost", "/events?limit=-1"} {
		if r := e.do(t, "GET", target, "", ""); r.code != 400 {
			t.Errorf("%s: %d", target, r.code)
		}
	}

	// Jitsu's /log: [{id, date, content}] newest first.
	logList := func(target string) string {
		t.Helper()
		r := e.do(t, "GET", target, "", "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", target, r.code, r.body)
		}
		var recs []logRecord
		if err := json.Unmarshal([]byte(r.body), &recs); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, rec := range recs {
			if rec.ID == "" || rec.ID != rec.Content.ID || !rec.Date.Equal(rec.Content.Time) {
				t.Errorf("record %+v", rec)
			}
			s = append(s, string(rec.Content.Body))
		}
		return strings.Join(s, " ")
	}
	for target, want := range map[string]string{
		"/log/incoming/pg":              `{"i":2} {"i":1}`,
		"/log/incoming.all/pg?limit=1":  `{"i":2}`,
		"/log/incoming.error/pg":        ``,
		"/log/bulker_batch/pg":          `{"i":5} {"i":3}`,
		"/log/bulker_batch.error/pg":    `{"i":5}`,
		"/log/bulker_stream.all/pg":     ``,
		"/log/bulker_stream.error/live": `{"i":4}`,
	} {
		if g := logList(target); g != want {
			t.Errorf("%s: got %s, want %s", target, g, want)
		}
	}
	for _, target := range []string{"/log/outgoing/pg", "/log/incoming.some/pg"} {
		if r := e.do(t, "GET", target, "", ""); r.code != 400 {
			t.Errorf("%s: %d", target, r.code)
		}
	}
}

// FuzzSplitNDJSON: a body is accepted only when every non-blank line is one
// JSON object, and then every such line is returned, in order.
func FuzzSplitNDJSON(f *testing.F) {
	for _, s := range []string{"{}\n{}", "{}\r\n\n[1]", "{\"a\":\n1}", "\n\n", "{}\n{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := splitNDJSON(body, 1<<20)
		var want [][]byte
		ok := true
		for _, line := range bytes.Split(body, []byte{'\n'}) {
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if ValidateEvent(line) != nil {
				ok = false
			}
			want = append(want, line)
		}
		if (err == nil) != ok {
			t.Fatalf("splitNDJSON(%q) error %v, want ok=%v", body, err, ok)
		}
		if err == nil && fmt.Sprintf("%q", evs) != fmt.Sprintf("%q", want) {
			t.Fatalf("got %q, want %q", evs, want)
		}
	})
}
