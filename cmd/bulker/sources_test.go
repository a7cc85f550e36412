package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
	"github.com/streamforge/streamforge/internal/wait"
)

// produce writes values to topic on the test broker.
func produce(t *testing.T, k *brokertest.Cluster, topic string, values ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := k.Client(t)
	for _, v := range values {
		if err := c.Produce(ctx, topic, nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A topic bulker did not write is loaded into the table its source names,
// each record once — a restart loads nothing again — and a record that is
// not a JSON object is dead-lettered with its reason, as a bad /post
// event would be. A record header named like bulker's own does not count.
func TestSourceTopicLoadsExactlyOnce(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("src_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	const topic = "orders-from-elsewhere"
	k := brokertest.Start(t)
	var good []string
	for i := range 50 {
		good = append(good, fmt.Sprintf(`{"id":%d,"item":{"sku":"s-%d","qty":%d}}`, i, i, i%3+1))
	}
	produce(t, k, topic, good[:25]...)
	produce(t, k, topic, `not json`, `[1,2,3]`)
	// Headers another producer set, named as bulker's retry headers.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := k.Client(t)
	if err := c.Produce(ctx, topic, nil, []byte(good[25]), []kafka.Header{{Key: topics.HeaderAttempt, Value: []byte("99")}}); err != nil {
		t.Fatal(err)
	}

	env := secureEnv(t, k,
		`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"stream"},"credentials":`+creds+`}`,
		`BULKER_SOURCE_ORDERS={"topic":"`+topic+`","destination":"pg","table":"orders","mode":"batch"}`,
		"BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC=1",
		"BULKER_MESSAGES_RETRY_COUNT=0",
	)
	b := start(t, env...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	produce(t, k, topic, good[26:]...)
	table := schema + ".orders"
	wait.For(t, 60*time.Second, "every good record loaded", func() bool { return count(pg, table) == len(good) })
	rows := queryRows(t, pg, "SELECT count(DISTINCT id), sum(item_qty), min(item_sku) FROM "+table)
	if got := strings.Join(rows[0], "|"); got != "50|99|s-0" {
		t.Errorf("distinct ids | qty | min sku = %s, want 50|99|s-0", got)
	}
	dead := failedEvents(t, b, "/failed/pg?tableName=orders", 2)
	for _, e := range dead {
		if e.Attempts != 1 || !strings.Contains(e.Error, "pars") && !strings.Contains(e.Error, "object") {
			t.Errorf("dead record %s: attempts %d, error %q; want 1 attempt and why", e.Event, e.Attempts, e.Error)
		}
	}

	// Offsets were committed after the load: a new run reads nothing again.
	b.stop(syscall.SIGTERM)
	b = start(t, env...)
	produce(t, k, topic, `{"id":50,"item":{"sku":"s-50","qty":1}}`)
	wait.For(t, 60*time.Second, "the record produced after the restart loaded", func() bool { return count(pg, table) == len(good)+1 })
	time.Sleep(2 * time.Second) // a batch period more: nothing else arrives
	if n := count(pg, table); n != len(good)+1 {
		t.Errorf("%d rows after the restart, want %d: records were loaded twice", n, len(good)+1)
	}
}

// secureEnv is secureBulker's environment for broker k.
func secureEnv(t *testing.T, k *brokertest.Cluster, extra ...string) []string {
	sasl := fmt.Sprintf(`{"mechanism":"SCRAM-SHA-512","username":%q,"password":%q}`, brokertest.User, brokertest.Password)
	return append([]string{
		"BULKER_KAFKA_BOOTSTRAP_SERVERS=" + k.Addr(),
		"BULKER_KAFKA_SSL=true",
		"BULKER_KAFKA_SSL_CA_FILE=" + k.CAPath,
		"BULKER_KAFKA_SASL=" + sasl,
		"BULKER_RAW_AUTH_TOKENS=" + apiToken,
		"BULKER_DATA_DIR=" + t.TempDir(),
	}, extra...)
}

// failedLine is one line of GET /failed.
type failedLine struct {
	ID       string          `json:"id"`
	Table    string          `json:"table"`
	Error    string          `json:"error"`
	Attempts int             `json:"attempts"`
	Event    json.RawMessage `json:"event"`
	Replayed *time.Time      `json:"replayed"`
}

// failedEvents waits until GET path lists n failed events and returns them.
func failedEvents(t *testing.T, b *proc, path string, n int) []failedLine {
	t.Helper()
	var out []failedLine
	wait.For(t, 60*time.Second, strconv.Itoa(n)+" events listed by GET "+path, func() bool {
		code, body := b.do("GET", path, "", apiToken)
		out = out[:0]
		if code != http.StatusOK {
			return false
		}
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			if line == "" {
				continue
			}
			var e failedLine
			if json.Unmarshal([]byte(line), &e) != nil {
				return false
			}
			out = append(out, e)
		}
		return len(out) == n
	})
	return out
}

// A source bulker cannot load stops start-up, naming the variable or the
// source and what is wrong, before the embedded broker is started.
func TestInvalidSourceFailsStartup(t *testing.T) {
	for _, tt := range []struct {
		name, source string
		want         []string
	}{
		{"unknown destination", `{"topic":"queue-events","destination":"nowhere","table":"t"}`, []string{"source q", "destination nowhere is not configured"}},
		{"unknown key", `{"topic":"queue-events","destination":"lite","tabel":"t"}`, []string{"BULKER_SOURCE_Q", "unknown field", "tabel"}},
		{"bulker's own topic", `{"topic":"destination-messages-dead-letter","destination":"lite","table":"t"}`, []string{"source q", "one of bulker's own"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bulkerBin)
			cmd.Env = []string{"BULKER_DATA_DIR=" + t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR=" + freeAddr(t),
				`BULKER_DESTINATION_LITE={"type":"sqlite","credentials":{"database":"` + filepath.Join(t.TempDir(), "l.db") + `"}}`,
				"BULKER_SOURCE_Q=" + tt.source}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("bulker with an invalid source: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not name %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "embedded") {
				t.Errorf("a broker was started:\n%s", out)
			}
		})
	}
}

// Sources in the config file come and go with a reload: an added source
// loads what its topic holds, a removed one stops loading.
func TestSourcesAppearAndDisappear(t *testing.T) {
	dir := t.TempDir()
	cfgPath, dbPath := filepath.Join(dir, "bulker.yaml"), filepath.Join(dir, "lite.db")
	dests := "destinations:\n  lite:\n    type: sqlite\n    options: {frequency: 0.01}\n    credentials: {database: " + dbPath + "}\n"
	writeFile(t, cfgPath, dests)
	addr := freeAddr(t)
	b := start(t, "BULKER_DATA_DIR="+dir, "BULKER_EMBEDDED_KAFKA_ADDR="+addr,
		"BULKER_CONFIG_SOURCE=file://"+cfgPath, "BULKER_CONFIG_RELOAD_SEC=1")
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kafka.Connect(ctx, kafka.Config{Brokers: []string{addr}, ConnectTimeout: 10 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(v string) {
		if err := c.Produce(ctx, "clicks", nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"n":1}`)
	writeFile(t, cfgPath, dests+"sources:\n  - {id: clicks, topic: clicks, destination: lite, table: clicks}\n")
	db := openSQLite(t, dbPath)
	wait.For(t, 30*time.Second, "the added source loads its topic", func() bool { return count(db, "clicks") == 1 })
	send(`{"n":2}`)
	wait.For(t, 30*time.Second, "and what arrives next", func() bool { return count(db, "clicks") == 2 })

	writeFile(t, cfgPath, dests)
	wait.For(t, 15*time.Second, "the removed source's loader stopped", func() bool {
		return strings.Contains(b.output(), "source removed or changed")
	})
	send(`{"n":3}`)
	time.Sleep(3 * time.Second) // batch periods: nothing arrives
	if n := count(db, "clicks"); n != 2 {
		t.Errorf("%d rows after the source was removed, want 2", n)
	}
}
