package dummy_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/control"
)

// A ping written by kcat (librdkafka, the Debian package) to the embedded
// broker as cmd/broker runs it by default gets a pong: the wire format is
// not only ours. Plaintext, because librdkafka cannot log in to kfake with
// SASL: kfake advertises SaslHandshake v1 only and librdkafka wants v0 in
// the range before it starts a handshake.
func TestKcatPingGetsPong(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	c := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	w := watch(t, c.Kafka)
	svc, _ := startService(t, serviceEnv(c, "q-kcat"))
	w.expect(t, "q-kcat", control.EventStarted)

	cmd := exec.Command(kcat, "-P", "-b", c.Addr(), "-t", "queue-control")
	cmd.Stdin = strings.NewReader(`{"queue_id": "q-kcat", "command": "ping", "sent_at": 1718000000.123}` + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	if ev := w.expect(t, "q-kcat", control.EventPong); ev.PingTS == nil || *ev.PingTS != 1718000000.123 {
		t.Fatalf("pong %+v", ev)
	}
	svc.signal(t, syscall.SIGTERM)
	w.expect(t, "q-kcat", control.EventFinished)
	if code := svc.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
