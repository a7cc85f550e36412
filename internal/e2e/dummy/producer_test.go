package dummy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/control"
)

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

func TestDebugProducerAgainstService(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc, addr := startService(t, serviceEnv(c, "q-dp"))
	w.expect(t, "q-dp", control.EventStarted)

	dp := runProc(t, "debug-producer", c.Env, "--queue-id", "q-dp", "--command", "ping", "--expect-pong", "--repeat", "5", "--interval", "0.1")
	if dp.code != 0 {
		t.Fatalf("debug-producer exit code %d", dp.code)
	}
	out := dp.stdout.String()
	if n := strings.Count(out, "pong from q-dp: seq="); n != 5 {
		t.Fatalf("%d RTT lines, want 5:\n%s", n, out)
	}
	if !strings.Contains(out, "5 sent, 5 answered, 0 lost; rtt min/p50/p99/max = ") {
		t.Fatalf("no summary:\n%s", out)
	}

	// Machine-readable, with pings in flight together.
	dp = runProc(t, "debug-producer", c.Env, "--queue-id", "q-dp", "--expect-pong", "--repeat", "10", "--interval", "0", "--json")
	if dp.code != 0 {
		t.Fatalf("--json exit code %d", dp.code)
	}
	var pongs int
	var summary map[string]any
	for _, line := range strings.Split(strings.TrimSpace(dp.stdout.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		switch m["type"] {
		case "pong":
			if rtt, _ := m["rtt_ms"].(float64); rtt <= 0 {
				t.Fatalf("pong line without rtt: %v", m)
			}
			pongs++
		case "summary":
			summary = m
		}
	}
	if pongs != 10 || summary["answered"] != 10.0 || summary["lost"] != 0.0 || summary["p99_ms"].(float64) < summary["p50_ms"].(float64) {
		t.Fatalf("%d pongs, summary %v", pongs, summary)
	}
	assertMetrics(t, addr, map[string]float64{"dummy_pings_total": 15, "dummy_pongs_total": 15})

	// Nobody answers for another queue: non-zero exit, the loss reported.
	dp = runProc(t, "debug-producer", c.Env, "--queue-id", "q-nobody", "--expect-pong", "--repeat", "2", "--interval", "0.1", "--timeout", "1")
	if dp.code == 0 {
		t.Fatal("debug-producer exited 0 without an answer")
	}
	if out := dp.stdout.String(); !strings.Contains(out, "no pong for ping seq=1") || !strings.Contains(out, "2 sent, 0 answered, 2 lost") {
		t.Fatalf("loss not reported:\n%s", out)
	}

	// stop waits for and prints the terminal event.
	dp = runProc(t, "debug-producer", c.Env, "--queue-id", "q-dp", "--command", "stop")
	if dp.code != 0 || !strings.Contains(dp.stdout.String(), "interrupted from q-dp") {
		t.Fatalf("stop: exit %d, output:\n%s", dp.code, dp.stdout.String())
	}
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("service exit code %d after stop", code)
	}
	logLines(t, "debug-producer", dp.stderr.String())
	assertNoSecret(t, "debug-producer output", dp.stdout.String(), dp.stderr.String())
}

func TestBrokerProgramWithTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caPEM, _ := brokertest.NewCA(t, dir) // writes server.crt and server.key
	caPath := filepath.Join(dir, "ca.crt")
	if err := writeFile(caPath, caPEM); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	br := startProc(t, "broker", nil, "--listen", addr, "--data-dir", filepath.Join(dir, "data"),
		"--user", "SCRAM-SHA-512:svc:"+brokertest.Password,
		"--tls-cert", filepath.Join(dir, "server.crt"), "--tls-key", filepath.Join(dir, "server.key"))
	br.waitLog(t, "broker listening", 20*time.Second)

	env := []string{"KAFKA_BOOTSTRAP_SERVERS=" + addr, "KAFKA_USER=svc", "KAFKA_PASSWORD=" + brokertest.Password, "KAFKA_CA_PATH=" + caPath}
	svc := startProc(t, "dummy-service", append([]string{"QUEUE_ID=q-broker", "METRICS_ADDR=127.0.0.1:0"}, env...))
	svc.waitLog(t, "event published", 20*time.Second)
	dp := runProc(t, "debug-producer", env, "--queue-id", "q-broker", "--expect-pong", "--repeat", "5", "--interval", "0.05")
	if dp.code != 0 || strings.Count(dp.stdout.String(), "rtt=") != 5 {
		t.Fatalf("debug-producer exit %d:\n%s", dp.code, dp.stdout.String())
	}
	svc.signal(t, syscall.SIGINT)
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("dummy-service SIGINT exit code %d", code)
	}
	br.signal(t, syscall.SIGTERM)
	if code := br.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("broker SIGTERM exit code %d", code)
	}
	br.waitLog(t, "broker stopped", time.Second)
	assertNoSecret(t, "broker output", br.stdout.String(), br.stderr.String())
	logLines(t, "broker", br.stdout.String())
}
