package mysql

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// Jitsu's credentials.sslMode is honoured, not dropped: the test server
// has no TLS, so every mode that requires it fails to connect instead of
// silently going unencrypted, while prefer and disable connect.
func TestSSLMode(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		mode    string
		connect bool
	}{
		{"disable", true},
		{"prefer", true},
		{"require", false},
		{"verify-ca", false},
		{"verify-full", false},
	} {
		c := testConfig(t)
		c.Credentials.SSLMode = tt.mode
		d, err := New(ctx, c, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: New: %v", tt.mode, err)
		}
		err = d.Ping(ctx)
		d.Close()
		if (err == nil) != tt.connect {
			t.Errorf("sslMode %s: Ping = %v; want connected %v", tt.mode, err, tt.connect)
		}
		if err != nil && !strings.Contains(err.Error(), "TLS") {
			t.Errorf("sslMode %s: %v; want a TLS error", tt.mode, err)
		}
	}
	c := testConfig(t)
	c.Credentials.SSLMode = "require"
	c.Credentials.Parameters = map[string]string{"tls": "false"}
	if _, err := New(ctx, c, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "sslMode") {
		t.Errorf("sslMode with parameters.tls: %v", err)
	}
}
