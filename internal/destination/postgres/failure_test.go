package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
	"github.com/streamforge/streamforge/internal/secret"
)

// TestUnavailable: a destination that cannot be reached or refuses bulker
// fails with an outage (retried, not dead-lettered) that says where it
// tried to connect and never shows the password. New itself succeeds, so
// bulker starts and catches up once the database is back.
func TestUnavailable(t *testing.T) {
	env := newTestEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	const password = "hunter2-must-not-leak"
	tests := []struct {
		name   string
		modify func(*destination.Credentials)
		want   string // in the message besides host, database and user
	}{
		{"unknown user with password", func(c *destination.Credentials) { c.Username = "streamforge_no_such_user" }, "streamforge_no_such_user"},
		{"missing database", func(c *destination.Credentials) { c.Database = "streamforge_no_such_db" }, "does not exist"},
		{"server down", func(c *destination.Credentials) { c.Host, c.Port = "127.0.0.1", closedPort }, "127.0.0.1:" + fmt.Sprint(closedPort)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.cfg
			cfg.Credentials.Password = secret.String(password)
			tt.modify(&cfg.Credentials)
			var logs bytes.Buffer
			d, err := New(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			table := schema.Table{Name: "t", Columns: []schema.Column{{Name: "id", Type: schema.Int}}}
			_, ensureErr := d.EnsureTable(ctx, table)
			for what, err := range map[string]error{
				"Ping":        d.Ping(ctx),
				"EnsureTable": ensureErr,
				"Load":        destinationtest.Write(ctx, d, schema.Batch{Table: table, Rows: schematest.Rows([][]any{{int64(1)}})}, destination.LoadOptions{}),
			} {
				if err == nil {
					t.Fatalf("%s succeeded", what)
				}
				msg := err.Error()
				t.Logf("%s: %s", what, msg)
				if errors.Is(err, destination.ErrData) {
					t.Errorf("%s: %v is ErrData; an outage must be retried", what, err)
				}
				cr := cfg.Credentials
				for _, part := range []string{cr.Host, cr.Database, cr.Username, tt.want} {
					if !strings.Contains(msg, part) {
						t.Errorf("%s: %q does not name %q", what, msg, part)
					}
				}
				if strings.Contains(msg, password) {
					t.Errorf("%s: error shows the password: %q", what, msg)
				}
			}
			if strings.Contains(logs.String(), password) {
				t.Errorf("logs show the password: %s", logs.String())
			}
		})
	}
}

func TestClassify(t *testing.T) {
	d := &DB{where: "PostgreSQL at h:5432 database \"db\" as user \"u\""}
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	tests := []struct {
		name        string
		err         error
		data, where bool
	}{
		{"value too long", pg("22001"), true, false},
		{"invalid text representation", pg("22P02"), true, false},
		{"unique violation", pg("23505"), true, false},
		{"not null violation", pg("23502"), true, false},
		{"datatype mismatch", pg("42804"), true, false},
		{"too many columns", pg("54011"), true, false},
		{"undefined table", pg("42P01"), false, false},
		{"serialization failure", pg("40001"), false, false},
		{"wrong password", pg("28P01"), false, true},
		{"no such role", pg("28000"), false, true},
		{"missing database", pg("3D000"), false, true},
		{"admin shutdown", pg("57P01"), false, true},
		{"connection failure", pg("08006"), false, true},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false, true},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.classify("loading", tt.err)
			if got := errors.Is(err, destination.ErrData); got != tt.data {
				t.Errorf("ErrData = %v, want %v (%v)", got, tt.data, err)
			}
			if got := strings.Contains(err.Error(), d.where); got != tt.where {
				t.Errorf("names the server = %v, want %v (%v)", got, tt.where, err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap %v", err, tt.err)
			}
		})
	}
}
