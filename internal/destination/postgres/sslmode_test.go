package postgres

import (
	"context"
	"strings"
	"testing"
)

// Jitsu's credentials.sslMode is honoured, not dropped: verify-full, which
// the test server's self-signed certificate cannot pass, refuses to
// connect, and a mode parameters contradict fails at once.
func TestSSLMode(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for _, tt := range []struct {
		mode    string
		connect bool
	}{
		{"disable", true},
		{"require", true}, // the test server has TLS on
		{"verify-full", false},
	} {
		c := env.cfg
		c.Credentials.Parameters = nil
		c.Credentials.SSLMode = tt.mode
		d, err := New(ctx, c, testLogger(t))
		if err != nil {
			t.Fatalf("%s: New: %v", tt.mode, err)
		}
		err = d.Ping(ctx)
		d.Close()
		if (err == nil) != tt.connect {
			t.Errorf("sslMode %s: Ping = %v; want connected %v", tt.mode, err, tt.connect)
		}
		if err != nil && !strings.Contains(err.Error(), "certificate") {
			t.Errorf("sslMode %s: %v; want a certificate error", tt.mode, err)
		}
	}
	c := env.cfg // parameters say sslmode=disable
	c.Credentials.SSLMode = "require"
	if _, err := New(ctx, c, testLogger(t)); err == nil || !strings.Contains(err.Error(), "sslMode") {
		t.Errorf("contradicting sslMode and parameters.sslmode: %v", err)
	}
}
