package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	const full = "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 50 connections\n" +
		"wrk-result requests=20000 duration_us=2000000 status=10 connect=1 read=2 write=3 timeout=4 p50_us=1500 p99_us=8250\n"
	tests := []struct {
		name    string
		out     string
		want    WrkResult
		wantErr bool
	}{
		{"full", full, WrkResult{Requests: 20000, StatusErrors: 10, SocketErrors: 10, Elapsed: 2 * time.Second,
			P50: 1500 * time.Microsecond, P99: 8250 * time.Microsecond}, false},
		{"no result line", "unable to connect to 127.0.0.1:1 Connection refused\n", WrkResult{}, true},
		{"missing key", "wrk-result requests=1 duration_us=1\n", WrkResult{}, true},
		{"not a number", "wrk-result requests=x duration_us=1 status=0 connect=0 read=0 write=0 timeout=0 p50_us=1 p99_us=1\n", WrkResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrk([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	r, _ := ParseWrk([]byte(full))
	if r.OK() != 19990 || r.RPS() != 9995 {
		t.Errorf("OK %d RPS %v, want 19990, 9995", r.OK(), r.RPS())
	}
}

// TestRunWrk drives a real wrk against a handler that checks what wrk
// sends: POST, the body, the token.
func TestRunWrk(t *testing.T) {
	if err := WrkAvailable(); err != nil {
		t.Skip(err)
	}
	body := Event(1, time.Now())
	var good, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || string(b) != string(body) || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" {
			bad.Add(1)
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		good.Add(1)
	}))
	defer srv.Close()
	res, err := RunWrk(context.Background(), WrkConfig{URL: srv.URL + "/", Token: "tok", Threads: 1, Conns: 2,
		Duration: time.Second, Body: body, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() == 0 || res.StatusErrors != 0 || bad.Load() != 0 {
		t.Errorf("wrk: %+v; server saw %d good, %d bad requests", res, good.Load(), bad.Load())
	}
	if res.P99 <= 0 || res.Elapsed < 900*time.Millisecond || res.CPUSeconds <= 0 {
		t.Errorf("wrk: implausible %+v", res)
	}
}
