package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/wait"
)

// chromium finds the browser the console test drives. Without one the test
// skips, unless STREAMFORGE_REQUIRE_BROWSER is set (make test sets it, so
// CI fails instead of skipping).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("STREAMFORGE_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH and STREAMFORGE_REQUIRE_BROWSER is set: install Debian's chromium (scripts/test-services.sh does)")
	}
	t.Skip("no chromium on PATH: install Debian's chromium to run the console test (set STREAMFORGE_REQUIRE_BROWSER to fail instead)")
	return ""
}

// browser starts a headless Chromium with a fresh profile and a laptop's
// window.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	// An exception in the page's script fails the test, even one the
	// steps did not notice.
	var mu sync.Mutex
	var thrown []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			defer mu.Unlock()
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			thrown = append(thrown, fmt.Sprintf("%s at %s:%d:%d", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range thrown {
			t.Errorf("the console's script threw: %s", e)
		}
	})
	return ctx
}

// page drives the console in the browser.
type page struct {
	t   *testing.T
	ctx context.Context
	b   *proc
	// shots is where screenshots go; empty: none.
	shots string
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\nbulker logs:\n%s", what, err, p.b.output())
	}
}

// until waits for a JavaScript condition to hold in the page.
func (p *page) until(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Text[string]("main"))
		p.t.Fatalf("waiting for %s: %v\npage:\n%s\nbulker logs:\n%s", what, err, text, p.b.output())
	}
}

func (p *page) show(view string) {
	p.t.Helper()
	p.do("opening the "+view+" view", chromedp.Click(`nav a[data-view="`+view+`"]`), chromedp.WaitVisible("#view-"+view))
}

// shot saves a screenshot of the page as docs/console-<name>.png when
// STREAMFORGE_SCREENSHOTS names the directory.
func (p *page) shot(name string) {
	p.t.Helper()
	if p.shots == "" {
		return
	}
	// Quality 100 makes a PNG; anything less, a JPEG.
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, "console-"+name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// rowWith is a JavaScript test: a row of table sel whose text holds each
// of words.
func rowWith(sel string, words ...string) string {
	conds := make([]string, len(words))
	for i, w := range words {
		conds[i] = fmt.Sprintf("r.textContent.includes(%q)", w)
	}
	return fmt.Sprintf("Array.from(document.querySelectorAll(%q)).some(r => %s)", sel, strings.Join(conds, " && "))
}

// The console in a real browser: the token is asked for (a wrong one is
// refused), a posted event shows in the events view once loaded, an event
// the destination rejects shows dead with its reason and turns the
// destination's state to error, and after the fix the Replay button loads
// it. Sources and the queue view read dummy-service's telemetry loaded by
// a source.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	pg, u := postgresServer(t)
	schema := randomName("console_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)

	// dummy-service's telemetry, as two runs would leave it.
	k := brokertest.Start(t)
	now := float64(time.Now().UnixMilli()) / 1000
	telemetry := []string{
		fmt.Sprintf(`{"event":"started","queue_id":"q1","status":"started","records_written":0,"sent_at":%.3f}`, now-40),
		fmt.Sprintf(`{"event":"loading","queue_id":"q1","status":"loading","records_written":1300,"sent_at":%.3f}`, now-20),
		fmt.Sprintf(`{"event":"pong","queue_id":"q1","ping_ts":%.3f,"ponged_at":%.3f,"sent_at":%.3f}`, now-12.081, now-12, now-12),
		fmt.Sprintf(`{"event":"error","queue_id":"q2","status":"error","records_written":0,"error_message":"fail-after","sent_at":%.3f}`, now-8),
	}
	produce(t, k, "queue-events", telemetry...)
	b := start(t, secureEnv(t, k,
		`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"batch","frequency":0.01},"credentials":`+creds+`}`,
		`BULKER_SOURCE_QUEUE_EVENTS={"topic":"queue-events","destination":"pg","table":"queue_events","mode":"stream"}`,
		"BULKER_MESSAGES_RETRY_COUNT=0",
	)...)
	p := &page{t: t, ctx: ctx, b: b, shots: screenshotDir(t)}

	p.do("opening the console", chromedp.Navigate(b.url("/ui")), chromedp.WaitVisible("#login"))
	p.do("entering a wrong token", chromedp.SendKeys("#token", "not-the-token"), chromedp.Click("#token-save"))
	p.until("the wrong token refused", `document.querySelector("#login").open && document.querySelector("#login-error").textContent.includes("refused")`)
	p.do("entering the token", chromedp.SendKeys("#token", apiToken), chromedp.Click("#token-save"))
	p.until("the destination listed", rowWith("#destinations-table tbody tr", "pg", "postgres", "batch"))

	// An event arrives.
	table := schema + ".codes"
	b.mustPost("pg", "codes", `{"id":1,"__sql_type_code":"varchar(4)","code":"fine"}`, apiToken)
	p.show("events")
	p.until("the event loaded", rowWith(`#events-table tbody tr[data-status="loaded"]`, "codes", `"code":"fine"`))
	p.until("the telemetry loaded", rowWith(`#events-table tbody tr[data-status="loaded"]`, "queue_events"))
	p.do("filtering by table", chromedp.SendKeys("#events-table-name", "codes"))
	p.until("only the table's events", `Array.from(document.querySelectorAll("#events-table tbody tr")).every(r => !r.textContent.includes("queue_events"))`)
	p.shot("events")

	// The destination rejects an event: it is dead at once, with its reason.
	b.mustPost("pg", "codes", `{"id":2,"code":"far too long"}`, apiToken)
	p.show("failed")
	p.until("the dead event with its reason", rowWith("#failed-table tbody tr", "far too long", "too long for type"))
	p.shot("failed")
	p.show("destinations")
	p.until("the destination in error", `(() => { const r = document.querySelector('#destinations-table tr[data-id="pg"]'); return r && r.querySelector(".state-cell").textContent === "error" && r.textContent.includes("too long") })()`)
	p.shot("destinations")

	// The fix, then Replay: the event loads.
	if _, err := pg.Exec("ALTER TABLE " + table + " ALTER COLUMN code TYPE text"); err != nil {
		t.Fatal(err)
	}
	p.show("failed")
	p.do("clicking Replay", chromedp.Click("#failed-table tbody button.replay"))
	p.until("the replay reported", `document.querySelector("#replay-result").textContent.includes("1 re-queued")`)
	wait.For(t, 60*time.Second, "the replayed event in the table", func() bool { return count(pg, table) == 2 })
	p.show("events")
	p.until("the replayed event loaded", rowWith(`#events-table tbody tr[data-status="loaded"]`, "far too long"))
	p.until("the replay in the log", rowWith(`#events-table tbody tr[data-status="replayed"]`, "far too long"))
	p.show("destinations")
	p.until("the destination ok again", `document.querySelector('#destinations-table tr[data-id="pg"] .state-cell').textContent === "ok"`)

	p.show("sources")
	p.until("the source listed", rowWith("#sources-table tbody tr", "queue_events", "queue-events", "pg.queue_events", "bulker-source-queue_events"))
	p.shot("sources")
	p.show("queues")
	p.until("each queue's status, progress and last pong", rowWith(`#queues-table tbody tr[data-queue="q1"]`, "loading", "1,300", "81 ms", "s ago")+" && "+
		rowWith(`#queues-table tbody tr[data-queue="q2"]`, "error"))
	p.shot("queues")
}

// screenshotDir is STREAMFORGE_SCREENSHOTS, a relative path taken from the
// module's root; empty: no screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("STREAMFORGE_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // tests run in cmd/bulker
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
