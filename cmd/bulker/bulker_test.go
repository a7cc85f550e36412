package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/wait"
)

// The README's quick start: nothing configured, one POST, the row is in
// data/local.db and /events lists it.
func TestQuickStartWithNothingConfigured(t *testing.T) {
	dir := t.TempDir()
	b := start(t, "BULKER_DATA_DIR="+dir, "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t))
	if !strings.HasPrefix(b.addr, "127.0.0.1:") {
		t.Fatalf("without a token bulker must listen on loopback only, got %s", b.addr)
	}
	if !strings.Contains(b.output(), "no API token configured") {
		t.Error("bulker must warn that the API is open")
	}
	b.mustPost("local", "events", `{"user_id":123,"action":"test"}`, "")

	db := openSQLite(t, filepath.Join(dir, "local.db"))
	wait.For(t, 20*time.Second, "the row is in data/local.db", func() bool { return count(db, "events") == 1 })
	rows := queryRows(t, db, "SELECT user_id, action FROM events")
	if rows[0][0] != "123" || rows[0][1] != "test" {
		t.Fatalf("row = %v", rows[0])
	}
	wait.For(t, 5*time.Second, "/events shows the event loaded", func() bool {
		for _, e := range b.events("?destination=local&table=events", "") {
			if e.Status == "loaded" && strings.Contains(string(e.Body), `"user_id":123`) {
				return true
			}
		}
		return false
	})
	for _, path := range []string{"/ready", "/health", "/metrics"} {
		if code, body := b.do("GET", path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, code, body)
		}
	}
}

// secureBulker runs bulker against a TLS + SCRAM-SHA-512 broker with API
// tokens on and the given destinations.
func secureBulker(t *testing.T, dests ...string) (*proc, *brokertest.Cluster) {
	k := brokertest.Start(t)
	env := append(brokerEnv(k), "BULKER_RAW_AUTH_TOKENS="+apiToken, "BULKER_DATA_DIR="+t.TempDir())
	return start(t, append(env, dests...)...), k
}

// brokerEnv is bulker's configuration for the test broker k.
func brokerEnv(k *brokertest.Cluster) []string {
	sasl := fmt.Sprintf(`{"mechanism":"SCRAM-SHA-512","username":%q,"password":%q}`, brokertest.User, brokertest.Password)
	return []string{
		"BULKER_KAFKA_BOOTSTRAP_SERVERS=" + k.Addr(),
		"BULKER_KAFKA_SSL=true",
		"BULKER_KAFKA_SSL_CA_FILE=" + k.CAPath,
		"BULKER_KAFKA_SASL=" + sasl,
	}
}

const apiToken = "tok-4f1c2d9e"

func TestSchemaManagementIntoSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lite.db")
	b, _ := secureBulker(t, `BULKER_DESTINATION_LITE={"type":"sqlite","options":{"mode":"batch","frequency":0.01},"credentials":{"database":"`+path+`"}}`)
	events := []string{
		`{"id":1,"user":{"name":"Ann","address":{"city":"Oslo"}},"tags":["a",1],"score":1,"paid":true,"at":"2024-05-01T10:00:00+02:00","__sql_type_code":"varchar(4)","code":"ab"}`,
		`{"id":2,"user":{"name":"Бор"},"score":2.5,"paid":false,"props":{"__sql_type":"json","x":{"y":1}}}`,
	}
	for _, e := range events {
		b.mustPost("lite", "orders", e, apiToken)
	}
	db := openSQLite(t, path)
	wait.For(t, 20*time.Second, "both rows loaded", func() bool { return count(db, "orders") == 2 })
	// A value the stored column cannot take is kept in _unmapped_data.
	b.mustPost("lite", "orders", `{"id":3,"paid":"not a bool"}`, apiToken)
	wait.For(t, 20*time.Second, "third row loaded", func() bool { return count(db, "orders") == 3 })

	types := map[string]string{}
	for _, r := range queryRows(t, db, "SELECT name, type FROM pragma_table_info('orders')") {
		types[r[0]] = r[1]
	}
	for col, want := range map[string]string{
		"id": "BIGINT", "user_name": "TEXT", "user_address_city": "TEXT", "tags": "JSON", "score": "REAL",
		"paid": "BOOLEAN", "at": "TIMESTAMP", "code": "varchar(4)", "props": "json", "_unmapped_data": "JSON",
	} {
		if !strings.EqualFold(types[col], want) {
			t.Errorf("column %s has type %q, want %q (all: %v)", col, types[col], want, types)
		}
	}
	rows := queryRows(t, db, `SELECT user_name, tags, score, at, props, _unmapped_data FROM orders ORDER BY id`)
	if rows[0][0] != "Ann" || rows[1][0] != "Бор" {
		t.Errorf("names = %q, %q", rows[0][0], rows[1][0])
	}
	if rows[0][1] != `["a",1]` {
		t.Errorf("array stored as %q, want JSON", rows[0][1])
	}
	if rows[0][2] != "1" || rows[1][2] != "2.5" {
		t.Errorf("score widened to float: %q %q", rows[0][2], rows[1][2])
	}
	if !strings.HasPrefix(rows[0][3], "2024-05-01T08:00:00") {
		t.Errorf("timestamp not normalised to UTC: %q", rows[0][3])
	}
	if rows[1][4] != `{"x":{"y":1}}` {
		t.Errorf("hinted object stored as %q, want it whole", rows[1][4])
	}
	var unmapped map[string]any
	if err := json.Unmarshal([]byte(rows[2][5]), &unmapped); err != nil || unmapped["paid"] != "not a bool" {
		t.Errorf("_unmapped_data = %q, want the conflicting value kept", rows[2][5])
	}
	if strings.Contains(b.output(), brokertest.Password) || strings.Contains(b.output(), apiToken) {
		t.Error("a secret appears in the logs")
	}
}

func TestAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lite.db")
	b, _ := secureBulker(t, `BULKER_DESTINATION_LITE={"type":"sqlite","credentials":{"database":"`+path+`"}}`)
	if strings.HasPrefix(b.addr, "127.0.0.1:") {
		t.Errorf("with tokens configured bulker listens on all interfaces by default, got %s", b.addr)
	}
	for _, tt := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "nope-" + apiToken}} {
		code, body := b.post("lite", "t", `{"a":1}`, tt.token)
		if code != http.StatusUnauthorized || strings.Contains(body, apiToken) {
			t.Errorf("%s: %d %s", tt.name, code, body)
		}
	}
	code, body := b.do("GET", "/events", "", "")
	if code != http.StatusUnauthorized {
		t.Errorf("/events without token: %d %s", code, body)
	}
	if code, _ := b.do("GET", "/health", "", ""); code != http.StatusOK {
		t.Errorf("/health must not need a token, got %d", code)
	}
	b.mustPost("lite", "t", `{"a":1}`, apiToken)
	for _, e := range b.events("", apiToken) {
		if e.Table == "t" && strings.Contains(string(e.Body), `"a":1`) {
			return
		}
	}
	t.Error("the accepted event is not in /events")
}

func TestBadInput(t *testing.T) {
	b := start(t, "BULKER_DATA_DIR="+t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t), "BULKER_MAX_EVENT_SIZE=1024")
	tests := []struct {
		name, dest, table, body string
		code                    int
		msg                     string
	}{
		{"invalid JSON", "local", "t", `{"a":`, 400, "JSON"},
		{"array", "local", "t", `[{"a":1}]`, 400, "object"},
		{"scalar", "local", "t", `42`, 400, "object"},
		{"invalid UTF-8", "local", "t", "{\"a\":\"\xff\"}", 400, "UTF-8"},
		{"no table", "local", "", `{"a":1}`, 400, "tableName"},
		{"unknown destination", "nope", "t", `{"a":1}`, 404, "nope"},
		{"too large", "local", "t", `{"a":"` + strings.Repeat("x", 2000) + `"}`, 413, ""},
	}
	for _, tt := range tests {
		code, body := b.post(tt.dest, tt.table, tt.body, "")
		if code != tt.code || !strings.Contains(body, `"success":false`) || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tt.name, code, body, tt.code, tt.msg)
		}
	}
}

// kill -9 while clients post: after a restart every acknowledged event is
// in the table.
func TestKill9LosesNoAcknowledgedEvent(t *testing.T) {
	dir, kafkaAddr := t.TempDir(), freeAddr(t)
	env := []string{"BULKER_DATA_DIR=" + dir, "BULKER_EMBEDDED_KAFKA_ADDR=" + kafkaAddr}
	b := start(t, env...)

	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"n":%d,"payload":"x"}`, i)
				resp, err := client.Post(b.url("/post/local?tableName=load"), "application/json", strings.NewReader(body))
				if err != nil {
					return // bulker is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		}()
	}
	wait.For(t, 30*time.Second, "some events acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 300
	})
	b.stop(syscall.SIGKILL)
	close(stop)
	wg.Wait()

	b2 := start(t, env...)
	db := openSQLite(t, filepath.Join(dir, "local.db"))
	wait.For(t, 60*time.Second, fmt.Sprintf("all %d acknowledged events loaded", len(acked)), func() bool {
		if count(db, "load") < len(acked) {
			return false
		}
		got := map[int]bool{}
		for _, r := range queryRows(t, db, "SELECT n FROM load") {
			var n int
			fmt.Sscan(r[0], &n)
			got[n] = true
		}
		for n := range acked {
			if !got[n] {
				return false
			}
		}
		return true
	})
	b2.stop(syscall.SIGTERM)
	if !strings.Contains(b2.output(), "bulker stopped") {
		t.Errorf("SIGTERM did not shut down gracefully:\n%s", b2.output())
	}
}

// Destinations read from a config source appear and disappear while bulker
// runs; their loaders start and stop with them.
func TestDestinationsAppearAndDisappear(t *testing.T) {
	dir := t.TempDir()
	cfgPath, dbPath := filepath.Join(dir, "bulker.yaml"), filepath.Join(dir, "late.db")
	writeFile(t, cfgPath, "destinations: {}\n")
	b := start(t, "BULKER_DATA_DIR="+dir, "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		"BULKER_CONFIG_SOURCE=file://"+cfgPath, "BULKER_CONFIG_RELOAD_SEC=1")
	if code, _ := b.post("late", "t", `{"a":1}`, ""); code != http.StatusNotFound {
		t.Fatalf("unconfigured destination: %d, want 404", code)
	}
	writeFile(t, cfgPath, "destinations:\n  late:\n    type: sqlite\n    options: {frequency: 0.01}\n    credentials: {database: "+dbPath+"}\n")
	wait.For(t, 15*time.Second, "the new destination accepts events", func() bool {
		code, _ := b.post("late", "t", `{"a":1}`, "")
		return code == http.StatusOK
	})
	db := openSQLite(t, dbPath)
	wait.For(t, 20*time.Second, "its loader loads them", func() bool { return count(db, "t") >= 1 })
	writeFile(t, cfgPath, "destinations: {}\n")
	wait.For(t, 15*time.Second, "the removed destination is refused", func() bool {
		code, _ := b.post("late", "t", `{"a":1}`, "")
		return code == http.StatusNotFound
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With BULKER_REDIS_URL the events log lives in Redis: it outlives a
// restart and is shared by instances.
func TestEventsLogInRedis(t *testing.T) {
	addr := os.Getenv("STREAMFORGE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	dir, id := t.TempDir(), strings.ToLower(randomName("r"))
	env := []string{"BULKER_DATA_DIR=" + dir, "BULKER_EMBEDDED_KAFKA_ADDR=" + freeAddr(t), "BULKER_REDIS_URL=redis://" + addr + "/0",
		"BULKER_DESTINATION_" + strings.ToUpper(id) + `={"type":"sqlite","options":{"frequency":0.01},"credentials":{"database":"` + filepath.Join(dir, "r.db") + `"}}`}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	t.Cleanup(func() { rdb.Del(context.Background(), "bulker:events:dest:"+id, "bulker:events:failures:"+id) })

	b := start(t, env...)
	b.mustPost(id, "t", `{"kept":"in redis"}`, "")
	wait.For(t, 20*time.Second, "loaded entry listed", func() bool {
		es := b.events("?destination="+id+"&status=loaded", "")
		return len(es) == 1 && strings.Contains(string(es[0].Body), "in redis")
	})
	b.stop(syscall.SIGTERM)
	b2 := start(t, env...)
	if es := b2.events("?destination="+id, ""); len(es) != 2 {
		t.Fatalf("after a restart /events lists %d entries, want the accepted and the loaded one", len(es))
	}
}

// An invalid destination stops start-up at once, naming the destination and
// the field, before the embedded broker is started.
// A destination bulker cannot use stops start-up, naming where it was
// configured and the field, never the password; keys bulker does not know
// are named in a warning.
func TestInvalidDestinationFailsStartup(t *testing.T) {
	for _, tt := range []struct {
		name, dest string
		want       []string
	}{
		{"bad option", `{"type":"postgres","options":{"mode":"sometimes"},"credentials":{"password":"pw-do-not-print"}}`,
			[]string{"destination pg", "options.mode"}},
		{"missing database", `{"type":"postgres","credentials":{"host":"127.0.0.1","password":"pw-do-not-print"}}`,
			[]string{"BULKER_DESTINATION_PG", "credentials.database"}},
		{"sslMode that cannot apply", `{"type":"sqlite","credentials":{"database":"x.db","sslMode":"require","password":"pw-do-not-print"}}`,
			[]string{"BULKER_DESTINATION_PG", "sslMode"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bulkerBin)
			cmd.Env = []string{"BULKER_DATA_DIR=" + t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR=" + freeAddr(t), "BULKER_DESTINATION_PG=" + tt.dest}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("bulker with an invalid destination: %v\n%s", err, out)
			}
			s := string(out)
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("output does not name %q", w)
				}
			}
			if strings.Contains(s, "pw-do-not-print") || strings.Contains(s, "embedded") {
				t.Errorf("output shows the password or a started broker:\n%s", s)
			}
		})
	}
	b := start(t, "BULKER_DATA_DIR="+t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		`BULKER_DESTINATION_LITE={"type":"sqlite","options":{"mode":"batch","noSuchOption":true},"credentials":{"database":"`+filepath.Join(t.TempDir(), "l.db")+`"},"extra":1}`)
	wait.For(t, 10*time.Second, "a warning naming the unknown keys", func() bool {
		out := b.output()
		return strings.Contains(out, "destination keys not supported") && strings.Contains(out, "options.noSuchOption") && strings.Contains(out, `"extra"`)
	})
}
