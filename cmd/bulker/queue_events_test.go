package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/wait"
)

// readmeQuery returns the README's SQL block that reads queue_events.
func readmeQuery(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(readme), "```sql\n")[1:] {
		q, _, _ := strings.Cut(block, "```")
		if strings.Contains(q, "FROM queue_events") {
			return q
		}
	}
	t.Fatal("README has no ```sql block reading queue_events")
	return ""
}

// The README's example: two real dummy-service runs — one loads, answers
// pings and finishes, one fails — reach a queue_events table through a
// source on queue-events, and the README's query shows each queue's last
// status, records written and ping delays.
func TestDummyServiceEventsQueryableInSQL(t *testing.T) {
	query := readmeQuery(t)
	pg, u := postgresServer(t)
	schema := randomName("queue_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	k := brokertest.Start(t)
	b := start(t, secureEnv(t, k,
		`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"batch","frequency":0.01},"credentials":`+creds+`}`,
		`BULKER_SOURCE_QUEUE_EVENTS={"topic":"queue-events","destination":"pg","table":"queue_events"}`,
	)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})

	dir := t.TempDir()
	dummy := filepath.Join(dir, "dummy-service")
	if out, err := exec.Command("go", "build", "-o", dummy, "../dummy-service").CombinedOutput(); err != nil {
		t.Fatalf("building dummy-service: %v\n%s", err, out)
	}
	run := func(queue string, args ...string) (*exec.Cmd, chan error) {
		cmd := exec.Command(dummy, append(args, "--metrics-addr", "127.0.0.1:0")...)
		cmd.Env = append(slices.Clone(k.Env), "QUEUE_ID="+queue, "SYMBOL=BTCUSDT", "TYPE=api", "PATH="+os.Getenv("PATH"))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			if t.Failed() {
				t.Logf("dummy-service %s:\n%s", queue, out.String())
			}
		})
		return cmd, done
	}
	_, q1 := run("q1", "--simulate-loading", "--loading-interval", "300ms", "--exit-after", "4")
	_, q2 := run("q2", "--fail-after", "1")

	// Pings until q1 has answered one: it reads commands from the end of
	// queue-control, so pings sent before it joined are not for it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	table := schema + ".queue_events"
	control := k.Client(t)
	for pongs := 0; pongs < 3; {
		sent := float64(time.Now().UnixMicro())/1e6 + 0.000001 // never a whole second
		ping := fmt.Sprintf(`{"queue_id":"q1","command":"ping","sent_at":%s}`, strconv.FormatFloat(sent, 'f', 6, 64))
		if err := control.Produce(ctx, "queue-control", nil, []byte(ping), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("q1 answered no ping")
		case <-time.After(300 * time.Millisecond):
		}
		rows := queryRowsOr(pg, "SELECT count(*) FROM "+table+" WHERE event = 'pong'")
		if len(rows) == 1 {
			pongs, _ = strconv.Atoi(rows[0][0])
		}
	}
	for name, done := range map[string]chan error{"q1": q1, "q2": q2} {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("dummy-service %s did not end", name)
		}
	}
	wait.For(t, 30*time.Second, "both runs' terminal events loaded", func() bool {
		rows := queryRowsOr(pg, "SELECT count(*) FROM "+table+" WHERE event IN ('finished', 'error')")
		return len(rows) == 1 && rows[0][0] == "2"
	})

	conn, err := pg.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET search_path TO "+schema); err != nil {
		t.Fatal(err)
	}
	rs, err := conn.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("README query: %v\n%s", err, query)
	}
	defer rs.Close()
	got := map[string][]string{}
	for rs.Next() {
		var queue, status string
		var written, pongs *int64
		var avg, maxMs *float64
		var last time.Time
		if err := rs.Scan(&queue, &status, &written, &pongs, &avg, &maxMs, &last); err != nil {
			t.Fatal(err)
		}
		got[queue] = []string{status, fmt.Sprint(deref(written)), fmt.Sprint(min(deref(pongs), 3)), fmt.Sprint(avg != nil && *avg >= 0 && maxMs != nil && *maxMs >= *avg)}
		t.Logf("%s | %s | %v | %v | %v | %v | %s", queue, status, deref(written), deref(pongs), fmtMs(avg), fmtMs(maxMs), last.UTC().Format(time.RFC3339))
		if time.Since(last) > time.Minute || time.Since(last) < 0 {
			t.Errorf("queue %s: last event at %s, want within the last minute", queue, last)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if q := got["q1"]; len(q) != 4 || q[0] != "finished" || q[1] == "0" || q[2] != "3" || q[3] != "true" {
		t.Errorf("q1 = %v, want finished, records written, 3 or more pongs and their delays", q)
	}
	if q := got["q2"]; len(q) != 4 || q[0] != "error" || q[2] != "0" || q[3] != "false" {
		t.Errorf("q2 = %v, want error and no pongs", q)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func fmtMs(p *float64) string {
	if p == nil {
		return "NULL"
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}
