package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/destination/destinationtest"
	"github.com/streamforge/streamforge/internal/wait"
)

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// postgres returns a connection to the test server and the credentials
// JSON of a destination using schema (or database) on it.
func postgresServer(t *testing.T) (*sql.DB, *url.URL) {
	t.Helper()
	dsn := os.Getenv("STREAMFORGE_TEST_PG")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("STREAMFORGE_TEST_PG: %v", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("PostgreSQL at %s unreachable (STREAMFORGE_TEST_PG): %v", u.Host, err)
	}
	return db, u
}

func pgCredentials(u *url.URL, database, schema string) string {
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	pass, _ := u.User.Password()
	return fmt.Sprintf(`{"host":%q,"port":%s,"database":%q,"defaultSchema":%q,"username":%q,"password":%q,"parameters":{"sslmode":"disable"}}`,
		u.Hostname(), port, database, schema, u.User.Username(), pass)
}

func TestPostgresBatchDedupStreamAndDeadLetter(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("e2e_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	b, _ := secureBulker(t,
		`BULKER_DESTINATION_PGB={"type":"postgres","options":{"mode":"batch","frequency":0.01,"primaryKey":"id","deduplicate":true,"timestamp":"at"},"credentials":`+creds+`}`,
		`BULKER_DESTINATION_PGS={"type":"postgres","options":{"mode":"stream"},"credentials":`+creds+`}`,
		"BULKER_MESSAGES_RETRY_COUNT=0",
	)

	b.mustPost("pgb", "users", `{"id":1,"name":"a","big":9007199254740993,"at":"2024-01-01T10:00:00+02:00","ok":true,"score":1}`, apiToken)
	b.mustPost("pgb", "users", `{"id":1,"name":"b","score":1.5}`, apiToken) // lacks big and at: they keep their values
	b.mustPost("pgb", "users", `{"id":2,"name":"c","big":null}`, apiToken)
	table := schema + ".users"
	wait.For(t, 30*time.Second, "users deduplicated to 2 rows with the newest name", func() bool {
		rows := queryRowsOr(pg, "SELECT name FROM "+table+" WHERE id = 1")
		return count(pg, table) == 2 && len(rows) == 1 && rows[0][0] == "b"
	})
	rows := queryRows(t, pg, "SELECT id, name, big, at, ok, score FROM "+table+" ORDER BY id")
	if want := []string{"1", "b", "9007199254740993", "2024-01-01T08:00:00Z", "true", "1.5"}; strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("row 1 = %v, want %v", rows[0], want)
	}
	if rows[1][2] != "NULL" {
		t.Errorf("explicit null stored as %q", rows[1][2])
	}
	types := map[string]string{}
	for _, r := range queryRows(t, pg, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users'", schema) {
		types[r[0]] = r[1]
	}
	for col, want := range map[string]string{"id": "bigint", "name": "text", "big": "bigint", "at": "timestamp with time zone", "ok": "boolean", "score": "double precision"} {
		if types[col] != want {
			t.Errorf("column %s is %q, want %q", col, types[col], want)
		}
	}

	b.mustPost("pgs", "live", `{"msg":"now","n":1}`, apiToken)
	wait.For(t, 10*time.Second, "stream row visible", func() bool { return count(pg, schema+".live") == 1 })

	// One bad row (too long for its hinted column) goes to the dead-letter
	// topic with its reason; the others of its batch are loaded.
	b.mustPost("pgb", "codes", `{"id":10,"__sql_type_code":"varchar(4)","code":"fine"}`, apiToken)
	b.mustPost("pgb", "codes", `{"id":11,"__sql_type_code":"varchar(4)","code":"far too long"}`, apiToken)
	b.mustPost("pgb", "codes", `{"id":12,"code":"ok"}`, apiToken)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	wait.For(t, 30*time.Second, "good rows of the batch loaded", func() bool { return count(pg, schema+".codes") == 2 })
	type failedEvent struct {
		Table, Error string
		Event        json.RawMessage
	}
	var failed []failedEvent
	wait.For(t, 30*time.Second, "the bad row is listed as dead", func() bool {
		code, body := b.do("GET", "/failed/pgb?tableName=codes&status=dead", "", apiToken)
		failed = failed[:0]
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			var e failedEvent
			if code != http.StatusOK || json.Unmarshal([]byte(line), &e) != nil {
				return false
			}
			failed = append(failed, e)
		}
		return len(failed) == 1
	})
	if e := failed[0]; !strings.Contains(string(e.Event), "far too long") || !strings.Contains(e.Error, "too long") {
		t.Errorf("dead event = %s with error %q", e.Event, e.Error)
	}
	if strings.Contains(b.output(), brokertest.Password) {
		t.Error("a secret appears in the logs")
	}
}

// While the database is missing, events are accepted, kept in Kafka and
// the failure shows in /events; once it exists they land.
func TestPostgresOutageThenRecovery(t *testing.T) {
	pg, u := postgresServer(t)
	dbName := randomName("sf_e2e_")
	t.Cleanup(func() { pg.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)") })
	b, _ := secureBulker(t, `BULKER_DESTINATION_PG={"type":"postgres","options":{"frequency":0.01},"credentials":`+pgCredentials(u, dbName, "public")+`}`)
	for i := range 3 {
		b.mustPost("pg", "events", fmt.Sprintf(`{"i":%d}`, i), apiToken)
	}
	wait.For(t, 30*time.Second, "the outage shows in /events", func() bool {
		for _, e := range b.events("?destination=pg&status=failed", apiToken) {
			if strings.Contains(e.Error, dbName) {
				return true
			}
		}
		return false
	})
	if _, err := pg.Exec("CREATE DATABASE " + dbName); err != nil {
		t.Fatal(err)
	}
	target, err := sql.Open("pgx", strings.Replace(u.String(), u.Path, "/"+dbName, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	wait.For(t, 90*time.Second, "the kept events land once the database exists", func() bool { return count(target, "events") == 3 })
}

func TestMySQLDestination(t *testing.T) {
	dsn := os.Getenv("STREAMFORGE_TEST_MYSQL")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		t.Fatalf("MariaDB unreachable (STREAMFORGE_TEST_MYSQL): %v", err)
	}
	dbName := randomName("e2e_")
	if _, err := admin.Exec("CREATE DATABASE " + dbName + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + dbName) })
	user, hostPort := "root", "127.0.0.1:3306"
	if at := strings.Index(dsn, "@tcp("); at >= 0 {
		user = strings.SplitN(dsn[:at], ":", 2)[0]
		hostPort = dsn[at+5 : strings.Index(dsn, ")")]
	}
	host, port, _ := strings.Cut(hostPort, ":")
	b, _ := secureBulker(t, fmt.Sprintf(`BULKER_DESTINATION_MY={"type":"mysql","options":{"frequency":0.01,"primaryKey":"id","deduplicate":true},"credentials":{"host":%q,"port":%s,"database":%q,"username":%q}}`,
		host, port, dbName, user))
	b.mustPost("my", "Messages", `{"id":1,"text":"hi 🎉 — привет\nline 2","n":9223372036854775807}`, apiToken)
	b.mustPost("my", "Messages", `{"id":1,"seen":true}`, apiToken)
	db, err := sql.Open("mysql", strings.Replace(dsn, "/test", "/"+dbName, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wait.For(t, 30*time.Second, "the upserted row carries both events", func() bool {
		rows := queryRowsOr(db, "SELECT text, n, seen FROM messages WHERE id = 1")
		return len(rows) == 1 && rows[0][2] == "1"
	})
	rows := queryRows(t, db, "SELECT text, n FROM messages")
	if rows[0][0] != "hi 🎉 — привет\nline 2" || rows[0][1] != "9223372036854775807" {
		t.Errorf("row = %q", rows[0])
	}
}

// queryRowsOr is queryRows for polling: nil while the query fails.
func queryRowsOr(db *sql.DB, q string) [][]string {
	rows, _ := destinationtest.Rows(db, q)
	return rows
}

// POST /bulk replaces a whole table, or one partition of it, atomically;
// a bad line changes nothing.
func TestBulkReplaceTableAndPartition(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("e2e_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	b, _ := secureBulker(t, `BULKER_DESTINATION_PG={"type":"postgres","credentials":`+pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)+`}`)
	bulk := func(query, body string) (int, string) {
		return b.do("POST", "/bulk/pg?"+query, body, apiToken)
	}
	table := schema + ".prices"
	if code, body := bulk("tableName=prices&mode=replace_table", "{\"sku\":\"a\",\"p\":1}\n{\"sku\":\"b\",\"p\":2}\n"); code != http.StatusOK || !strings.Contains(body, `"count":2`) {
		t.Fatalf("replace_table: %d %s", code, body)
	}
	if code, _ := bulk("tableName=prices&mode=replace_table", "{\"sku\":\"c\",\"p\":3.5}\n"); code != http.StatusOK {
		t.Fatalf("second replace_table: %d", code)
	}
	if rows := queryRows(t, pg, "SELECT sku, p FROM "+table); len(rows) != 1 || rows[0][0] != "c" || rows[0][1] != "3.5" {
		t.Fatalf("after replace_table the table holds %v, want only c", rows)
	}
	if code, body := bulk("tableName=prices&mode=replace_table", "{\"sku\":\"d\"}\nnot json\n"); code != http.StatusBadRequest || !strings.Contains(body, "line 2") {
		t.Fatalf("bad line: %d %s", code, body)
	}
	if n := count(pg, table); n != 1 {
		t.Fatalf("a rejected bulk changed the table: %d rows", n)
	}

	for _, day := range []string{"d1", "d2"} {
		body := fmt.Sprintf("{\"day\":%q,\"n\":1}\n{\"day\":%q,\"n\":2}\n", day, day)
		if code, resp := bulk("tableName=daily&mode=replace_partition&partition="+day, body); code != http.StatusOK {
			t.Fatalf("replace_partition %s: %d %s", day, code, resp)
		}
	}
	if code, resp := bulk("tableName=daily&mode=replace_partition&partition=d1", "{\"day\":\"d1\",\"n\":9}\n"); code != http.StatusOK {
		t.Fatalf("replace_partition again: %d %s", code, resp)
	}
	rows := queryRows(t, pg, "SELECT day, n FROM "+schema+".daily ORDER BY day, n")
	if got := fmt.Sprint(rows); got != "[[d1 9] [d2 1] [d2 2]]" {
		t.Fatalf("after replacing partition d1: %s", got)
	}
}

// Events waiting in a destination's batch topic still load after its mode
// is changed to stream.
func TestModeChangeKeepsQueuedEvents(t *testing.T) {
	pg, u := postgresServer(t)
	dbName := randomName("sf_e2e_")
	t.Cleanup(func() { pg.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)") })
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bulker.yaml")
	dest := func(mode string) string {
		return `{"destinations":{"pg":{"type":"postgres","options":{"mode":"` + mode + `","frequency":0.01},"credentials":` +
			pgCredentials(u, dbName, "public") + `}}}`
	}
	writeFile(t, cfgPath, dest("batch"))
	b := start(t, "BULKER_DATA_DIR="+dir, "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		"BULKER_CONFIG_SOURCE=file://"+cfgPath, "BULKER_CONFIG_RELOAD_SEC=1", "BULKER_SHUTDOWN_TIMEOUT_SEC=1")
	for i := range 3 {
		b.mustPost("pg", "queued", fmt.Sprintf(`{"i":%d}`, i), "")
	}
	// The database does not exist yet: the events wait in the batch topic.
	wait.For(t, 30*time.Second, "the outage shows in /events", func() bool {
		return len(b.events("?destination=pg&status=failed", "")) > 0
	})
	writeFile(t, cfgPath, dest("stream"))
	// Only once the batch-mode loader has given up on its batch does the
	// database appear: the events are then only in the batch topic.
	wait.For(t, 30*time.Second, "the batch-mode loader stopped", func() bool {
		return strings.Contains(b.output(), "destination removed or changed, stopping its loader")
	})
	time.Sleep(2 * time.Second) // its one-second shutdown grace
	if _, err := pg.Exec("CREATE DATABASE " + dbName); err != nil {
		t.Fatal(err)
	}
	target, err := sql.Open("pgx", strings.Replace(u.String(), u.Path, "/"+dbName, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	wait.For(t, 90*time.Second, "the events queued in batch mode land after the switch to stream", func() bool {
		return count(target, "queued") == 3
	})
}
