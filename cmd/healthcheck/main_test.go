package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			_, _ = w.Write([]byte("ready"))
		case "/slow":
			time.Sleep(time.Second)
		default:
			http.Error(w, "kafka: connection refused", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/ready"
	ln.Close()

	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{srv.URL + "/ready"}, 0, ""},
		{[]string{srv.URL + "/not-ready"}, 1, "503 Service Unavailable kafka: connection refused"},
		{[]string{"--timeout", "100ms", srv.URL + "/slow"}, 1, "deadline exceeded"},
		{[]string{closed}, 1, "connection refused"},
		{nil, 2, "Usage: healthcheck"},
		{[]string{"a", "b"}, 2, "Usage: healthcheck"},
		{[]string{"--help"}, 0, "Usage: healthcheck"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != c.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("%q: stderr %q, want it to contain %q", c.args, stderr.String(), c.stderr)
		}
	}

	var stdout bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &bytes.Buffer{}); code != 0 || !strings.HasPrefix(stdout.String(), "healthcheck ") {
		t.Errorf("--version: exit %d, stdout %q", code, stdout.String())
	}
}
