package main

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
)

// A Jitsu Bulker install moves over: Jitsu's documented environment
// (BULKER_KAFKA_BOOTSTRAP_SERVERS, hashed BULKER_AUTH_TOKENS with
// BULKER_TOKEN_SECRET, BULKER_DESTINATION_* JSON with an id), the tables
// Jitsu made, and Jitsu's topics still holding events — a plain name and
// the .b64. one Jitsu gives a table name that cannot be a topic name, for
// a batch (PostgreSQL) and a stream (MySQL) destination — and its retry
// topic. Bulker loads
// every queued event exactly once, into the existing columns, takes new
// events with the old token, and a restart loads nothing again.
func TestMigrationFromJitsuBulker(t *testing.T) {
	pg, my := postgresJitsu(t), mysqlJitsu(t)
	for _, j := range []jitsuDB{pg, my} {
		j.create(t, "Events", true)
		j.create(t, "Page Views", false)
	}
	k := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	b64 := base64.RawURLEncoding.EncodeToString([]byte("Page Views"))
	queued := map[string][]string{
		"in.id.pg_prod.m.batch.t.Events":       {jitsuEvent("p1", 1, "1.5"), jitsuEvent("p2", 2, "2")},
		"in.id.pg_prod.m.batch.b64." + b64:     {jitsuEvent("p3", 3, "3.5")},
		"in.id.mysql_prod.m.stream.t.Events":   {jitsuEvent("s1", 11, "11.5")},
		"in.id.mysql_prod.m.stream.b64." + b64: {jitsuEvent("s2", 12, "12"), jitsuEvent("s3", 13, "13.25")},
	}
	produceJitsu(t, k, queued, nil)
	// An event Jitsu put in its retry topic, due: it goes back to its
	// topic and loads.
	produceJitsu(t, k, map[string][]string{"destination-messages-retry": {jitsuEvent("p0", 0, "0.5")}}, []kafka.Header{
		{Key: "original_topic", Value: []byte("in.id.pg_prod.m.batch.t.Events")},
		{Key: "retries", Value: []byte("1")},
		{Key: "error", Value: []byte("pq: connection refused")},
		{Key: "retry_time", Value: []byte(time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000000Z"))},
	})

	const token, salt, secret = "jitsu-token_1", "a1b2c3", "jitsu-secret"
	sum := sha512.Sum512([]byte(token + salt + secret))
	env := []string{
		"BULKER_KAFKA_BOOTSTRAP_SERVERS=" + k.Addr(),
		"BULKER_AUTH_TOKENS=" + salt + "." + hex.EncodeToString(sum[:]),
		"BULKER_TOKEN_SECRET=" + secret,
		"BULKER_INSTANCE_ID=bulker-1",
		"BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC=1",
		"BULKER_DATA_DIR=" + t.TempDir(),
		`BULKER_DESTINATION_POSTGRES={"id":"pg_prod","type":"postgres","options":{"mode":"batch","batchSize":10000,"timestampColumn":"_timestamp"},"credentials":` + pg.creds + `}`,
		`BULKER_DESTINATION_MYSQL={"id":"mysql_prod","type":"mysql","options":{"mode":"stream"},"credentials":` + my.creds + `}`,
	}
	b := start(t, env...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	type row struct {
		j         jitsuDB
		table, id string
		user      int
		price     string
	}
	rows := []row{
		{pg, "Events", "p0", 0, "0.5"}, {pg, "Events", "p1", 1, "1.5"}, {pg, "Events", "p2", 2, "2"}, {pg, "Page Views", "p3", 3, "3.5"},
		{my, "Events", "s1", 11, "11.5"}, {my, "Page Views", "s2", 12, "12"}, {my, "Page Views", "s3", 13, "13.25"},
	}
	for _, r := range rows {
		checkJitsuRow(t, r.j, r.table, r.id, jitsuWant(r.j.name, r.id, r.user, r.price))
	}

	// New events, with the token Jitsu's clients already hold.
	b.mustPost("pg_prod", "Page%20Views", jitsuEvent("p4", 4, "4"), token)
	b.mustPost("mysql_prod", "Events", jitsuEvent("s4", 14, "14"), token)
	checkJitsuRow(t, pg, "Page Views", "p4", jitsuWant(pg.name, "p4", 4, "4"))
	checkJitsuRow(t, my, "Events", "s4", jitsuWant(my.name, "s4", 14, "14"))

	// A restart loads nothing twice ("Page Views" has no primary key to
	// absorb a duplicate).
	b.stop(syscall.SIGTERM)
	b = start(t, env...)
	b.mustPost("pg_prod", "Events", jitsuEvent("p5", 5, "5"), token)
	checkJitsuRow(t, pg, "Events", "p5", jitsuWant(pg.name, "p5", 5, "5"))
	want := map[string]int{"postgres Events": 4, "postgres Page Views": 2, "mysql Events": 2, "mysql Page Views": 2}
	for _, j := range []jitsuDB{pg, my} {
		for _, table := range []string{"Events", "Page Views"} {
			key := j.name + " " + table
			if n := count(j.db, j.quoted(table)); n != want[key] {
				t.Errorf("%s: %d rows, want %d", key, n, want[key])
			}
			if cols := j.columns(t, table); !slices.Equal(cols, jitsuColumns) {
				t.Errorf("%s: columns %v, want Jitsu's only", key, cols)
			}
		}
		if tables := j.tables(t); !slices.Equal(slices.Sorted(slices.Values(tables)), []string{"Events", "Page Views", "_streamforge_columns"}) {
			t.Errorf("%s: tables %v, want Jitsu's and bulker's record of keys only", j.name, tables)
		}
	}

	// POST /test, with the body Jitsu's console sends: the destination
	// answers, a missing database is told.
	test := `{"id":"pg_prod","destinationType":"postgres",` + strings.TrimPrefix(pg.creds, "{")
	if code, body := b.do("POST", "/test", test, token); code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("POST /test: %d %s", code, body)
	}
	bad := strings.Replace(test, `"database":"`, `"database":"nosuchdb_`, 1)
	if code, body := b.do("POST", "/test", bad, token); code != http.StatusUnprocessableEntity || !strings.Contains(body, "nosuchdb_") {
		t.Errorf("POST /test of a missing database: %d %s", code, body)
	}
}

// produceJitsu writes each topic's events as Jitsu Bulker does: the body as
// the value, a random key, and the headers.
func produceJitsu(t *testing.T, k *brokertest.Cluster, byTopic map[string][]string, headers []kafka.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := k.Client(t)
	n := 0
	for topic, events := range byTopic {
		for _, e := range events {
			n++
			if err := cl.Produce(ctx, topic, []byte(fmt.Sprintf("key-%d", n)), []byte(e), headers); err != nil {
				t.Fatal(err)
			}
		}
	}
}
