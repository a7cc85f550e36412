package ingest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Over a real connection: a body that does not arrive by the read deadline
// is answered 408, a /bulk body has its own longer deadline, and an answer
// given before the body (401) comes at once and closes the connection.
func TestBodyDeadlines(t *testing.T) {
	e := newEnv(t, true, func(d *setup) { d.BulkReadTimeout = 2 * time.Second })
	ts := httptest.NewUnstartedServer(e.srv)
	ts.Config.ReadTimeout = 500 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")
	auth := "Authorization: Bearer " + rawToken + "\r\n"

	cases := []struct {
		name, target, headers string
		body                  []string // sent 300 ms apart
		code                  int
		msg                   string
		within                time.Duration
	}{
		{"post body late", "/post/pg?tableName=t", auth, []string{"{", `"a":`, "1", "}"}, 408, "the body did not arrive in time (BULKER_HTTP_READ_TIMEOUT_SEC)", 1500 * time.Millisecond},
		{"bulk body slow but in time", "/bulk/pg?tableName=t", auth, []string{`{"a":`, "1}\n", `{"a":`, "2}\n"}, 200, `"count":2`, 1800 * time.Millisecond},
		{"bulk body late", "/bulk/pg?tableName=t", auth, []string{"{", "", "", "", "", "", "", "", "", "}"}, 408, "(BULKER_HTTP_BULK_READ_TIMEOUT_SEC): got 1 bytes", 2800 * time.Millisecond},
		{"401 before the body", "/bulk/pg?tableName=t", "", []string{"", "", "", "", "{}"}, 401, "missing Authorization header", 300 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			length := len(strings.Join(c.body, ""))
			start := time.Now()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n", c.target, c.headers, length)
			go func() {
				for _, part := range c.body {
					time.Sleep(300 * time.Millisecond)
					if _, err := io.WriteString(conn, part); err != nil {
						return
					}
				}
			}()
			_ = conn.SetReadDeadline(start.Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			took := time.Since(start)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || !strings.Contains(string(body), c.msg) || took > c.within {
				t.Errorf("got %d %s after %s, want %d %q within %s", resp.StatusCode, body, took, c.code, c.msg, c.within)
			}
			if closing := resp.Close; closing != (c.code != 200) {
				t.Errorf("Connection: close is %v", closing)
			}
		})
	}
	t.Cleanup(func() {
		if out := gathered(t, e); !strings.Contains(out, `bulker_bulk_requests_total{destination="pg",reason="timeout",status="rejected"} 1`) ||
			!strings.Contains(out, `bulker_ingest_events_total{destination="pg",reason="timeout",status="rejected",table="t"} 1`) {
			t.Errorf("timeouts not counted:\n%s", out)
		}
	})
}

// The events' route is matched without the mux: every request it takes
// must be one the mux routes to the same pattern with the same destination,
// and the rest must go to the mux.
func TestPostDestinationMatchesTheMux(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc(postRoute, func(_ http.ResponseWriter, r *http.Request) { got = r.PathValue("destinationId") })
	for _, tc := range []struct {
		method, target string
		want           string // "": left to the mux
	}{
		{"POST", "/post/pg?tableName=t", "pg"},
		{"POST", "/post/my%20dest", "my dest"},
		{"POST", "/post/a%2Fb", ""},
		{"POST", "/post/", ""},
		{"POST", "/post/pg/", ""},
		{"POST", "/post/pg/x", ""},
		{"POST", "/post/..", ""},
		{"POST", "/post/.", ""},
		{"POST", "/post//pg", ""},
		{"POST", "/posts/pg", ""},
		{"GET", "/post/pg", ""},
		{"POST", "/bulk/pg", ""},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		id, ok := postDestination(r)
		if id != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s: postDestination = %q, %v; want %q", tc.method, tc.target, id, ok, tc.want)
		}
		if !ok {
			continue
		}
		got = ""
		_, pattern := mux.Handler(r)
		mux.ServeHTTP(httptest.NewRecorder(), r)
		if pattern != postRoute || got != id {
			t.Errorf("%s %s: the mux routes it to %q with destination %q, the fast path to %q with %q", tc.method, tc.target, pattern, got, postRoute, id)
		}
	}
}
