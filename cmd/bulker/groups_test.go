package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// rowsLoaded sums bulker_rows_loaded_total in p's /metrics.
func (p *proc) rowsLoaded() float64 {
	p.t.Helper()
	_, body := p.do("GET", "/metrics", "", "")
	var total float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "bulker_rows_loaded_total{") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			total += v
		}
	}
	return total
}

// Three replicas share a six-partition topic through the consumer group:
// each loads a part; one is killed mid-run, the others take its
// partitions over, and every acknowledged event is in PostgreSQL once.
func TestThreeReplicasShareSixPartitions(t *testing.T) {
	pg, dest, table := pgStream(t, "pgr", "shared", `,"primaryKey":"id","deduplicate":true`)
	k := brokertest.Start(t)
	var replicas []*proc
	for i := range 3 {
		replicas = append(replicas, start(t, append(brokerEnv(k), dest, "BULKER_DATA_DIR="+t.TempDir(),
			"BULKER_KAFKA_TOPIC_PARTITIONS=6", fmt.Sprintf("BULKER_INSTANCE_ID=replica-%d", i))...))
	}

	// Clients post to every replica in turn; only answered events count.
	var mu sync.Mutex
	acked := map[int]bool{}
	next := 0
	post := func(to []*proc, n int) {
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				client := &http.Client{Timeout: 5 * time.Second}
				for range n / 6 {
					mu.Lock()
					id := next
					next++
					mu.Unlock()
					p := to[(id+w)%len(to)]
					resp, err := client.Post(p.url("/post/pgr?tableName=shared"), "application/json", strings.NewReader(fmt.Sprintf(`{"id":%d}`, id)))
					if err != nil {
						continue // a killed replica
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	loaded := func() bool {
		if count(pg, table) < len(acked) {
			return false
		}
		got := map[int]bool{}
		for _, r := range queryRows(t, pg, "SELECT id FROM "+table) {
			var id int
			fmt.Sscan(r[0], &id)
			got[id] = true
		}
		for id := range acked {
			if !got[id] {
				return false
			}
		}
		return true
	}

	post(replicas, 600)
	wait.For(t, 30*time.Second, "every replica loads a part of the topic", func() bool {
		for _, r := range replicas {
			if r.rowsLoaded() == 0 {
				return false
			}
		}
		return loaded()
	})

	// Kill one while the clients post; the others take its partitions over
	// once its session times out.
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(300 * time.Millisecond)
		replicas[2].stop(syscall.SIGKILL)
	}()
	post(replicas, 1200)
	<-killed
	post(replicas[:2], 300)
	wait.For(t, 40*time.Second, fmt.Sprintf("all %d acknowledged events loaded", len(acked)), loaded)
	// An event whose answer the kill cut off may be stored too.
	var rows, ids, maxID int
	if err := pg.QueryRow("SELECT COUNT(*), COUNT(DISTINCT id), MAX(id) FROM "+table).Scan(&rows, &ids, &maxID); err != nil {
		t.Fatal(err)
	}
	if rows != ids || maxID >= next {
		t.Fatalf("%d rows, %d distinct ids, max id %d; want each id once, below %d", rows, ids, maxID, next)
	}
	t.Logf("%d events acknowledged, %d rows", len(acked), rows)
}
