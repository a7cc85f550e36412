package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every phase of a connection to the API is bounded: headers, body (a
// /bulk body on its own bound), idle keep-alive; a body that trickles is
// cut with 408. A 401 comes at once, without waiting for the body.
func TestHTTPEdges(t *testing.T) {
	path := t.TempDir()
	b := start(t, "BULKER_DATA_DIR="+path, "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		"BULKER_RAW_AUTH_TOKENS="+apiToken, "BULKER_HTTP_HOST=127.0.0.1",
		"BULKER_HTTP_READ_HEADER_TIMEOUT_SEC=1", "BULKER_HTTP_READ_TIMEOUT_SEC=2",
		"BULKER_HTTP_BULK_READ_TIMEOUT_SEC=4", "BULKER_HTTP_IDLE_TIMEOUT_SEC=1",
		`BULKER_DESTINATION_LITE={"type":"sqlite","credentials":{"database":"`+path+`/lite.db"}}`)
	auth := "Authorization: Bearer " + apiToken + "\r\n"
	post := func(target, headers string, length int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n", target, headers, length)
	}
	cases := []struct {
		name    string
		send    string
		trickle bool          // then one byte of body every 100 ms
		code    int           // the answer, 0 for none
		min     time.Duration // the answer comes, and the connection closes,
		max     time.Duration // within [min, max]
	}{
		{"headers never end", "POST /post/lite?tableName=t HTTP/1.1\r\nHost: x\r\n", false, 0, 900 * time.Millisecond, 3 * time.Second},
		{"post body trickles", post("/post/lite?tableName=t", auth, 1000), true, http.StatusRequestTimeout, 1900 * time.Millisecond, 4 * time.Second},
		{"bulk body trickles", post("/bulk/lite?tableName=t", auth, 1000), true, http.StatusRequestTimeout, 3900 * time.Millisecond, 6 * time.Second},
		{"401 without the body", post("/post/lite?tableName=t", "", 1000), false, http.StatusUnauthorized, 0, time.Second},
		{"401 on bulk without the body", post("/bulk/lite?tableName=t", "Authorization: Bearer nope\r\n", 1<<20), false, http.StatusUnauthorized, 0, time.Second},
		{"404 without the body", post("/post/nope?tableName=t", auth, 1000), false, http.StatusNotFound, 0, time.Second},
		{"idle after an answer", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false, http.StatusOK, 900 * time.Millisecond, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			if c.trickle {
				go func() {
					for range 100 {
						time.Sleep(100 * time.Millisecond)
						if _, err := io.WriteString(conn, "x"); err != nil {
							return
						}
					}
				}()
			}
			_ = conn.SetReadDeadline(start.Add(10 * time.Second))
			r := bufio.NewReader(conn)
			code := 0
			var answered time.Duration
			if resp, err := http.ReadResponse(r, nil); err == nil {
				answered = time.Since(start)
				code = resp.StatusCode
				body, _ := io.ReadAll(resp.Body)
				if c.code == http.StatusRequestTimeout && !strings.Contains(string(body), "TIMEOUT_SEC") {
					t.Errorf("408 does not name the setting: %s", body)
				}
			}
			_, _ = io.Copy(io.Discard, r) // until the server closes, or the deadline
			closed := time.Since(start)
			if code != c.code {
				t.Errorf("answer %d, want %d", code, c.code)
			}
			if code != 0 && code != http.StatusOK && answered > c.max {
				t.Errorf("answered after %s, want within %s", answered, c.max)
			}
			if closed < c.min || closed > c.max {
				t.Errorf("connection closed after %s, want within [%s, %s]", closed, c.min, c.max)
			}
		})
	}
}
