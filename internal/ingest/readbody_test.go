package ingest

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	big := strings.Repeat("x", maxPrealloc+100)
	cases := []struct {
		name, body string
		length     int64 // Content-Length, -1 unknown
		limit      int64
		code       int
		msg        string
	}{
		{"known length", "0123456789", 10, 10, 0, ""},
		{"empty", "", 0, 10, 0, ""},
		{"longer than preallocated", big, int64(len(big)), 1 << 20, 0, ""},
		{"unknown length", big, -1, 1 << 20, 0, ""},
		{"announced too large", "0123456789", 11, 10, 413, "body larger than 10 bytes (SETTING)"},
		{"unknown length too large", "0123456789x", -1, 10, 413, "body larger than 10 bytes (SETTING)"},
		{"longer than announced", "0123456789x", 5, 10, 413, "body larger than 10 bytes (SETTING)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			r.ContentLength = c.length
			body, code, err := readBody(httptest.NewRecorder(), r, c.limit, "SETTING", "TIMEOUT")
			if code != c.code || (err == nil) != (c.msg == "") || err != nil && err.Error() != c.msg {
				t.Fatalf("got %d %v, want %d %q", code, err, c.code, c.msg)
			}
			if c.code != 0 {
				return
			}
			if string(body) != c.body {
				t.Errorf("read %d bytes, want %d", len(body), len(c.body))
			}
			if c.length >= 0 && c.length <= maxPrealloc && cap(body) != int(c.length)+1 {
				t.Errorf("cap %d for %d bytes: the buffer grew", cap(body), c.length)
			}
		})
	}
}

func TestReadBodyBroken(t *testing.T) {
	r := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("01"), errReader{}))
	r.ContentLength = 10
	if _, code, err := readBody(httptest.NewRecorder(), r, 10, "S", "T"); code != 400 || err == nil || err.Error() != "reading body: connection reset" {
		t.Errorf("got %d %v", code, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
