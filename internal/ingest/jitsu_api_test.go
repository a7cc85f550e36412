package ingest

import (
	"context"
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

// Jitsu's modeOverride sends an event to the other mode's topic, whatever
// the destination's mode.
func TestPostModeOverride(t *testing.T) {
	cases := []struct {
		name, target string
		code         int
		topic        string
	}{
		{"batch destination, no override", "/post/pg?tableName=t", 200, "in.id.pg.m.batch.t.t"},
		{"batch destination to stream", "/post/pg?tableName=t&modeOverride=stream", 200, "in.id.pg.m.stream.t.t"},
		{"stream destination to batch", "/post/live?tableName=t&modeOverride=batch", 200, "in.id.live.m.batch.t.t"},
		{"empty override", "/post/live?tableName=t&modeOverride=", 200, "in.id.live.m.stream.t.t"},
		{"unknown mode", "/post/pg?tableName=t&modeOverride=replace_table", 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, false)
			r := e.do(t, "POST", c.target, `{"a":1}`, "")
			if r.code != c.code {
				t.Fatalf("got %d %s, want %d", r.code, r.body, c.code)
			}
			if c.code != 200 {
				if e.prod.count() != 0 || !strings.Contains(r.resp.Error, "modeOverride") {
					t.Errorf("rejected override: %d produced, error %q", e.prod.count(), r.resp.Error)
				}
				return
			}
			if got := e.prod.recs[0].topic; got != c.topic {
				t.Errorf("topic %s, want %s", got, c.topic)
			}
		})
	}
}

// Jitsu's /bulk modes batch and stream add the rows and keep the table.
func TestBulkJitsuModes(t *testing.T) {
	cases := []struct {
		target string
		mode   destination.LoadMode
		pk     string
	}{
		{"/bulk/pg?tableName=t&mode=batch", destination.Append, "[id ts]"},
		{"/bulk/pg?tableName=t&mode=stream&pk=id", destination.Append, "[id]"},
		{"/bulk/pg?tableName=t&mode=replace_table", destination.ReplaceTable, "[id ts]"},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			e := newEnv(t, false)
			if r := e.do(t, "POST", c.target, "{\"id\":1}\n{\"id\":2}", ""); r.code != 200 || r.body != `{"success":true,"count":2}`+"\n" {
				t.Fatalf("got %d %s", r.code, r.body)
			}
			req := e.bulk.reqs[0]
			if req.Mode != c.mode || fmt.Sprint(req.PrimaryKey) != c.pk || len(req.Events) != 2 {
				t.Errorf("request %+v, want mode %s, pk %s", req, c.mode, c.pk)
			}
		})
	}
	e := newEnv(t, false)
	if r := e.do(t, "POST", "/bulk/pg?tableName=t&mode=batch&partition=p", "{}", ""); r.code != 400 || len(e.bulk.reqs) != 0 {
		t.Errorf("a partition with mode=batch: %d %s", r.code, r.body)
	}
	// Nothing to add is no error, and touches nothing.
	if r := e.do(t, "POST", "/bulk/pg?tableName=t&mode=stream", "\n", ""); r.code != 200 || r.body != `{"success":true,"count":0}`+"\n" || len(e.bulk.reqs) != 0 {
		t.Errorf("an empty batch: %d %s, %d loads", r.code, r.body, len(e.bulk.reqs))
	}
}

// Jitsu's /log pages with beforeId and bounds time with start and end
// (Unix milliseconds or a date).
func TestLogPaging(t *testing.T) {
	e := newEnv(t, false)
	base := time.Date(2026, 1, 1, 23, 59, 58, 0, time.UTC)
	ids := make([]string, 5)
	for i := range ids {
		at := base.Add(time.Duration(i) * time.Second)
		ids[i] = fmt.Sprintf("%d-%02d", at.UnixMilli(), i)
		_ = e.events.Add(t.Context(), eventslog.Entry{ID: ids[i], Time: at, Destination: "pg", Table: "t", Status: eventslog.Accepted,
			Body: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	}
	ms := func(i int) string { return fmt.Sprint(base.Add(time.Duration(i) * time.Second).UnixMilli()) }
	cases := []struct {
		query string
		want  string
	}{
		{"limit=2", `{"i":4} {"i":3}`},
		{"limit=2&beforeId=" + ids[3], `{"i":2} {"i":1}`},
		{"beforeId=" + ids[1], `{"i":0}`},
		{"start=" + ms(3), `{"i":4} {"i":3}`},
		{"end=" + ms(1), `{"i":1} {"i":0}`},
		{"start=" + ms(1) + "&end=" + ms(3) + "&beforeId=" + ids[3], `{"i":2} {"i":1}`},
		{"start=2026-01-02", `{"i":4} {"i":3} {"i":2}`},
		{"end=2026-01-02", `{"i":2} {"i":1} {"i":0}`},
		{"start=2026-01-02T00:00:01Z", `{"i":4} {"i":3}`},
	}
	for _, c := range cases {
		r := e.do(t, "GET", "/log/incoming/pg?"+c.query, "", "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", c.query, r.code, r.body)
		}
		var recs []logRecord
		if err := json.Unmarshal([]byte(r.body), &recs); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range recs {
			got = append(got, string(rec.Content.Body))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: got %s, want %s", c.query, g, c.want)
		}
	}
	// Jitsu's ndjson and maxBytes: whole records only, within the bound.
	r := e.do(t, "GET", "/log/incoming/pg?ndjson=true&limit=2", "", "")
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	if r.hdr.Get("Content-Type") != "application/x-ndjson" || len(lines) != 2 || !strings.Contains(lines[0], `"body":{"i":4}`) {
		t.Errorf("ndjson: %s %q", r.hdr.Get("Content-Type"), r.body)
	}
	one := len(lines[0])
	for _, c := range []struct {
		query string
		n     int
	}{
		{fmt.Sprintf("ndjson=1&maxBytes=%d", 2*one+1), 1}, // the newline counts
		{fmt.Sprintf("ndjson=1&maxBytes=%d", 2*one+2), 2},
		{fmt.Sprintf("maxBytes=%d", one+2), 1}, // [record]
		{fmt.Sprintf("maxBytes=%d", one+1), 0},
		{"maxBytes=0", 5},
	} {
		r := e.do(t, "GET", "/log/incoming/pg?"+c.query, "", "")
		n := strings.Count(r.body, `"body"`)
		if r.code != 200 || n != c.n || len(r.body) > 2*one+2 && c.n < 5 {
			t.Errorf("%s: %d records in %d bytes, want %d", c.query, n, len(r.body), c.n)
		}
		if !strings.Contains(c.query, "ndjson") && !json.Valid([]byte(r.body)) {
			t.Errorf("%s: not a JSON array: %s", c.query, r.body)
		}
	}
	for _, q := range []string{"beforeId=abc", "start=yesterday", "end=123", "start=2026-13-01", "maxBytes=-1", "maxBytes=x"} {
		if r := e.do(t, "GET", "/log/incoming/pg?"+q, "", ""); r.code != 400 || r.resp.Error == "" {
			t.Errorf("%s: %d %s", q, r.code, r.body)
		}
	}
}

// /failed pages with offset and limit, newest first.
func TestFailedPages(t *testing.T) {
	e := newEnv(t, false)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []kafka.Record
	for i := range 5 {
		recs = append(recs, kafka.Record{Value: []byte(fmt.Sprintf(`{"i":%d}`, i)), Time: base.Add(time.Duration(i) * time.Second),
			Headers: topics.Failure{Destination: "pg", Table: "t", Error: "boom"}.Headers()})
	}
	e.failed.topics = map[string][]kafka.Record{topics.Dead(""): recs}
	for query, want := range map[string]string{
		"limit=2":          `{"i":4} {"i":3}`,
		"limit=2&offset=2": `{"i":2} {"i":1}`,
		"limit=2&offset=4": `{"i":0}`,
		"offset=5":         ``,
	} {
		r := e.do(t, "GET", "/failed/pg?"+query, "", "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", query, r.code, r.body)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(r.body), "\n") {
			var f failedEvent
			if line != "" && json.Unmarshal([]byte(line), &f) == nil {
				got = append(got, string(f.Event))
			}
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%s: got %s, want %s", query, g, want)
		}
	}
	for _, q := range []string{"offset=-1", "mode=dead"} {
		if r := e.do(t, "GET", "/failed/pg?"+q, "", ""); r.code != 400 {
			t.Errorf("%s: %d", q, r.code)
		}
	}
}

// Jitsu's mode parameter of /failed keeps the events of that mode's
// topics; without it, every mode's.
func TestFailedByMode(t *testing.T) {
	e := newEnv(t, false)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(i int, topic string) kafka.Record {
		return kafka.Record{Value: []byte(fmt.Sprintf(`{"i":%d}`, i)), Time: at.Add(time.Duration(i) * time.Second),
			Headers: topics.Failure{Destination: "pg", Table: "t", Topic: topic, Error: "boom"}.Headers()}
	}
	e.failed.topics = map[string][]kafka.Record{topics.Dead(""): {
		rec(1, "in.id.pg.m.batch.t.t"), rec(2, "in.id.pg.m.stream.t.t"), rec(3, "in.id.pg.m.batch.b64.dA"),
	}}
	for query, want := range map[string]string{
		"":            `{"i":3} {"i":2} {"i":1}`,
		"mode=batch":  `{"i":3} {"i":1}`,
		"mode=stream": `{"i":2}`,
	} {
		r := e.do(t, "GET", "/failed/pg?"+query, "", "")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(r.body), "\n") {
			var f failedEvent
			if line != "" && json.Unmarshal([]byte(line), &f) == nil {
				got = append(got, string(f.Event))
			}
		}
		if g := strings.Join(got, " "); r.code != 200 || g != want {
			t.Errorf("%q: %d %s, want %s", query, r.code, g, want)
		}
	}
}

// fakeTester records the destinations it is asked to test and fails those
// whose password is "wrong".
type fakeTester struct{ got []destination.Config }

func (f *fakeTester) Test(_ context.Context, c destination.Config) error {
	f.got = append(f.got, c)
	if c.Credentials.Password.Reveal() == "wrong" {
		return errors.New("destination " + c.ID + ": password authentication failed for user \"u\"")
	}
	return nil
}

// POST /test takes a destination as bulker's configuration writes it, or
// as Jitsu's console sends it (credentials flat beside destinationType),
// and answers 200 or 422 with the reason — never the password.
func TestConnectionTest(t *testing.T) {
	cases := []struct {
		name, body string
		code       int
		want       destination.Config // ID, Type, Host, Database checked
		msg        string
	}{
		{"bulker's shape", `{"id":"pg","type":"postgres","options":{"mode":"stream"},"credentials":{"host":"db","database":"d","password":"s3cret"}}`,
			200, destination.Config{ID: "pg", Type: "postgres", Credentials: destination.Credentials{Host: "db", Database: "d"}}, ""},
		{"Jitsu's shape", `{"id":"my","destinationType":"mysql","host":"db","port":3306,"database":"d","username":"u","password":"s3cret"}`,
			200, destination.Config{ID: "my", Type: "mysql", Credentials: destination.Credentials{Host: "db", Database: "d"}}, ""},
		{"no id", `{"destinationType":"postgres","host":"db","database":"d"}`,
			200, destination.Config{ID: "test", Type: "postgres", Credentials: destination.Credentials{Host: "db", Database: "d"}}, ""},
		{"refused", `{"id":"pg","destinationType":"postgres","host":"db","database":"d","username":"u","password":"wrong"}`,
			422, destination.Config{ID: "pg", Type: "postgres", Credentials: destination.Credentials{Host: "db", Database: "d"}}, "password authentication failed"},
		{"no type", `{"id":"pg","host":"db"}`, 422, destination.Config{}, "type is required"},
		{"not JSON", `host=db`, 422, destination.Config{}, "want a destination as a JSON object"},
		{"bad option", `{"type":"postgres","options":{"mode":"sometimes"},"credentials":{}}`, 422, destination.Config{}, `options.mode "sometimes"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tester := &fakeTester{}
			e := newEnv(t, false, func(d *setup) { d.Test = tester })
			r := e.do(t, "POST", "/test", c.body, "")
			if r.code != c.code || (c.code == 200) != r.resp.Success || !strings.Contains(r.resp.Error, c.msg) {
				t.Fatalf("got %d %s, want %d with %q", r.code, r.body, c.code, c.msg)
			}
			if c.code == 200 && !strings.Contains(r.body, `"ok":true`) {
				t.Errorf("answer lacks Jitsu's ok: %s", r.body)
			}
			if strings.Contains(r.body, "s3cret") || strings.Contains(r.body, `"wrong"`) || strings.Contains(e.logText(), "s3cret") {
				t.Errorf("a password leaked: %s\n%s", r.body, e.logText())
			}
			if c.want.ID == "" {
				if len(tester.got) != 0 {
					t.Errorf("an invalid destination was tested: %+v", tester.got)
				}
				return
			}
			if len(tester.got) != 1 {
				t.Fatalf("tested %d destinations", len(tester.got))
			}
			g := tester.got[0]
			if g.ID != c.want.ID || g.Type != c.want.Type || g.Credentials.Host != c.want.Credentials.Host || g.Credentials.Database != c.want.Credentials.Database {
				t.Errorf("tested %+v, want %+v", g, c.want)
			}
		})
	}
	e := newEnv(t, true, func(d *setup) { d.Test = &fakeTester{} })
	if r := e.do(t, "POST", "/test", `{"type":"postgres","credentials":{}}`, ""); r.code != 401 {
		t.Errorf("/test without a token: %d", r.code)
	}
}
