package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/wait"
)

// bulker starts with a Jitsu Bulker environment as it is: Jitsu's names of
// StreamForge's settings, Jitsu's variables without a meaning here (named
// as ignored, not unknown), and a destination of a type StreamForge lacks,
// which is reported — log, /ready, a metric, a 501 on /post — while the
// other destination loads.
func TestJitsuEnvironmentAndUnsupportedType(t *testing.T) {
	dir := t.TempDir()
	_, metricsPort, _ := net.SplitHostPort(freeAddr(t))
	b := start(t,
		"BULKER_DATA_DIR="+dir,
		"BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		"BULKER_METRICS_PORT="+metricsPort,
		"BULKER_LOG_FORMAT=json",
		"BULKER_CONFIG_REFRESH_PERIOD_SEC=1",
		"BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN=cfg-token",
		"BULKER_KAFKA_TOPIC_COMPRESSION=zstd",
		"BULKER_SHUTDOWN_EXTRA_DELAY_SEC=2",
		"BULKER_SHARDS=1",
		"BULKER_KAFKA_SESSION_TIMEOUT_MS=45000",
		`BULKER_DESTINATION_LITE={"type":"sqlite","usesBulker":true,"options":{"mode":"batch","frequency":0.02,"functions":[]},"credentials":{"database":"`+filepath.Join(dir, "lite.db")+`"}}`,
		`BULKER_DESTINATION_CH={"type":"clickhouse","options":{"mode":"batch"},"credentials":{"hosts":["ch:9000"],"password":"pw-do-not-print"}}`,
	)
	out := b.output()
	for _, want := range []string{
		"destination type not supported", `"type":"clickhouse"`,
		"Jitsu Bulker variables not supported here, ignored", "BULKER_SHARDS", "BULKER_KAFKA_SESSION_TIMEOUT_MS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unknown variable") || strings.Contains(out, "pw-do-not-print") || strings.Contains(out, "unknown destination keys") {
		t.Errorf("Jitsu's names reported as unknown, or a password shown:\n%s", out)
	}

	code, body := b.post("ch", "events", `{"id":1}`, "")
	if code != http.StatusNotImplemented || !strings.Contains(body, `type \"clickhouse\", which this bulker does not support`) {
		t.Errorf("POST to the clickhouse destination = %d %s, want 501 saying the type is not supported", code, body)
	}
	b.mustPost("lite", "events", `{"id":1}`, "")
	b.mustPost("LITE", "events", `{"id":2}`, "") // Jitsu's id keeps the variable's case
	db := openSQLite(t, filepath.Join(dir, "lite.db"))
	wait.For(t, 20*time.Second, "the other destination loads", func() bool { return count(db, "events") == 2 })

	if code, body := b.do("GET", "/ready", "", ""); code != http.StatusOK || !strings.Contains(body, `"unsupported":[{"destination":"ch","type":"clickhouse"`) {
		t.Errorf("GET /ready = %d %s, want 200 listing ch", code, body)
	}
	metricsURL := "http://127.0.0.1:" + metricsPort + "/metrics"
	if m := get(t, metricsURL); !strings.Contains(m, `bulker_destination_unsupported{destination="ch",type="clickhouse"} 1`) ||
		!strings.Contains(m, `bulker_rows_loaded_total{destination="lite",table="events"} 2`) {
		t.Errorf("BULKER_METRICS_PORT's /metrics lacks the unsupported destination or the loaded row:\n%s", m)
	}

	if r := get(t, "http://127.0.0.1:"+metricsPort+"/readyz"); r != "ready\n" {
		t.Errorf("/readyz on the metrics port = %q", r)
	}
	// BULKER_SHUTDOWN_EXTRA_DELAY_SEC: the metrics port outlives the rest.
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	wait.For(t, 20*time.Second, "the extra delay begins", func() bool { return strings.Contains(b.output(), "last scrape") })
	if m := get(t, metricsURL); !strings.Contains(m, "bulker_rows_loaded_total") {
		t.Errorf("during the extra delay the metrics port answers %q", m)
	}
	b.stop(syscall.SIGTERM)
}

// BULKER_ENABLE_CONSUMERS=false, as in Jitsu's split deployments: an
// instance that only takes events, and another, on the same Kafka, that
// loads them.
func TestAPIOnlyInstance(t *testing.T) {
	dir, kafkaAddr := t.TempDir(), freeAddr(t)
	dest := `BULKER_DESTINATION_LITE={"type":"sqlite","options":{"frequency":0.01},"credentials":{"database":"` + filepath.Join(dir, "lite.db") + `"}}`
	api := start(t, "BULKER_DATA_DIR="+dir, "BULKER_EMBEDDED_KAFKA_ADDR="+kafkaAddr, "BULKER_ENABLE_CONSUMERS=false", dest)
	api.mustPost("lite", "events", `{"id":1}`, "")
	time.Sleep(3 * time.Second) // five batch periods
	if _, err := os.Stat(filepath.Join(dir, "lite.db")); err == nil {
		db := openSQLite(t, filepath.Join(dir, "lite.db"))
		if n := count(db, "events"); n > 0 {
			t.Fatalf("the API-only instance loaded %d rows", n)
		}
	}
	loader := start(t, "BULKER_DATA_DIR="+t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR="+kafkaAddr, dest)
	db := openSQLite(t, filepath.Join(dir, "lite.db"))
	wait.For(t, 20*time.Second, "the loading instance loads the event", func() bool { return count(db, "events") == 1 })
	loader.stop(syscall.SIGTERM)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
