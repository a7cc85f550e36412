package kafka

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

// The client is down only once the last attempt to every broker it tried
// failed, and up again at the first success.
func TestHealthFollowsEveryBroker(t *testing.T) {
	refused := errors.New("connection refused")
	type attempt struct {
		addr string
		err  error
	}
	for _, tc := range []struct {
		name     string
		attempts []attempt
		down     bool
	}{
		{"nothing tried", nil, false},
		{"the only broker refuses", []attempt{{"a:9092", refused}}, true},
		{"one of two refuses", []attempt{{"a:9092", nil}, {"b:9092", nil}, {"a:9092", refused}}, false},
		{"both refuse", []attempt{{"a:9092", nil}, {"b:9092", refused}, {"a:9092", refused}}, true},
		{"one comes back", []attempt{{"a:9092", refused}, {"b:9092", refused}, {"b:9092", nil}}, false},
		{"down again after coming back", []attempt{{"a:9092", refused}, {"a:9092", nil}, {"a:9092", refused}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHealth(slog.New(slog.NewTextHandler(io.Discard, nil)))
			ping := func(context.Context) error { return refused }
			h.ping.Store(&ping)
			defer h.close()
			lost, _ := h.state()
			for _, a := range tc.attempts {
				if _, err := h.state(); err == nil {
					lost, _ = h.state()
				}
				h.record(a.addr, a.err)
			}
			_, err := h.state()
			if got := err != nil; got != tc.down {
				t.Fatalf("down = %v (%v), want %v", got, err, tc.down)
			}
			if tc.down {
				if !errors.Is(err, ErrUnreachable) {
					t.Errorf("reason %v does not wrap ErrUnreachable", err)
				}
				select {
				case <-lost:
				default:
					t.Error("the channel of the last up state is not closed")
				}
			}
		})
	}
}
