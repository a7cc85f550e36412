package dummy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/wait"
)

// /readyz follows the broker: 503 with the reason while dummy-service
// cannot reach it, 200 again once it is back on the same address, without
// a restart of the service.
func TestReadyzFollowsTheBroker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir})
	svc, addr := startService(t, serviceEnv(c, "q-readyz"))
	waitStatus(t, addr, "/readyz", 200)

	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	c.Close()
	var body string
	wait.For(t, 10*time.Second, "/readyz answers 503 while the broker is down", func() bool {
		var code int
		code, body = readyz()
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "not ready: ") || !strings.Contains(body, c.Addr()) {
		t.Errorf("/readyz body %q: want the reason, naming the broker", body)
	}

	brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir, Addr: c.Addr()})
	wait.For(t, 20*time.Second, "/readyz answers 200 once the broker is back", func() bool {
		code, _ := readyz()
		return code == http.StatusOK
	})
	select {
	case <-svc.done:
		t.Fatalf("dummy-service exited with %d while the broker was down", svc.code)
	default:
	}
}
