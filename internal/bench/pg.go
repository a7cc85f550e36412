package bench

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // counting rows of the SQLite destination

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/postgres"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
)

// Counter counts the rows of a table; a missing table counts 0.
type Counter interface {
	Count(ctx context.Context, table string) (int64, error)
}

// PG is the benchmark's own connection to PostgreSQL, in one schema.
type PG struct {
	conn   *pgx.Conn
	schema string
}

// ConnectPG connects to dsn and creates schema.
func ConnectPG(ctx context.Context, dsn, schemaName string) (*PG, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schemaName}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("creating schema %s: %w", schemaName, err)
	}
	return &PG{conn: conn, schema: schemaName}, nil
}

// Credentials are the destination credentials reaching the same server
// and schema, with TLS only if the benchmark's own connection uses it.
func (p *PG) Credentials() destination.Credentials {
	c := p.conn.Config()
	cr := destination.Credentials{Host: c.Host, Port: int(c.Port), Database: c.Database,
		Username: c.User, DefaultSchema: p.schema}
	if _, tls := p.conn.PgConn().Conn().(*tls.Conn); !tls {
		// As the baseline's own connection: bulker would otherwise prefer
		// TLS, and encrypt on loopback what the raw COPY sends in clear.
		cr.Parameters = map[string]string{"sslmode": "disable"}
	}
	return cr
}

// Count implements Counter.
func (p *PG) Count(ctx context.Context, table string) (int64, error) {
	return countOrAbsent(table, func() (n int64, err error) {
		err = p.conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{p.schema, table}.Sanitize()).Scan(&n)
		return n, err
	}, func() (exists bool, err error) {
		q := "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2)"
		err = p.conn.QueryRow(ctx, q, p.schema, table).Scan(&exists)
		return exists, err
	})
}

// countOrAbsent counts a table that a loader creates: 0 while it does not
// exist. When the count fails but the table exists by then, the loader
// created it in between, and the count is taken again.
func countOrAbsent(table string, count func() (int64, error), exists func() (bool, error)) (int64, error) {
	n, err := count()
	if err != nil {
		ok, e := exists()
		switch {
		case e == nil && !ok:
			return 0, nil
		case e == nil:
			n, err = count()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("counting %s: %w", table, err)
	}
	return n, nil
}

// Close drops the schema and disconnects.
func (p *PG) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{p.schema}.Sanitize()+" CASCADE")
	if cerr := p.conn.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// LoadRows are the rows of the load phase's n events as bulker's loader
// builds them against the table it created: what the baselines load.
// Every row is distinct, as in bulker's load: rows repeated every few
// thousand made PostgreSQL's work on the timestamp index cheaper than
// bulker's (a B-tree stores repeated keys once).
type LoadRows struct {
	Like      schema.Table   // the table as bulker created it
	Batches   []schema.Batch // in the loader's batch size
	Columns   []string
	Any       [][]any // every row, for pgx's CopyFrom
	ParseRate float64 // rows per second of schema.Parse+Build, one goroutine
}

// parseTimed is how many of BuildRows's events are timed.
const parseTimed = 100_000

// BuildRows builds the rows of n events against table like, in batches of
// batchSize, timing the parse and build of the first parseTimed (CPU
// only, one goroutine).
func (p *PG) BuildRows(ctx context.Context, like string, n, batchSize int, event func(int) []byte, log *slog.Logger) (*LoadRows, error) {
	dest, err := postgres.New(ctx, destination.Config{ID: "bench-rows", Type: "postgres", Credentials: p.Credentials()}, log)
	if err != nil {
		return nil, err
	}
	defer dest.Close()
	stored, ok, err := dest.Describe(ctx, like)
	if err != nil || !ok {
		return nil, fmt.Errorf("describing %s: ok=%v err=%v", like, ok, err)
	}
	lr := &LoadRows{Like: stored}
	// Only the first batches are timed: as the built rows pile up, the
	// collector's work on them would be timed too.
	var elapsed time.Duration
	timed := 0
	events := make([]schema.Event, 0, batchSize)
	for off := 0; off < n; off += batchSize {
		start := time.Now()
		events = events[:0]
		for i := off; i < min(off+batchSize, n); i++ {
			ev, err := schema.Parse(event(i))
			if err != nil {
				return nil, err
			}
			events = append(events, ev)
		}
		_, b, _ := schema.Build(dest.Dialect(), like, schema.TableOptions{}, events, &stored)
		if off < parseTimed {
			elapsed += time.Since(start)
			timed += len(events)
		}
		if len(b.Table.Columns) != len(stored.Columns) {
			return nil, fmt.Errorf("events %d-%d need %d columns, %s has %d", off, off+len(events)-1, len(b.Table.Columns), like, len(stored.Columns))
		}
		lr.Batches = append(lr.Batches, b)
		lr.Any = append(lr.Any, schematest.AnyRows(b.Rows)...)
	}
	for _, c := range stored.Columns {
		lr.Columns = append(lr.Columns, c.Name)
	}
	lr.ParseRate = float64(timed) / elapsed.Seconds()
	return lr, nil
}

// Copy says how CopyRows copies.
type Copy struct {
	NoIndex bool // into a table without the loaded table's indexes
	Batch   int  // rows per COPY and transaction; 0: all in one
	// Warm copies on the benchmark's own connection, whose backend has
	// already touched PostgreSQL's shared buffers. Otherwise the COPY
	// runs on a new connection, as a freshly started loader's does: a new
	// backend faults in every shared buffer it touches for the first
	// time, which cost PostgreSQL 0.8 µs a row more in 200,000-row loads.
	Warm bool
}

// CopyRows measures raw pgx CopyFroms of rows into a new table like the
// one bulker created, as c says. It returns rows per second and drops its
// table. Connecting is not timed.
func (p *PG) CopyRows(ctx context.Context, rows *LoadRows, c Copy) (float64, error) {
	conn := p.conn
	if !c.Warm {
		var err error
		if conn, err = pgx.ConnectConfig(ctx, p.conn.Config().Copy()); err != nil {
			return 0, fmt.Errorf("connecting for the COPY: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
	}
	like := pgx.Identifier{p.schema, rows.Like.Name}
	table := pgx.Identifier{p.schema, rows.Like.Name + "_copy"}
	including := " INCLUDING INDEXES"
	if c.NoIndex {
		including = ""
	}
	if _, err := p.conn.Exec(ctx, "CREATE TABLE "+table.Sanitize()+" (LIKE "+like.Sanitize()+including+")"); err != nil {
		return 0, fmt.Errorf("creating the COPY table: %w", err)
	}
	defer p.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table.Sanitize())
	batch := c.Batch
	if batch <= 0 {
		batch = len(rows.Any)
	}
	start := time.Now()
	var copied int64
	for off := 0; off < len(rows.Any); off += batch {
		n, err := conn.CopyFrom(ctx, table, rows.Columns, pgx.CopyFromRows(rows.Any[off:min(off+batch, len(rows.Any))]))
		if err != nil {
			return 0, fmt.Errorf("COPY into %s: %w", table.Sanitize(), err)
		}
		copied += n
	}
	elapsed := time.Since(start)
	if copied != int64(len(rows.Any)) {
		return 0, fmt.Errorf("COPY into %s: %d of %d rows copied", table.Sanitize(), copied, len(rows.Any))
	}
	return float64(copied) / elapsed.Seconds(), nil
}

// LoadBatches measures the PostgreSQL destination's Write of the built
// batches, one transaction each as bulker's loader writes them, into a
// new table like the one bulker created. It returns rows per second.
func (p *PG) LoadBatches(ctx context.Context, rows *LoadRows, log *slog.Logger) (float64, error) {
	dest, err := postgres.New(ctx, destination.Config{ID: "bench-parts", Type: "postgres", Credentials: p.Credentials()}, log)
	if err != nil {
		return 0, err
	}
	defer dest.Close()
	target := rows.Like
	target.Name += "_dest"
	if target, err = dest.EnsureTable(ctx, target); err != nil {
		return 0, err
	}
	defer p.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+pgx.Identifier{p.schema, target.Name}.Sanitize())
	start := time.Now()
	loaded := 0
	for _, b := range rows.Batches {
		b.Table = target
		plan, err := destination.NewPlan(b, destination.LoadOptions{Mode: destination.Append})
		if err != nil {
			return 0, err
		}
		if err := dest.Write(ctx, plan); err != nil {
			return 0, fmt.Errorf("destination Write: %w", err)
		}
		loaded += len(b.Rows)
	}
	return float64(loaded) / time.Since(start).Seconds(), nil
}

// SQLiteCounter counts rows of a SQLite database file another process
// writes.
type SQLiteCounter struct{ db *sql.DB }

// OpenSQLite opens path read-only.
func OpenSQLite(path string) (*SQLiteCounter, error) {
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	return &SQLiteCounter{db: db}, nil
}

// Count implements Counter.
func (s *SQLiteCounter) Count(ctx context.Context, table string) (int64, error) {
	return countOrAbsent(table, func() (n int64, err error) {
		err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+strconv.Quote(table)).Scan(&n)
		return n, err
	}, func() (bool, error) {
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", table).Scan(&n)
		return n > 0, err
	})
}

// Close closes the database.
func (s *SQLiteCounter) Close() error { return s.db.Close() }

// WaitRows polls c until table holds at least n rows and returns when it
// first saw them. It gives up after timeout, or when alive reports an
// error (a child that died).
func WaitRows(ctx context.Context, c Counter, table string, n int64, every, timeout time.Duration, alive func() error) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var last int64
	for {
		got, err := c.Count(ctx, table)
		if err != nil {
			return time.Time{}, err
		}
		if got >= n {
			return time.Now(), nil
		}
		last = got
		if alive != nil {
			if err := alive(); err != nil {
				return time.Time{}, err
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s holds %d of %d rows after %s", table, last, n, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

// committedFirst counts rows only once the consumer group has committed
// n records of its topic: bulker commits offsets after the rows are, so
// until then the table cannot be complete, and a count(*) of a growing
// table every few milliseconds would load the server being measured.
type committedFirst struct {
	kc           *kafka.Client
	group, topic string
	n            int64
	rows         Counter
}

// Count implements Counter.
func (c committedFirst) Count(ctx context.Context, table string) (int64, error) {
	done, err := c.kc.Committed(ctx, c.group, c.topic)
	if err != nil || done < c.n {
		return 0, err
	}
	return c.rows.Count(ctx, table)
}
