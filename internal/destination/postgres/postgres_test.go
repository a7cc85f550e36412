package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/conformance"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/secret"
)

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testEnv is a fresh schema on the test server.
type testEnv struct {
	cfg    destination.Config
	schema string
	db     *sql.DB // reads back, bypassing the destination
}

// newTestEnv creates a schema with a random name, dropped after the test.
// It fails, not skips, when the server is unreachable: CI provides one.
func newTestEnv(t testing.TB) testEnv {
	t.Helper()
	dsn := os.Getenv("STREAMFORGE_TEST_PG")
	if dsn == "" {
		dsn = defaultTestDSN
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("STREAMFORGE_TEST_PG: %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	env := testEnv{schema: "sf_test_" + hex.EncodeToString(b[:])}
	env.cfg = destination.Config{ID: "pgtest", Type: "postgres", Credentials: destination.Credentials{
		Host:          cc.Host,
		Port:          int(cc.Port),
		Database:      cc.Database,
		DefaultSchema: env.schema,
		Username:      cc.User,
		Password:      secret.String(cc.Password),
		Parameters:    map[string]string{"sslmode": "disable"},
	}}
	env.db = stdlib.OpenDB(*cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := env.db.ExecContext(ctx, "CREATE SCHEMA "+pgx.Identifier{env.schema}.Sanitize()); err != nil {
		t.Fatalf("PostgreSQL at %s:%d (STREAMFORGE_TEST_PG) unreachable: %v", cc.Host, cc.Port, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := env.db.ExecContext(ctx, "DROP SCHEMA "+pgx.Identifier{env.schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping test schema: %v", err)
		}
		env.db.Close()
	})
	return env
}

func (e testEnv) open(t testing.TB) *DB {
	t.Helper()
	d, err := New(context.Background(), e.cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestConformance runs the suite twice: as configured (small batches by
// INSERT … VALUES) and with every batch staged by COPY.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		valuesMax int
	}{{"values", valuesMaxParams}, {"copy", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			open := func(t *testing.T) destination.Driver {
				d := env.open(t)
				d.valuesMax = tc.valuesMax
				return d
			}
			conformance.Run(t, open, conformanceSpec(env))
		})
	}
}

func conformanceSpec(env testEnv) conformance.Spec {
	return conformance.Spec{
		DB:    env.db,
		Table: func(name string) string { return pgx.Identifier{env.schema, name}.Sanitize() },
		Quote: func(name string) string { return pgx.Identifier{name}.Sanitize() },
		SQLTypes: map[schema.DataType]string{
			schema.Bool:      "boolean",
			schema.Int:       "bigint",
			schema.Float:     "double precision",
			schema.Timestamp: "timestamp with time zone",
			schema.Text:      "text",
			schema.JSON:      "jsonb",
		},
		Hints: map[string]schema.Column{
			"varchar(4)": {Type: schema.Text, SQLType: "character varying(4)"},
			"json":       {Type: schema.JSON, SQLType: "json"},
		},
	}
}
