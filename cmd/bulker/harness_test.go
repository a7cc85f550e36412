package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/streamforge/streamforge/internal/destination/destinationtest"
)

// bulkerBin is the program under test, built once by TestMain.
var bulkerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bulker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bulkerBin = filepath.Join(dir, "bulker")
	out, err := exec.Command("go", "build", "-race", "-o", bulkerBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building bulker: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running bulker.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	env  []string

	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

// start runs bulker with env (plus a free HTTP port) and waits until it
// listens.
func start(t testing.TB, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, env: env, done: make(chan struct{})}
	p.cmd = exec.Command(bulkerBin)
	_, port, _ := net.SplitHostPort(freeAddr(t))
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "BULKER_HTTP_PORT=" + port, "BULKER_SHUTDOWN_TIMEOUT_SEC=10"}, env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "bulker listening" {
				listening <- rec.Addr
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	select {
	case p.addr = <-listening:
	case <-p.done:
		t.Fatalf("bulker exited before listening:\n%s", p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("bulker did not listen within 60s:\n%s", p.output())
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends sig and waits for the process to end.
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// post sends body to /post/dest?tableName=table; token may be empty.
func (p *proc) post(dest, table, body, token string) (int, string) {
	p.t.Helper()
	return p.do("POST", "/post/"+dest+"?tableName="+table, body, token)
}

func (p *proc) do(method, path, body, token string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url(path), strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mustPost posts and fails the test unless bulker answers 200.
func (p *proc) mustPost(dest, table, body, token string) {
	p.t.Helper()
	if code, resp := p.post(dest, table, body, token); code != http.StatusOK || !strings.Contains(resp, `"success":true`) {
		p.t.Fatalf("POST %s: %d %s\nlogs:\n%s", body, code, resp, p.output())
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// queryRows runs a query and returns every row as strings (see
// destinationtest.Rows).
func queryRows(t testing.TB, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	return destinationtest.Query(t, db, q, args...)
}

// count returns the rows of a table, or -1 while it does not exist.
func count(db *sql.DB, table string) int {
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		return -1
	}
	return n
}

func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eventsOf lists GET /events entries.
type eventEntry struct {
	Destination string          `json:"destination"`
	Table       string          `json:"table"`
	Status      string          `json:"status"`
	Error       string          `json:"error"`
	Body        json.RawMessage `json:"body"`
}

func (p *proc) events(query, token string) []eventEntry {
	p.t.Helper()
	code, body := p.do("GET", "/events"+query, "", token)
	if code != http.StatusOK {
		p.t.Fatalf("GET /events: %d %s", code, body)
	}
	var resp struct{ Events []eventEntry }
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		p.t.Fatalf("GET /events: %v: %s", err, body)
	}
	return resp.Events
}
