package observe

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics server bounds every phase of a connection, and disconnects
// a client that stops within its headers, trickles a body or stays idle.
func TestServerTimeouts(t *testing.T) {
	s, err := Listen("127.0.0.1:0", prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s.srv.ReadHeaderTimeout != readHeaderTimeout || s.srv.ReadTimeout != readTimeout || s.srv.IdleTimeout != idleTimeout {
		t.Fatalf("timeouts: %s %s %s", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.IdleTimeout)
	}
	// The same bounds, shorter, to see them act.
	s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.IdleTimeout = 300*time.Millisecond, 600*time.Millisecond, 300*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	cases := []struct{ name, send string }{
		{"half a header", "GET /metrics HTTP/1.1\r\nHost: x\r\n"},
		{"trickled body", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"},
		{"idle", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, c := range cases {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := io.WriteString(conn, c.send); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(start.Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, conn) // until the server closes, or the deadline
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: disconnected after %s", c.name, d)
		}
		conn.Close()
	}
}
