package deploy_test

// What the live test needs to run programs and to ask Prometheus.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// httpClient bounds every request the test makes to a program under test.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// unix is t in the Unix seconds the API takes.
func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// promAPI is the part of Prometheus's HTTP API the test uses.
type promAPI struct{ base string }

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

type series struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func (p promAPI) get(ctx context.Context, path string, params url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("querying prometheus: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fmt.Errorf("decoding prometheus's answer to %s: %w", path, err)
	}
	if answer.Status != "success" {
		return fmt.Errorf("prometheus: %s: %s", path, answer.Error)
	}
	return json.Unmarshal(answer.Data, data)
}

func (p promAPI) instant(ctx context.Context, q string) ([]sample, error) {
	var data struct {
		Result []sample `json:"result"`
	}
	err := p.get(ctx, "/api/v1/query", url.Values{"query": {q}}, &data)
	return data.Result, err
}

func (p promAPI) rangeQuery(ctx context.Context, q string, start, end time.Time) ([]series, error) {
	var data struct {
		Result []series `json:"result"`
	}
	err := p.get(ctx, "/api/v1/query_range", url.Values{"query": {q}, "start": {unix(start)}, "end": {unix(end)}, "step": {"1"}}, &data)
	return data.Result, err
}

// buildPrograms builds cmd/<name> into dir, without the race detector:
// the test is about what the programs expose, not their internals.
func buildPrograms(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	bins := map[string]string{}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "github.com/streamforge/streamforge/cmd/"+n)
		bins[n] = filepath.Join(dir, n)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bins
}

// proc is a program the test runs and stops.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
}

// startProc starts a program in dir with exactly env (no inherited
// KAFKA_* or BULKER_*); it is stopped when the test ends.
func startProc(t *testing.T, name, bin, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		_ = p.cmd.Wait() // how it ended shows in its output
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// waitHTTP waits until u answers 200, failing if p exits first.
func waitHTTP(ctx context.Context, t *testing.T, p *proc, u string) {
	t.Helper()
	eventually(ctx, t, u+" answers 200", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("%s exited:\n%s", p.name, p.out.String())
		default:
		}
		resp, err := httpClient.Get(u)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// eventually polls cond every 200 ms until it holds, failing with its
// last word when ctx ends or 45 s have passed.
func eventually(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("not within 45s: %s: %s", what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
