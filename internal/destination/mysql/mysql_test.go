package mysql

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/schema/schematest"
	"github.com/streamforge/streamforge/internal/secret"
)

// testConfig creates a database with a random name on the test server
// (STREAMFORGE_TEST_MYSQL) and returns a destination config for it; the
// database is dropped after the test.
func testConfig(t testing.TB) destination.Config {
	t.Helper()
	dsn := os.Getenv("STREAMFORGE_TEST_MYSQL")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("STREAMFORGE_TEST_MYSQL: %v", err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var r [4]byte
	rand.Read(r[:])
	name := "sf_test_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("MariaDB at %s is required (STREAMFORGE_TEST_MYSQL): %v", cfg.Addr, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	host, port, _ := net.SplitHostPort(cfg.Addr)
	p, _ := strconv.Atoi(port)
	return destination.Config{ID: "my", Type: "mysql", Credentials: destination.Credentials{
		Host: host, Port: p, Database: name, Username: cfg.User, Password: secret.String(cfg.Passwd),
	}}
}

func open(t testing.TB) *DB {
	t.Helper()
	return openConfig(t, testConfig(t))
}

func openConfig(t testing.TB, c destination.Config) *DB {
	t.Helper()
	db, err := New(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestEnsureTable(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	want := destinationtest.Events()
	want.PrimaryKey = []string{"name"}
	got, err := db.EnsureTable(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"bigint(20)", "varchar(255)", "tinyint(1)", "double", "datetime(6)", "json"}
	if fmt.Sprint(got.PrimaryKey) != "[name]" || got.TimestampColumn != "at" || len(got.Columns) != 6 {
		t.Fatalf("stored table = %+v", got)
	}
	for i, c := range got.Columns {
		if c.Name != want.Columns[i].Name || c.Type != want.Columns[i].Type || c.SQLType != wantTypes[i] {
			t.Errorf("column %d = %+v, want %+v as %s", i, c, want.Columns[i], wantTypes[i])
		}
	}

	want.Columns = append(want.Columns,
		schema.Column{Name: "code", Type: schema.Text, SQLType: "varchar(4)"},
		schema.Column{Name: "doc", Type: schema.JSON, SQLType: "jsonb"},
		schema.Column{Name: "long_text", Type: schema.Text})
	for range 2 {
		if got, err = db.EnsureTable(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if len(got.Columns) != 9 {
		t.Fatalf("after adding columns: %+v", got)
	}
	for name, typ := range map[string]string{"code": "varchar(4)", "doc": "json", "long_text": "longtext"} {
		if c, _ := got.Column(name); c.SQLType != typ {
			t.Errorf("column %s = %+v, want %s", name, c, typ)
		}
	}
	d, ok, err := db.Describe(ctx, "events")
	if err != nil || !ok || fmt.Sprint(d) != fmt.Sprint(got) {
		t.Fatalf("Describe = %+v, %v, %v; want %+v", d, ok, err, got)
	}
	if _, ok, err := db.Describe(ctx, "missing"); ok || err != nil {
		t.Fatalf("Describe(missing) = %v, %v", ok, err)
	}
	// utf8mb4 throughout.
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT TABLE_COLLATION, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events'`),
		[][]string{{"utf8mb4_bin", "InnoDB"}})
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT @@SESSION.sql_mode LIKE '%STRICT_ALL_TABLES%', @@SESSION.time_zone, @@character_set_connection`),
		[][]string{{"1", "+00:00", "utf8mb4"}})
}

func TestEnsureTableRejectsBadHint(t *testing.T) {
	db := open(t)
	for _, hint := range []string{"int); drop table x; --", "text default 'x'", "varchar(4) character set latin1", "nosuchtype"} {
		tbl := schema.Table{Name: "t", Columns: []schema.Column{{Name: "a", Type: schema.Text, SQLType: hint}}}
		if _, err := db.EnsureTable(context.Background(), tbl); !errors.Is(err, destination.ErrData) {
			t.Errorf("hint %q: err = %v, want ErrData", hint, err)
		}
	}
}

func TestLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	tbl, err := db.EnsureTable(ctx, destinationtest.Events())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("", 3*3600))
	rows := [][]any{
		{int64(1)<<60 + 1, "🎉 party 👩‍👩‍👧", true, 1.5, at, json.RawMessage(`{"a":[1,2],"e":"🎉"}`)},
		{int64(-9007199254740993), "строка\nвторая 第二行\r\n\tتبويب", false, -0.25, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), json.RawMessage(`[]`)},
		{int64(3), "", nil, nil, nil, schema.Absent},
	}
	if err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT id, name, ok, score, at, props FROM events ORDER BY score DESC`), [][]string{
		{"1152921504606846977", "🎉 party 👩‍👩‍👧", "1", "1.5", "2024-03-01T09:30:45.123456Z", `{"a":[1,2],"e":"🎉"}`},
		{"-9007199254740993", "строка\nвторая 第二行\r\n\tتبويب", "0", "-0.25", "1999-12-31T23:59:59Z", "[]"},
		{"3", "", "NULL", "NULL", "NULL", "NULL"},
	})
	// Scanned as Go values, the times are UTC.
	var got time.Time
	if err := db.SQL().QueryRow(`SELECT at FROM events WHERE id = 1152921504606846977`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(at.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Fatalf("at = %v, want %v in UTC", got, at)
	}
}

func TestUpsert(t *testing.T) {
	db := open(t)
	destinationtest.Upsert(t, db, db.SQL())
}

func TestReplaceModes(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	tbl := destinationtest.ReplaceModes(t, db, db.SQL())
	row := destinationtest.PartitionRow
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> ?`, destination.ColumnsTable), [][]string{{"events"}})

	// Replacing a table that does not exist yet creates it; a long name
	// still leaves room for the temporary table's suffix.
	tbl.Name = strings.Repeat("ж", 64)
	destinationtest.Load(t, db, tbl, destination.LoadOptions{Mode: destination.ReplaceTable}, row(1, "x", ""))
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), "SELECT id, name FROM `"+tbl.Name+"`"), [][]string{{"1", "x"}})
	// A failed replacement leaves the table as it was and no temporary table.
	err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{row(1, "y", ""), row(1, "dup", "")})}, destination.LoadOptions{Mode: destination.ReplaceTable})
	if !errors.Is(err, destination.ErrData) {
		t.Fatalf("err = %v, want ErrData", err)
	}
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), "SELECT id, name FROM `"+tbl.Name+"`"), [][]string{{"1", "x"}})
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> ?`, destination.ColumnsTable), [][]string{{"2"}})
}

func TestDataErrorAppliesNothing(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	want := destinationtest.Events()
	want.Columns = append(want.Columns, schema.Column{Name: "code", Type: schema.Text, SQLType: "varchar(4)"})
	tbl, err := db.EnsureTable(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	row := func(id any, mod func([]any)) []any {
		r := []any{id, "x", nil, nil, nil, nil, nil}
		if mod != nil {
			mod(r)
		}
		return r
	}
	if err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{row(int64(1), nil)})}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]any{
		"duplicate key": row(int64(1), nil),
		"null key":      row(nil, nil),
		"invalid JSON":  row(int64(7), func(r []any) { r[5] = json.RawMessage(`{"a":`) }),
		"too long":      row(int64(8), func(r []any) { r[6] = "12345" }),
		"NaN":           row(int64(9), func(r []any) { r[3] = nan() }),
	}
	for name, r := range bad {
		for _, dedup := range []bool{false, true} {
			if dedup && name == "duplicate key" {
				continue
			}
			rows := [][]any{row(int64(100), nil), r}
			err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows(rows)}, destination.LoadOptions{Upsert: dedup})
			if !errors.Is(err, destination.ErrData) {
				t.Errorf("%s (dedup %v): err = %v, want ErrData", name, dedup, err)
			}
		}
	}
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), `SELECT id FROM events`), [][]string{{"1"}})
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// Several processes (DB values) adding the same columns at once all succeed.
func TestConcurrentAddColumn(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	dbs := []*DB{openConfig(t, c), openConfig(t, c), openConfig(t, c)}
	base := schema.Table{Name: "t", Columns: []schema.Column{{Name: "id", Type: schema.Int}}}
	if _, err := dbs[0].EnsureTable(ctx, base); err != nil {
		t.Fatal(err)
	}
	var dests []destination.Driver
	var tables []schema.Table
	for i, db := range dbs {
		for j := range 2 {
			// Overlapping column sets, in different orders.
			wider := base
			for k := range 10 {
				n := (k + 3*i + j) % 12
				wider.Columns = append(wider.Columns, schema.Column{Name: fmt.Sprintf("c%d", n), Type: schema.Text})
			}
			wider.Columns = append(wider.Columns, schema.Column{Name: "at", Type: schema.Timestamp})
			wider.TimestampColumn = "at"
			dests, tables = append(dests, db), append(tables, wider)
		}
	}
	destinationtest.EnsureConcurrently(t, dests, tables)
	got, _, err := dbs[2].Describe(ctx, "t")
	if err != nil || len(got.Columns) != 14 || got.TimestampColumn != "at" {
		t.Fatalf("table = %+v, err %v", got, err)
	}
}

// A table as wide as the dialect allows holds rows whose every text value
// stays in the row page (up to 40 bytes).
func TestWidestTable(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	tbl := schema.Table{Name: "wide", PrimaryKey: []string{"id"}}
	tbl.Columns = append(tbl.Columns, schema.Column{Name: "id", Type: schema.Text})
	// As many text columns as the row size budget allows.
	for i := 1; i < dialect.MaxRowBytes/dialect.TypeBytes[schema.Text]; i++ {
		tbl.Columns = append(tbl.Columns, schema.Column{Name: fmt.Sprintf("field_%d", i), Type: schema.Text})
	}
	half := tbl
	half.Columns = tbl.Columns[:len(tbl.Columns)/2]
	if _, err := db.EnsureTable(ctx, half); err != nil {
		t.Fatal(err)
	}
	tbl, err := db.EnsureTable(ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]any, len(tbl.Columns))
	row[0] = strings.Repeat("k", 255)
	for i := 1; i < len(row); i++ {
		row[i] = strings.Repeat("é", 20)
	}
	if err := destinationtest.Write(ctx, db, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{row})}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	destinationtest.Equal(t, destinationtest.Query(t, db.SQL(), "SELECT count(*) FROM wide"), [][]string{{"1"}})
}

func TestUnreachable(t *testing.T) {
	good := testConfig(t)
	const password = "hunter2-very-secret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	cases := map[string]func(c *destination.Config){
		"wrong password":   func(c *destination.Config) { c.Credentials.Password = password },
		"missing database": func(c *destination.Config) { c.Credentials.Database = "sf_no_such_db" },
		"closed port":      func(c *destination.Config) { c.Credentials.Port = closedPort; c.Credentials.Password = password },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			c := good
			mod(&c)
			var logs bytes.Buffer
			db, err := New(context.Background(), c, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("New: %v (want a DB that reports the outage when used)", err)
			}
			defer db.Close()
			errs := []error{db.Ping(context.Background())}
			_, _, err = db.Describe(context.Background(), "events")
			errs = append(errs, err)
			errs = append(errs, destinationtest.Write(context.Background(), db, schema.Batch{Table: destinationtest.Events(), Rows: schematest.Rows([][]any{{int64(1), "x", nil, nil, nil, nil}})}, destination.LoadOptions{}))
			for _, err := range errs {
				if err == nil || errors.Is(err, destination.ErrData) {
					t.Fatalf("err = %v, want an outage", err)
				}
				msg := err.Error()
				t.Log(msg)
				for _, part := range []string{c.Credentials.Host, c.Credentials.Database, "user " + c.Credentials.Username} {
					if !strings.Contains(msg, part) {
						t.Errorf("error %q does not name %q", msg, part)
					}
				}
				if strings.Contains(msg, password) {
					t.Errorf("error leaks the password: %q", msg)
				}
			}
			if strings.Contains(logs.String(), password) {
				t.Errorf("logs leak the password: %s", logs.String())
			}
		})
	}
}

func TestParameters(t *testing.T) {
	c := testConfig(t)
	c.Credentials.Parameters = map[string]string{"timeout": "3s", "parseTime": "false"}
	db := openConfig(t, c)
	tbl, err := db.EnsureTable(context.Background(), destinationtest.Events())
	if err != nil {
		t.Fatal(err)
	}
	// bulker's own settings win over the parameters.
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := destinationtest.Write(context.Background(), db, schema.Batch{Table: tbl, Rows: schematest.Rows([][]any{{int64(1), "x", nil, nil, at, nil}})}, destination.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	var got time.Time
	if err := db.SQL().QueryRow("SELECT at FROM events").Scan(&got); err != nil || !got.Equal(at) {
		t.Fatalf("at = %v, %v", got, err)
	}
	c.Credentials.Parameters = map[string]string{"timeout": "forever"}
	if _, err := New(context.Background(), c, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("bad parameter accepted")
	}
}
