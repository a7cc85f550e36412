package dummy_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

func TestPingWildcardMalformedAndStop(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	s := newSender(t, c.Kafka)
	svc, addr := startService(t, serviceEnv(c, "q-main"), "--metrics-linger", "3s", "--debug")

	started := w.expect(t, "q-main", control.EventStarted)
	if started.Symbol != "BTCUSDT" || started.Type != "api" || started.Producer != "producer-q-main" ||
		started.TimeRange != "2024-01-01:2024-01-02" || started.KafkaTopic != "btc-trades" ||
		started.K8sNamespace != "streamforge" || started.Status != control.EventStarted || started.SentAt == 0 {
		t.Fatalf("started event %+v", started)
	}

	waitStatus(t, addr, "/healthz", 200)
	waitStatus(t, addr, "/readyz", 200)

	// A ping for another queue gets no answer: the next event is the pong
	// to the ping sent after it.
	s.send(t, pingJSON("q-other", 1718000000.5))
	s.send(t, pingJSON("q-main", 1718000001.25))
	pong := w.expect(t, "q-main", control.EventPong)
	if pong.PingTS == nil || *pong.PingTS != 1718000001.25 || pong.PongedAt < 1718000001.25 || pong.Producer != "producer-q-main" {
		t.Fatalf("pong %+v", pong)
	}
	s.send(t, pingJSON("*", 1718000002))
	if pong := w.expect(t, "q-main", control.EventPong); *pong.PingTS != 1718000002 {
		t.Fatalf("wildcard pong %+v", pong)
	}

	for _, bad := range []string{
		`{"queue_id":"q-main","command":"ping"`,
		`{"queue_id":"q-main"}`,
		`{"queue_id":"q-main","command":"ping","sent_at":"noon"}`,
		`{"queue_id":"q-main","command":"reboot"}`,
		`{"queue_id":"*","command":"fail-after","payload":{"seconds":"soon"}}`,
	} {
		s.send(t, bad)
	}
	s.send(t, pingJSON("q-main", 1718000003))
	if pong := w.expect(t, "q-main", control.EventPong); *pong.PingTS != 1718000003 {
		t.Fatalf("pong after malformed commands %+v", pong)
	}
	assertMetrics(t, addr, merge(statusLast(control.EventStarted), map[string]float64{
		"dummy_pings_total":                                      3,
		"dummy_pongs_total":                                      3,
		"dummy_errors_total":                                     0,
		"dummy_events_total{event=started}":                      1,
		"dummy_events_total{event=pong}":                         3,
		"dummy_malformed_commands_total{reason=invalid_json}":    1,
		"dummy_malformed_commands_total{reason=missing_field}":   1,
		"dummy_malformed_commands_total{reason=wrong_type}":      1,
		"dummy_malformed_commands_total{reason=unknown_command}": 1,
		"dummy_malformed_commands_total{reason=bad_payload}":     1,
	}))
	for _, l := range logLines(t, "dummy-service", svc.stdout.String()) {
		if l["msg"] == "malformed command skipped" && (l["reason"] == nil || l["err"] == nil) {
			t.Fatalf("malformed command logged without reason: %v", l)
		}
	}

	s.send(t, `{"queue_id":"q-main","command":"stop","sent_at":1718000004}`)
	if ev := w.expect(t, "q-main", control.EventInterrupted); ev.Finished || ev.Message == "" {
		t.Fatalf("interrupted %+v", ev)
	}
	waitStatus(t, addr, "/readyz", 503) // lingering for the scrape, no longer ready
	assertMetrics(t, addr, merge(statusLast(control.EventInterrupted), map[string]float64{
		"dummy_events_total{event=interrupted}": 1,
		"dummy_events_total{event=finished}":    0,
	}))
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after stop = %d, want 0", code)
	}
	w.quiet(t, "q-main", 500*time.Millisecond) // no finished after interrupted
	logLines(t, "dummy-service", svc.stdout.String())
	assertNoSecret(t, "dummy-service output or events", svc.stdout.String(), svc.stderr.String(), w.all())
}

func TestFailAfterExitsNonZero(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc, addr := startService(t, serviceEnv(c, "q-fail"), "--fail-after", "1", "--metrics-linger", "3s")
	w.expect(t, "q-fail", control.EventStarted)
	ev := w.expect(t, "q-fail", control.EventError)
	if ev.ErrorMessage == "" || ev.Status != control.EventError || ev.Finished {
		t.Fatalf("error event %+v", ev)
	}
	assertMetrics(t, addr, merge(statusLast(control.EventError), map[string]float64{
		"dummy_errors_total":              1,
		"dummy_events_total{event=error}": 1,
	}))
	if code := svc.wait(t, 20*time.Second); code == 0 {
		t.Fatal("fail-after exited 0")
	}
	w.quiet(t, "q-fail", 300*time.Millisecond)
	logLines(t, "dummy-service", svc.stdout.String())
	assertNoSecret(t, "dummy-service output or events", svc.stdout.String(), svc.stderr.String(), w.all())
}

func TestFailAfterCommand(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc, _ := startService(t, serviceEnv(c, "q-failcmd"))
	w.expect(t, "q-failcmd", control.EventStarted)
	newSender(t, c.Kafka).send(t, `{"queue_id":"q-failcmd","command":"fail-after","payload":{"seconds":0.2}}`)
	w.expect(t, "q-failcmd", control.EventError)
	if code := svc.wait(t, 20*time.Second); code == 0 {
		t.Fatal("fail-after command: exited 0")
	}
}

func TestSimulateLoadingThenExitAfter(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc, addr := startService(t, serviceEnv(c, "q-load"),
		"--simulate-loading", "--loading-interval", "200ms", "--exit-after", "1.5", "--metrics-linger", "3s")
	w.expect(t, "q-load", control.EventStarted)
	var last int64
	loads := 0
	for {
		ev := w.next(t, "q-load", 20*time.Second)
		if ev.Event == control.EventFinished {
			if !ev.Finished || ev.RecordsWritten != last {
				t.Fatalf("finished %+v after %d records", ev, last)
			}
			break
		}
		if ev.Event != control.EventLoading || ev.RecordsWritten != last+100 || ev.Status != control.EventLoading {
			t.Fatalf("event %+v after %d records, want loading with %d", ev, last, last+100)
		}
		last, loads = ev.RecordsWritten, loads+1
	}
	if loads < 3 {
		t.Fatalf("%d loading events in 1.5s at 200ms", loads)
	}
	assertMetrics(t, addr, merge(statusLast(control.EventFinished), map[string]float64{
		"dummy_events_total{event=loading}":  float64(loads),
		"dummy_events_total{event=finished}": 1,
	}))
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit-after: exit code %d", code)
	}
	w.quiet(t, "q-load", 300*time.Millisecond)
	logLines(t, "dummy-service", svc.stdout.String())
}

func TestNoop(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc := startProc(t, "dummy-service", serviceEnv(c, "q-noop"), "--noop")
	w.expect(t, "q-noop", control.EventStarted)
	w.expect(t, "q-noop", control.EventFinished)
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("noop: exit code %d", code)
	}

	// With --exit-after it lives on but reads no command.
	svc = startProc(t, "dummy-service", serviceEnv(c, "q-noop"), "--noop", "--exit-after", "1.5")
	w.expect(t, "q-noop", control.EventStarted)
	newSender(t, c.Kafka).send(t, pingJSON("q-noop", 1))
	if ev := w.expect(t, "q-noop", control.EventFinished); ev.Message == "" {
		t.Fatalf("finished %+v", ev)
	}
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("noop with exit-after: exit code %d", code)
	}
	logLines(t, "dummy-service", svc.stdout.String())
}

func TestSigtermPublishesFinished(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	svc, _ := startService(t, serviceEnv(c, "q-term"), "--simulate-loading")
	w.expect(t, "q-term", control.EventStarted)
	svc.signal(t, syscall.SIGTERM)
	if ev := w.expect(t, "q-term", control.EventFinished); !ev.Finished {
		t.Fatalf("finished %+v", ev)
	}
	if code := svc.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit code %d", code)
	}
	w.quiet(t, "q-term", 300*time.Millisecond)
}

func TestStopIsNotReplayedAfterRestart(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	s := newSender(t, c.Kafka)
	svc := startProc(t, "dummy-service", serviceEnv(c, "q-restart"), "--exit-on-ping")
	w.expect(t, "q-restart", control.EventStarted)
	s.send(t, `{"queue_id":"q-restart","command":"stop"}`)
	w.expect(t, "q-restart", control.EventInterrupted)
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("stop: exit code %d", code)
	}

	svc = startProc(t, "dummy-service", serviceEnv(c, "q-restart"), "--exit-on-ping")
	w.expect(t, "q-restart", control.EventStarted)
	w.quiet(t, "q-restart", 1500*time.Millisecond) // the old stop would show here
	s.send(t, pingJSON("q-restart", 42))
	if ev := w.expect(t, "q-restart", control.EventPong); *ev.PingTS != 42 {
		t.Fatalf("pong %+v", ev)
	}
	w.expect(t, "q-restart", control.EventFinished) // --exit-on-ping
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit-on-ping: exit code %d", code)
	}
}

func TestClearErrorsForWrongPasswordAndCA(t *testing.T) {
	t.Parallel()
	c := brokertest.Start(t)
	otherCA, _ := brokertest.NewCA(t, "")
	caPath := t.TempDir() + "/other-ca.crt"
	if err := writeFile(caPath, otherCA); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"wrong password", replaceEnv(c.Env, "KAFKA_PASSWORD", wrongPassword), "authentication failed"},
		{"wrong CA", replaceEnv(c.Env, "KAFKA_CA_PATH", caPath), "TLS"},
		{"missing CA", replaceEnv(c.Env, "KAFKA_CA_PATH", caPath+".missing"), "other-ca.crt.missing"},
	}
	for _, tc := range cases {
		env := append([]string{"QUEUE_ID=q-auth", "METRICS_ADDR=127.0.0.1:0", "KAFKA_CONNECT_TIMEOUT=5s"}, tc.env...)
		svc := runProc(t, "dummy-service", env)
		dp := runProc(t, "debug-producer", env, "--queue-id", "q-auth", "--expect-pong", "--timeout", "1")
		for _, p := range []*proc{svc, dp} {
			if p.code == 0 {
				t.Errorf("%s with %s exited 0", p.name, tc.name)
			}
			out := p.stdout.String() + p.stderr.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("%s with %s: output does not say %q:\n%s", p.name, tc.name, tc.want, out)
			}
			assertNoSecret(t, p.name+" with "+tc.name, out)
		}
		logLines(t, "dummy-service", svc.stdout.String())
		logLines(t, "debug-producer", dp.stderr.String())
	}

	// Nothing listens: retries, then a non-zero exit naming the address.
	down := freeAddr(t)
	env := []string{"KAFKA_BOOTSTRAP_SERVERS=" + down, "KAFKA_CONNECT_TIMEOUT=1s", "QUEUE_ID=q-down", "METRICS_ADDR=127.0.0.1:0"}
	for _, p := range []*proc{runProc(t, "dummy-service", env), runProc(t, "debug-producer", env, "--queue-id", "q-down")} {
		out := p.stdout.String() + p.stderr.String()
		if p.code == 0 || !strings.Contains(out, "unreachable") || !strings.Contains(out, down) {
			t.Errorf("%s with no broker: exit %d, output:\n%s", p.name, p.code, out)
		}
	}
}

func TestEmbeddedBrokerWhenNothingConfigured(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	addr := freeAddr(t)
	env := []string{"BROKER_ADDR=" + addr, "BROKER_DATA_DIR=" + dataDir, "METRICS_ADDR=127.0.0.1:0", "QUEUE_ID=q-local"}
	svc := runProc(t, "dummy-service", env, "--simulate-loading", "--exit-after", "1.2", "--loading-interval", "300ms")
	if svc.code != 0 {
		t.Fatalf("exit code %d", svc.code)
	}
	found := false
	for _, l := range logLines(t, "dummy-service", svc.stdout.String()) {
		if strings.Contains(l["msg"].(string), "started the embedded single-node broker") && l["addr"] == addr {
			found = true
		}
	}
	if !found {
		t.Fatalf("no log line says the embedded broker was started on %s", addr)
	}

	// The events persisted in the data directory: read them back.
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dataDir}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := kafka.NewConsumer(ctx, kafka.Config{Brokers: []string{b.Addr()}, ConnectTimeout: 10 * time.Second}, discard(),
		kafka.ConsumerOptions{Group: "e2e-reader", Topics: []string{"queue-events"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for len(names) == 0 || !control.IsTerminal(names[len(names)-1]) {
		recs, err := r.Poll(ctx, 0)
		if err != nil {
			t.Fatalf("events so far %v: %v", names, err)
		}
		for _, rec := range recs {
			ev, err := control.DecodeEvent(rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, ev.Event)
		}
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "started,loading,") || !strings.HasSuffix(got, ",finished") {
		t.Fatalf("events %s, want started, loading…, finished", got)
	}
}

func TestUsesBrokerAlreadyListening(t *testing.T) {
	t.Parallel()
	c := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	w := watch(t, c.Kafka)
	env := []string{"BROKER_ADDR=" + c.Addr(), "METRICS_ADDR=127.0.0.1:0", "QUEUE_ID=q-reuse"}
	svc := runProc(t, "dummy-service", env, "--noop")
	if svc.code != 0 {
		t.Fatalf("exit code %d", svc.code)
	}
	svc.waitLog(t, "using the broker already listening", time.Second)
	w.expect(t, "q-reuse", control.EventStarted)
	w.expect(t, "q-reuse", control.EventFinished)
}
