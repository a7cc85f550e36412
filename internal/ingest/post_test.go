package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

func TestPostAccepted(t *testing.T) {
	e := newEnv(t, false, func(d *setup) {
		d.TopicPrefix = "pre."
		d.Now = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 8000, time.FixedZone("X", 3600)) }
	})
	body := "  {\"user_id\": 123, \"action\":\"test\", \"n\": 1.50, \"big\": 12345678901234567890}\n"
	r := e.do(t, "POST", "/post/pg?tableName=events", body, "")
	if r.code != 200 || r.body != `{"success":true}`+"\n" {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %s", ct)
	}
	if e.prod.count() != 1 {
		t.Fatalf("%d records produced", e.prod.count())
	}
	rec := e.prod.recs[0]
	if rec.topic != "pre.in.id.pg.m.batch.t.events" {
		t.Errorf("topic %s", rec.topic)
	}
	if string(rec.value) != body {
		t.Errorf("value re-encoded: %q", rec.value)
	}
	want := []kafka.Header{{Key: topics.HeaderReceivedAt, Value: []byte("2026-03-04T04:06:07.000008Z")}}
	if !reflect.DeepEqual(rec.headers, want) {
		t.Errorf("headers %v, want %v", rec.headers, want)
	}

	// The stream destination's topic, and a table that is not a legal
	// topic name keeps a topic of its own.
	if r := e.do(t, "POST", "/post/live?tableName=Événements%20du%20jour", `{}`, ""); r.code != 200 {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	got := e.prod.recs[1]
	if name, err := topics.Parse("pre.", got.topic); err != nil || name.Table != "Événements du jour" || name.Mode != "stream" {
		t.Errorf("topic %s: %+v %v", got.topic, name, err)
	}

	es, _ := e.events.List(t.Context(), eventslog.Filter{Destination: "pg"})
	if len(es) != 1 || es[0].Status != eventslog.Accepted || es[0].Table != "events" || !json.Valid(es[0].Body) {
		t.Errorf("events log: %+v", es)
	}
	if out := gathered(t, e); !strings.Contains(out, `bulker_ingest_events_total{destination="pg",reason="ok",status="accepted",table="events"} 1`) {
		t.Errorf("accepted event not counted: %s", out)
	}
	if !strings.Contains(e.logText(), `"destination":"pg","table":"events"`) {
		t.Errorf("log lacks destination and table fields: %s", e.logText())
	}
}

func TestPostRejected(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	cases := []struct {
		name, target, body string
		code               int
		msg                string
		reason             string
	}{
		{"unknown destination", "/post/nope?tableName=t", `{}`, 404, `destination "nope" not found`, reasonNoDestination},
		{"unsupported type", "/post/ch?tableName=t", `{}`, 501, `destination "ch" is of type "clickhouse", which this bulker does not support`, reasonUnsupported},
		{"unsupported type, id in another case", "/post/CH?tableName=t", `{}`, 501, `destination "ch" is of type "clickhouse", which this bulker does not support`, reasonUnsupported},
		{"missing tableName", "/post/pg", `{}`, 400, "tableName query parameter is required", reasonBadTable},
		{"empty tableName", "/post/pg?tableName=", `{}`, 400, "tableName query parameter is required", reasonBadTable},
		{"control char tableName", "/post/pg?tableName=a%0Ab", `{}`, 400, "control characters", reasonBadTable},
		{"invalid UTF-8 tableName", "/post/pg?tableName=%ff", `{}`, 400, "not valid UTF-8", reasonBadTable},
		{"long tableName", "/post/pg?tableName=" + strings.Repeat("t", 129), `{}`, 400, "longer than 128 bytes", reasonBadTable},
		{"empty body", "/post/pg?tableName=t", "", 400, "empty body", reasonBadEvent},
		{"blank body", "/post/pg?tableName=t", " \n\t", 400, "empty body", reasonBadEvent},
		{"invalid JSON", "/post/pg?tableName=t", `{"a":}`, 400, "invalid JSON at byte 6", reasonBadEvent},
		{"truncated JSON", "/post/pg?tableName=t", `{"a":1`, 400, "invalid JSON", reasonBadEvent},
		{"two objects", "/post/pg?tableName=t", `{}{}`, 400, "invalid JSON at byte 3", reasonBadEvent},
		{"array", "/post/pg?tableName=t", `[{"a":1}]`, 400, "want one JSON object, got an array", reasonBadEvent},
		{"string", "/post/pg?tableName=t", `"x"`, 400, "got a string", reasonBadEvent},
		{"number", "/post/pg?tableName=t", `-1.5`, 400, "got a number", reasonBadEvent},
		{"boolean", "/post/pg?tableName=t", `true`, 400, "got a boolean", reasonBadEvent},
		{"null", "/post/pg?tableName=t", `null`, 400, "got null", reasonBadEvent},
		{"invalid UTF-8", "/post/pg?tableName=t", "{\"a\":\"\xff\"}", 400, "invalid UTF-8 at byte 6", reasonBadEvent},
		{"too large", "/post/pg?tableName=t", big, 413, "body larger than 1024 bytes (BULKER_MAX_EVENT_SIZE)", reasonTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, false)
			r := e.do(t, "POST", c.target, c.body, "")
			if r.code != c.code || r.resp.Success || !strings.Contains(r.resp.Error, c.msg) {
				t.Fatalf("got %d %s, want %d with %q", r.code, r.body, c.code, c.msg)
			}
			if e.prod.count() != 0 {
				t.Error("a rejected event was produced")
			}
			if es, _ := e.events.List(t.Context(), eventslog.Filter{}); len(es) != 0 {
				t.Errorf("a rejected event was logged: %+v", es)
			}
			out := gathered(t, e)
			if n := strings.Count(out, "bulker_ingest_events_total{"); n != 1 {
				t.Errorf("%d series, want 1: %s", n, out)
			}
			if !strings.Contains(out, `reason="`+c.reason+`",status="rejected"`) {
				t.Errorf("reason %s not counted: %s", c.reason, out)
			}
		})
	}
}

func TestPostTooLargeWithoutContentLength(t *testing.T) {
	e := newEnv(t, false)
	req := httptest.NewRequest("POST", "/post/pg?tableName=t", struct{ *strings.Reader }{strings.NewReader(`{"a":"` + strings.Repeat("x", 5000) + `"}`)})
	req.ContentLength = -1 // chunked: the limit is found while reading
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || e.prod.count() != 0 {
		t.Errorf("got %d, %d produced", rec.Code, e.prod.count())
	}
	// Exactly the limit is fine.
	exact := `{"a":"` + strings.Repeat("x", 1024-8) + `"}`
	if r := e.do(t, "POST", "/post/pg?tableName=t", exact, ""); r.code != 200 {
		t.Errorf("event of exactly the limit: %d %s", r.code, r.body)
	}
}

func TestPostKafkaFailure(t *testing.T) {
	e := newEnv(t, false)
	e.prod.err = errors.New("NOT_ENOUGH_REPLICAS on broker 10.0.0.1")
	r := e.do(t, "POST", "/post/pg?tableName=t", `{"a":1}`, "")
	if r.code != http.StatusServiceUnavailable || r.resp.Success || !strings.Contains(r.resp.Error, "not stored") {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if strings.Contains(r.body, "10.0.0.1") {
		t.Error("internal error details in the answer")
	}
	if es, _ := e.events.List(t.Context(), eventslog.Filter{}); len(es) != 0 {
		t.Error("an unstored event was logged as accepted")
	}
	if !strings.Contains(e.logText(), "NOT_ENOUGH_REPLICAS") {
		t.Error("the cause is not logged")
	}
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name, authz string
		code        int
		msg         string
	}{
		{"no header", "", 401, "missing Authorization header"},
		{"wrong scheme", "Basic " + rawToken, 401, "unsupported Authorization scheme"},
		{"token without scheme", rawToken, 401, "unsupported Authorization scheme"},
		{"wrong token", "Bearer wrong-" + rawToken, 401, "invalid token"},
		{"empty token", "Bearer ", 401, "invalid token"},
		{"hash as token", "Bearer salt." + strings.Repeat("a", 128), 401, "invalid token"},
		{"raw token", "Bearer " + rawToken, 200, ""},
		{"scheme case", "bearer " + rawToken, 200, ""},
		{"hashed token", "Bearer " + hashedToken, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, true)
			r := e.do(t, "POST", "/post/pg?tableName=t", `{"a":1}`, c.authz)
			if r.code != c.code || (c.msg != "" && !strings.Contains(r.resp.Error, c.msg)) {
				t.Fatalf("got %d %s, want %d %q", r.code, r.body, c.code, c.msg)
			}
			if c.code == 401 {
				if e.prod.count() != 0 {
					t.Error("produced for a rejected request")
				}
				if r.hdr.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				for _, s := range []string{rawToken, "wrong-", hashedToken, "salt."} {
					if strings.Contains(r.body, s) || strings.Contains(e.logText(), s) {
						t.Errorf("token echoed: %s / %s", r.body, e.logText())
					}
				}
				if !strings.Contains(gathered(t, e), `reason="unauthorized"`) {
					t.Error("401 not counted")
				}
			}
			// Every protected endpoint says the same; the open ones do not ask.
			for _, p := range []struct{ method, target string }{
				{"POST", "/bulk/pg?tableName=t"}, {"GET", "/events"}, {"GET", "/log/incoming/pg"}, {"GET", "/failed/pg"},
			} {
				if r := e.do(t, p.method, p.target, `{"a":1}`, c.authz); (r.code == 401) != (c.code == 401) {
					t.Errorf("%s %s: %d", p.method, p.target, r.code)
				}
			}
			for _, p := range []string{"/health", "/ready", "/metrics"} {
				if r := e.do(t, "GET", p, "", ""); r.code != 200 {
					t.Errorf("%s without token: %d", p, r.code)
				}
			}
		})
	}
}

func TestMetricLabelsBounded(t *testing.T) {
	e := newEnv(t, true)
	e.srv.tables.max = 2
	tok := "Bearer " + rawToken
	for _, tbl := range []string{"a", "b", "c", "d", "a"} {
		if r := e.do(t, "POST", "/post/pg?tableName="+tbl, `{}`, tok); r.code != 200 {
			t.Fatal(r.body)
		}
	}
	e.do(t, "POST", "/post/attacker-chosen-name?tableName=x", `{}`, tok)
	e.do(t, "POST", "/post/another-name?tableName=x", `{}`, "Bearer nope")
	// An id in another case names the destination, labelled by its own id.
	e.do(t, "POST", "/post/Pg?tableName=x", `{}`, "Bearer nope")
	e.do(t, "GET", "/no/such/route", ``, tok)
	out := gathered(t, e)
	for _, want := range []string{
		`bulker_ingest_events_total{destination="pg",reason="ok",status="accepted",table="a"} 2`,
		`bulker_ingest_events_total{destination="pg",reason="ok",status="accepted",table="other"} 2`,
		`bulker_ingest_events_total{destination="unknown",reason="unknown_destination",status="rejected",table="unknown"} 1`,
		`bulker_ingest_events_total{destination="unknown",reason="unauthorized",status="rejected",table="unknown"} 1`,
		`bulker_ingest_events_total{destination="pg",reason="unauthorized",status="rejected",table="unknown"} 1`,
		`bulker_http_request_duration_seconds_count{code="200",route="POST /post/{destinationId}"} 5`,
		`bulker_http_request_duration_seconds_count{code="404",route="unmatched"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	for _, bad := range []string{"attacker", "another-name", "/no/such", `"Pg"`} {
		if strings.Contains(out, bad) {
			t.Errorf("request input %q became a label", bad)
		}
	}
}

func TestReadyHealth(t *testing.T) {
	e := newEnv(t, false, func(d *setup) { d.Ready = notReady{} })
	// A destination of an unsupported type is listed, ready or not.
	const ch = `"unsupported":[{"destination":"ch","type":"clickhouse","error":"destination \"ch\" is of type \"clickhouse\", which this bulker does not support"}]`
	if r := e.do(t, "GET", "/ready", "", ""); r.code != 503 || !strings.Contains(r.body, "kafka is down") || !strings.Contains(r.body, ch) {
		t.Errorf("ready: %d %s", r.code, r.body)
	}
	if r := newEnv(t, false).do(t, "GET", "/ready", "", ""); r.code != 200 || !strings.Contains(r.body, `"status":"ready"`) || !strings.Contains(r.body, ch) {
		t.Errorf("ready with an unsupported destination: %d %s, want 200 naming it", r.code, r.body)
	}
	if r := e.do(t, "GET", "/health", "", ""); r.code != 200 || !strings.Contains(r.body, `"pass"`) {
		t.Errorf("health: %d %s", r.code, r.body)
	}
	if out := gathered(t, e); !strings.Contains(out, "\nbulker_ready 0\n") {
		t.Errorf("not ready, but the metrics do not say bulker_ready 0:\n%s", out)
	}
	ready := newEnv(t, false)
	if out := gathered(t, ready); !strings.Contains(out, "\nbulker_ready 1\n") {
		t.Errorf("ready, but the metrics do not say bulker_ready 1:\n%s", out)
	}
	if r := e.do(t, "GET", "/post/pg", "", ""); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET /post: %d", r.code)
	}
}

// A Kafka that never answers makes bulker_ready 0 within the scrape's
// bound, before a scrape timeout could turn "not ready" into "down".
func TestReadyGaugeIsBoundedWhenKafkaHangs(t *testing.T) {
	e := newEnv(t, false, func(d *setup) { d.Ready = hangingReady{} })
	start := time.Now()
	out := gathered(t, e)
	if took := time.Since(start); took > scrapeReadyTimeout+time.Second {
		t.Errorf("a scrape took %s, want about %s", took, scrapeReadyTimeout)
	}
	if !strings.Contains(out, "\nbulker_ready 0\n") {
		t.Errorf("Kafka hangs, but the metrics do not say bulker_ready 0")
	}
}

func gathered(t testing.TB, e *env) string {
	t.Helper()
	rec := httptest.NewRecorder()
	e.deps.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func FuzzValidateEvent(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `[]`, `"s"`, `1`, `null`, ` {"a":[1,{"b":null}]} `, "{\"a\":\"\xff\"}", `{"a":}`, `{}{}`, "\ufeff{}", `{"\u0000":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := ValidateEvent(b)
		t2 := bytes.TrimLeft(b, " \t\r\n")
		want := json.Valid(b) && len(t2) > 0 && t2[0] == '{' && utf8Valid(b)
		if (err == nil) != want {
			t.Fatalf("ValidateEvent(%q) = %v, want ok=%v", b, err, want)
		}
		if err == nil {
			var m map[string]any
			if uerr := json.Unmarshal(b, &m); uerr != nil {
				t.Fatalf("accepted %q but it does not decode into an object: %v", b, uerr)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}

// Concurrent requests share the cached metric children and pooled writers.
func TestPostConcurrent(t *testing.T) {
	e := newEnv(t, false)
	e.srv.tables.max = 3
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				target := fmt.Sprintf("/post/pg?tableName=t%d", (g+i)%5)
				if r := e.do(t, "POST", target, `{"a":1}`, ""); r.code != 200 {
					t.Errorf("%s: %d %s", target, r.code, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	out := gathered(t, e)
	sum := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `bulker_ingest_events_total{destination="pg",reason="ok",status="accepted"`) {
			var n int
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n)
			sum += n
		}
	}
	if sum != 400 || strings.Count(out, "bulker_ingest_events_total{") != 4 {
		t.Errorf("%d accepted events counted, want 400 in 3 tables and other: %s", sum, out)
	}
	if !strings.Contains(out, `bulker_http_request_duration_seconds_count{code="200",route="POST /post/{destinationId}"} 400`) {
		t.Errorf("latency not observed for every request: %s", out)
	}
}

func TestQueryValue(t *testing.T) {
	for _, q := range []string{
		"", "tableName=events", "a=1&tableName=x%20y&tableName=z", "tableName=a+b", "table%4Eame=escaped-key",
		"tableName=%zz&tableName=second", "tableName=a;b&tableName=c", "tableName", "tableName=", "&&tableName=x&",
		"x=1;tableName=y", "%zz=1&tableName=ok", "tableName=%C3%A9v%C3%A9nements", "TableName=case",
		strings.Repeat("a=1&", 150) + "tableName=many",
	} {
		u := &url.URL{RawQuery: q}
		if got, want := queryValue(u, "tableName"), u.Query().Get("tableName"); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
}

func FuzzQueryValue(f *testing.F) {
	for _, q := range []string{"tableName=events", "a=1&tableName=x%20y", "tableName=%zz&tableName=b", "t;x=1&tableName=c"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		u := &url.URL{RawQuery: q}
		if got, want := queryValue(u, "tableName"), u.Query().Get("tableName"); got != want {
			t.Fatalf("%q: got %q, want %q", q, got, want)
		}
	})
}

// Events of a destination with a primary key are keyed by its values, so
// every version of a row lands in one partition, in order; others are not
// keyed and spread over the partitions.
func TestPostKeysRecordsByPrimaryKey(t *testing.T) {
	e := newEnv(t, false)
	tests := []struct {
		dest, body, key string
	}{
		{"pg", `{"id":1,"ts":"a","x":1}`, "1\x00a"},
		{"pg", `{"x":2,"ts":"a","id":1}`, "1\x00a"}, // key order does not matter
		{"pg", `{"id":2,"ts":"a"}`, "2\x00a"},
		{"pg", `{"id":12345678901234567890,"ts":"a"}`, "12345678901234567890\x00a"},
		{"live", `{"id":1}`, ""},
	}
	for i, tt := range tests {
		if r := e.do(t, "POST", "/post/"+tt.dest+"?tableName=t", tt.body, ""); r.code != 200 {
			t.Fatalf("%s: %d %s", tt.body, r.code, r.body)
		}
		if got := e.prod.recs[i].key; string(got) != tt.key || (tt.key == "") != (got == nil) {
			t.Errorf("%s to %s: key %q, want %q", tt.body, tt.dest, got, tt.key)
		}
	}
}
