package dummy_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/control"
)

// Clients built on librdkafka — kcat and Python's confluent_kafka, both
// Debian packages — talk to the embedded broker as cmd/broker runs it by
// default (plaintext) and as a secured install runs it (TLS + SCRAM-SHA-512):
// the wire format and the login are not only franz-go's.

// systemPython is the interpreter Debian's python3-confluent-kafka installs
// into; a python3 earlier on PATH (pyenv) does not have it.
const systemPython = "/usr/bin/python3"

func TestKcatPingGetsPong(t *testing.T) {
	t.Parallel()
	kcat := lookKcat(t)
	tests := []struct {
		name string
		opts brokertest.Options
	}{
		{"plaintext", brokertest.Options{Plaintext: true}},
		{"SASL_SSL SCRAM-SHA-512", brokertest.Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := brokertest.StartWith(t, tt.opts)
			w := watch(t, c.Kafka)
			svc, _ := startService(t, serviceEnv(c, "q-kcat"))
			w.expect(t, "q-kcat", control.EventStarted)

			ping := `{"queue_id": "q-kcat", "command": "ping", "sent_at": 1718000000.123}` + "\n"
			if r := runClient(t, nil, ping, kcat, kcatArgs(c, brokertest.Password, "-P", "-t", "queue-control")...); r.code != 0 {
				t.Fatalf("kcat -P: exit %d\n%s", r.code, r.stderr)
			}
			if ev := w.expect(t, "q-kcat", control.EventPong); ev.PingTS == nil || *ev.PingTS != 1718000000.123 {
				t.Fatalf("pong %+v", ev)
			}

			// kcat reads the pong back.
			r := runClient(t, nil, "", kcat, kcatArgs(c, brokertest.Password, "-C", "-t", "queue-events", "-o", "beginning", "-e", "-q")...)
			if r.code != 0 {
				t.Fatalf("kcat -C: exit %d\n%s", r.code, r.stderr)
			}
			if !hasPong(r.stdout, "q-kcat", 1718000000.123) {
				t.Fatalf("kcat -C read no pong for q-kcat:\n%s", r.stdout)
			}

			svc.signal(t, syscall.SIGTERM)
			w.expect(t, "q-kcat", control.EventFinished)
			if code := svc.wait(t, 20*time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
		})
	}
}

func TestKcatWrongPasswordIsRefused(t *testing.T) {
	t.Parallel()
	kcat := lookKcat(t)
	c := brokertest.Start(t)
	r := runClient(t, nil, "", kcat, kcatArgs(c, wrongPassword, "-L", "-m", "3")...)
	if r.code == 0 || !strings.Contains(r.stderr, "SASL authentication error") {
		t.Fatalf("kcat -L with a wrong password: exit %d, want a SASL authentication error:\n%s", r.code, r.stderr)
	}
	assertNoSecret(t, "kcat", r.stdout, r.stderr)
}

// testdata/ping.py sends a ping with confluent_kafka over SASL_SSL and
// prints the pong; with a wrong password it exits 3 and nothing arrives.
func TestPythonPingGetsPongOverSASLSSL(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command(systemPython, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import confluent_kafka (%v: %s): install the Debian package python3-confluent-kafka, as scripts/test-services.sh does",
			systemPython, err, bytes.TrimSpace(out))
	}
	c := brokertest.Start(t)
	w := watch(t, c.Kafka)
	startService(t, serviceEnv(c, "q-py"))
	w.expect(t, "q-py", control.EventStarted)
	env := func(password string) []string {
		return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "QUEUE_ID=q-py", "PING_TIMEOUT=20"},
			replaceEnv(c.Env, "KAFKA_PASSWORD", password)...)
	}

	r := runClient(t, env(wrongPassword), "", systemPython, "testdata/ping.py")
	assertNoSecret(t, "ping.py", r.stdout, r.stderr)
	// librdkafka names the step that failed: the SaslAuthenticate exchange.
	if r.code != 3 || !strings.Contains(r.stderr, "authentication failed") || !strings.Contains(r.stderr, "SASL authentication error") {
		t.Fatalf("wrong password: exit %d, want 3 and a SASL authentication error:\n%s", r.code, r.stderr)
	}
	w.quiet(t, "q-py", time.Second)

	r = runClient(t, env(brokertest.Password), "", systemPython, "testdata/ping.py")
	assertNoSecret(t, "ping.py", r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("ping.py: exit %d\n%s", r.code, r.stderr)
	}
	pong, err := control.DecodeEvent([]byte(r.stdout))
	if err != nil || pong.Event != control.EventPong || pong.QueueID != "q-py" || pong.PingTS == nil ||
		pong.PongedAt < *pong.PingTS || pong.Producer != "producer-q-py" {
		t.Fatalf("ping.py printed %q (%v), want the pong of q-py", r.stdout, err)
	}
	if ev := w.expect(t, "q-py", control.EventPong); ev.PingTS == nil || *ev.PingTS != *pong.PingTS {
		t.Fatalf("pong on queue-events %+v, want ping_ts %v", ev, *pong.PingTS)
	}
}

func lookKcat(t *testing.T) string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed: install the Debian package kcat, as scripts/test-services.sh does")
	}
	return kcat
}

// kcatArgs are kcat's flags to reach c, logging in with password when c
// is secured, followed by args.
func kcatArgs(c *brokertest.Cluster, password string, args ...string) []string {
	out := []string{"-b", c.Addr()}
	if c.CAPath != "" {
		out = append(out, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username="+brokertest.User, "-X", "sasl.password="+password, "-X", "ssl.ca.location="+c.CAPath)
	}
	return append(out, args...)
}

// clientRun is how an outside client's run ended.
type clientRun struct {
	stdout, stderr string
	code           int
}

// runClient runs an outside Kafka client to its end with stdin, killing it
// after a minute; a nil env inherits the test's.
func runClient(t *testing.T, env []string, stdin, name string, args ...string) clientRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s still running after a minute:\n%s", name, stderr.String())
	}
	r := clientRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", name, err)
	}
	return r
}

// hasPong tells whether out, one event per line, holds the pong of
// queueID to the ping sent at pingTS.
func hasPong(out, queueID string, pingTS float64) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		ev, err := control.DecodeEvent(sc.Bytes())
		if err == nil && ev.Event == control.EventPong && ev.QueueID == queueID && ev.PingTS != nil && *ev.PingTS == pingTS {
			return true
		}
	}
	return false
}
