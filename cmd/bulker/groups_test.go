package main

import (
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/wait"
)

// pgStream is a PostgreSQL destination in stream mode in a schema of its
// own, dropped after the test; it returns the destination variable and
// the qualified table name of table.
func pgStream(t *testing.T, id, table string, options string) (*sql.DB, string, string) {
	t.Helper()
	pg, u := postgresServer(t)
	schema := randomName("grp_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	dest := fmt.Sprintf(`BULKER_DESTINATION_%s={"type":"postgres","options":{"mode":"stream"%s},"credentials":%s}`, strings.ToUpper(id), options, creds)
	return pg, dest, schema + "." + table
}

// exactlyOnce fails the test unless table holds ids 0..n-1, each once.
func exactlyOnce(t *testing.T, pg *sql.DB, table string, n int) {
	t.Helper()
	rows := queryRows(t, pg, "SELECT COUNT(*), COUNT(DISTINCT id), COALESCE(MIN(id), -1), COALESCE(MAX(id), -1) FROM "+table)
	if want := []string{fmt.Sprint(n), fmt.Sprint(n), "0", fmt.Sprint(n - 1)}; strings.Join(rows[0], " ") != strings.Join(want, " ") {
		t.Fatalf("rows, distinct ids, min, max = %v; want %v", rows[0], want)
	}
}

// After kill -9 and an immediate restart (same BULKER_INSTANCE_ID, as a
// restarted container or pod has), loading resumes within seconds instead
// of waiting for the dead member of the consumer group to time out.
func TestKill9ThenRestartLoadsAtOnce(t *testing.T) {
	pg, dest, table := pgStream(t, "pgc", "crash", "")
	k := brokertest.Start(t)
	env := append(brokerEnv(k), "BULKER_DATA_DIR="+t.TempDir(), "BULKER_INSTANCE_ID=crash-1", dest)

	b := start(t, env...)
	for i := range 20 {
		b.mustPost("pgc", "crash", fmt.Sprintf(`{"id":%d}`, i), "")
	}
	wait.For(t, 30*time.Second, "the first events loaded", func() bool { return count(pg, table) == 20 })
	time.Sleep(500 * time.Millisecond) // their offsets are committed: nothing is loaded twice
	b.stop(syscall.SIGKILL)

	b = start(t, env...)
	restarted := time.Now()
	for i := 20; i < 40; i++ {
		b.mustPost("pgc", "crash", fmt.Sprintf(`{"id":%d}`, i), "")
	}
	// The dead member would hold the partition for the session timeout
	// (10 s) and a rebalance for up to the rebalance timeout (30 s).
	wait.For(t, 8*time.Second, "events posted after the restart loaded", func() bool { return count(pg, table) >= 40 })
	t.Logf("loading resumed %s after the restart", time.Since(restarted).Round(100*time.Millisecond))
	exactlyOnce(t, pg, table, 40)
}
