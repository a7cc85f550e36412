package bulker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/config"
)

func TestServePprof(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	hc := config.HTTP{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, IdleTimeout: 300 * time.Millisecond}
	go func() { done <- servePprof(ctx, addr, hc, slog.New(slog.DiscardHandler)) }()

	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("goroutine profile: %d %q", resp.StatusCode, body)
	}
	// A client that stops within its headers, or stays idle after an
	// answer, is disconnected.
	for name, send := range map[string]string{
		"half a header": "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n",
		"idle":          "GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if d := disconnectedAfter(t, addr, send); d > 2*time.Second {
			t.Errorf("%s: disconnected after %s", name, d)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("servePprof after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("servePprof did not stop")
	}
}

// disconnectedAfter sends send on a new connection, reads whatever comes
// and says how long the server took to close it (at most 10 s).
func disconnectedAfter(t *testing.T, addr, send string) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(start.Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, c) // until the server closes, or the deadline
	return time.Since(start)
}
