// Package postgres is bulker's PostgreSQL destination: pgx v5, batches by
// COPY into a temporary table then INSERT … SELECT, upserts by ON CONFLICT,
// additive DDL serialised by advisory locks.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

// DefaultSchema is used when credentials.defaultSchema is empty.
const DefaultSchema = "public"

// dialect holds PostgreSQL's identifier rules: 63 bytes (NAMEDATALEN-1),
// names folded to lower case so users can query them unquoted; and its
// limits: 1,600 columns, and a row within one 8 kB page (8,160 bytes) once
// TOAST has moved large values out, leaving an 18-byte pointer each. The
// row budget leaves room for the row header and null bitmap; fixed-width
// types count 8 bytes, alignment padding included.
var dialect = schema.Dialect{
	Name:        "postgres",
	MaxIdentLen: 63,
	LenInBytes:  true,
	Lowercase:   true,
	MaxColumns:  1600,
	MaxRowBytes: 8000,
	TypeBytes: [...]int{
		schema.Null: 20, schema.Bool: 8, schema.Int: 8, schema.Float: 8,
		schema.Timestamp: 8, schema.Text: 20, schema.JSON: 20,
	},
}

// DB is a PostgreSQL destination. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	schema string
	where  string // host:port/database as user, for error messages
	log    *slog.Logger
	// valuesMax is valuesMaxParams; tests lower it to cover COPY.
	valuesMax int

	schemaMu    sync.Mutex
	schemaReady bool
}

var _ destination.Driver = (*DB)(nil)

// Open is New as a destination.Factory.
func Open(ctx context.Context, c destination.Config, log *slog.Logger) (destination.Driver, error) {
	return New(ctx, c, log)
}

// New builds the destination from c.Credentials. It does not connect: a
// server that is down at start-up only fails the first Ping, Describe,
// EnsureTable or Load, which bulker retries, so events wait in Kafka.
func New(ctx context.Context, c destination.Config, log *slog.Logger) (*DB, error) {
	cr := c.Credentials
	if cr.Database == "" {
		return nil, fmt.Errorf("postgres destination %s: credentials.database is required", c.ID)
	}
	host := cr.Host
	if host == "" {
		host = "localhost"
	}
	port := cr.Port
	if port == 0 {
		port = 5432
	}
	sch := cr.DefaultSchema
	if sch == "" {
		sch = DefaultSchema
	}
	if len(sch) > dialect.MaxIdentLen {
		return nil, fmt.Errorf("postgres destination %s: credentials.defaultSchema longer than %d bytes", c.ID, dialect.MaxIdentLen)
	}
	// The connection string never holds the password: it is set on the
	// parsed config, so no parse error can echo it.
	params := map[string]string{
		"host":     host,
		"port":     strconv.Itoa(port),
		"dbname":   cr.Database,
		"user":     cr.Username,
		"timezone": "UTC",
	}
	for k, v := range cr.Parameters {
		if k == "password" {
			return nil, fmt.Errorf("postgres destination %s: credentials.parameters must not hold the password; use credentials.password", c.ID)
		}
		params[k] = v
	}
	// Jitsu's sslMode is libpq's sslmode.
	if m := cr.SSLMode; m != "" {
		if p, ok := cr.Parameters["sslmode"]; ok && p != m {
			return nil, fmt.Errorf("postgres destination %s: credentials.sslMode %q and credentials.parameters.sslmode %q disagree", c.ID, m, p)
		}
		params["sslmode"] = m
	}
	cfg, err := pgxpool.ParseConfig(connString(params))
	if err != nil {
		return nil, fmt.Errorf("postgres destination %s: credentials.parameters: %w", c.ID, err)
	}
	if pw := cr.Password.Reveal(); pw != "" {
		cfg.ConnConfig.Password = pw
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres destination %s: %w", c.ID, err)
	}
	where := fmt.Sprintf("PostgreSQL at %s database %q as user %q",
		net.JoinHostPort(host, strconv.Itoa(port)), cr.Database, cfg.ConnConfig.User)
	return &DB{
		pool:      pool,
		schema:    sch,
		where:     where,
		log:       log.With("destination", c.ID, "driver", "postgres", "schema", sch),
		valuesMax: valuesMaxParams,
	}, nil
}

// connString renders keyword/value pairs in libpq's quoting.
func connString(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(params[k])
		fmt.Fprintf(&sb, "%s='%s' ", k, v)
	}
	return sb.String()
}

// Dialect implements destination.Driver.
func (d *DB) Dialect() schema.Dialect { return dialect }

// Ping connects and creates the default schema if needed, so bulker can
// report an unreachable destination at start-up.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.ensureSchema(ctx); err != nil {
		return d.classify("connecting", err)
	}
	return nil
}

// Close implements destination.Driver.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// ensureSchema creates the default schema once per DB; a failure is
// retried on the next call. Errors are left for the caller to classify.
func (d *DB) ensureSchema(ctx context.Context) error {
	d.schemaMu.Lock()
	defer d.schemaMu.Unlock()
	if d.schemaReady {
		return nil
	}
	var exists bool
	err := d.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, d.schema).Scan(&exists)
	if err != nil {
		return fmt.Errorf("checking schema %s: %w", d.schema, err)
	}
	err = d.locked(ctx, "schema", func(tx pgx.Tx) error {
		if !exists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{d.schema}.Sanitize()); err != nil {
				return err
			}
			d.log.Info("created schema")
		}
		_, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+d.ident(destination.ColumnsTable)+
			" (table_name text NOT NULL, column_name text NOT NULL, event_key text NOT NULL, PRIMARY KEY (table_name, column_name))")
		return err
	})
	if err != nil {
		return fmt.Errorf("creating schema %s: %w", d.schema, err)
	}
	d.schemaReady = true
	return nil
}

// ident quotes a table of the destination's schema.
func (d *DB) ident(table string) string {
	return pgx.Identifier{d.schema, table}.Sanitize()
}
