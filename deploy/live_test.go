package deploy_test

import (
	"database/sql"

	_ "modernc.org/sqlite"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/probe"
)

// Queues of the two dummy-services: one healthy, one told to fail.
const (
	liveQueue    = "obs-live"
	failingQueue = "obs-failing"
)

// TestDashboardsAndAlertsOnLiveServices runs bulker, two dummy-services and
// a Prometheus that scrapes them every second and evaluates alerts.yml,
// puts a little load through them — good events and bad ones, a
// destination that is down, pings, malformed commands, a fail-after — and
// then checks what a user of the dashboards and alerts would: every panel
// query draws data, every variable offers values, every metric named
// exists, every rule evaluates, and exactly the alerts for the faults in
// the load fire.
func TestDashboardsAndAlertsOnLiveServices(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: install Debian's prometheus package (scripts/test-services.sh does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins := buildPrograms(t, dir, "bulker", "dummy-service")

	kafkaAddr, bulkerAddr, liveAddr, failingAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	// The broken destination is a PostgreSQL server nothing listens for:
	// bulker starts (it connects on use), and every load is an outage.
	deadHost, deadPort, _ := net.SplitHostPort(freeAddr(t))
	// A table of the local destination with a rule the data can break.
	local, err := sql.Open("sqlite", filepath.Join(dir, "local.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Exec(`CREATE TABLE rejects (id BIGINT, x BIGINT CHECK (x < 100))`); err != nil {
		t.Fatal(err)
	}
	local.Close()
	_, bulkerPort, _ := net.SplitHostPort(bulkerAddr)
	bulker := startProc(t, "bulker", bins["bulker"], dir, []string{
		"BULKER_HTTP_PORT=" + bulkerPort,
		"BULKER_DATA_DIR=" + filepath.Join(dir, "data"),
		"BULKER_EMBEDDED_KAFKA_ADDR=" + kafkaAddr,
		"BULKER_DESTINATION_LOCAL=" + sqliteDestination(filepath.Join(dir, "local.db")),
		"BULKER_DESTINATION_BROKEN=" + deadPostgres(deadHost, deadPort),
		// One retry, 0.6 s later: a rejected event is requeued, then dead.
		"BULKER_MESSAGES_RETRY_COUNT=1",
		"BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY=0.01",
		"BULKER_SHUTDOWN_TIMEOUT_SEC=5",
	})
	waitHTTP(ctx, t, bulker, "http://"+bulkerAddr+"/ready")
	live := startProc(t, "dummy-service "+liveQueue, bins["dummy-service"], dir, []string{"QUEUE_ID=" + liveQueue},
		"--simulate-loading", "--loading-interval", "1s", "--metrics-addr", liveAddr, "--broker-addr", kafkaAddr)
	// Its metrics stay up after it failed, for Prometheus to see the error.
	failing := startProc(t, "dummy-service "+failingQueue, bins["dummy-service"], dir, []string{"QUEUE_ID=" + failingQueue},
		"--metrics-linger", "10m", "--metrics-addr", failingAddr, "--broker-addr", kafkaAddr)
	waitHTTP(ctx, t, live, "http://"+liveAddr+"/readyz")
	waitHTTP(ctx, t, failing, "http://"+failingAddr+"/readyz")

	alertsPath, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: bulker
    static_configs: [{targets: [%q]}]
  - job_name: dummy-service
    static_configs: [{targets: [%q, %q]}]
`, alertsPath, bulkerAddr, liveAddr, failingAddr), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProc(t, "prometheus", promBin, dir, nil, "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr, "--log.level=warn")
	api := promAPI{base: "http://" + promAddr}
	waitHTTP(ctx, t, prom, api.base+"/-/ready")
	start := time.Now().Add(-time.Second)
	// Counters must be seen at their first value before the load moves
	// them, or rate() has nothing to compare with.
	eventually(ctx, t, "Prometheus scrapes all three targets", func() (bool, string) {
		up, err := api.instant(ctx, "up == 1")
		return err == nil && len(up) == 3, fmt.Sprintf("up == 1: %v %v", up, err)
	})

	putLoad(ctx, t, bulkerAddr, kafkaAddr)

	rules := loadRules(t)
	checkAlerts(ctx, t, api, rules, failingAddr)
	checkRuleHealth(ctx, t, api, rules)
	end := time.Now()
	checkPanels(ctx, t, api, start, end)
	checkMetricNames(t, rules, "http://"+bulkerAddr+"/metrics", "http://"+liveAddr+"/metrics", "http://"+failingAddr+"/metrics")
}

// deadPostgres is a PostgreSQL destination at an address nothing listens on.
func deadPostgres(host, port string) string {
	b, _ := json.Marshal(map[string]any{
		"type":        "postgres",
		"options":     map[string]any{"mode": "batch", "frequency": 1.0 / 60},
		"credentials": map[string]any{"host": host, "port": json.Number(port), "database": "none"},
	})
	return string(b)
}

func sqliteDestination(path string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "sqlite",
		// A batch a second: frequency is in minutes.
		"options":     map[string]any{"mode": "batch", "frequency": 1.0 / 60},
		"credentials": map[string]any{"database": path},
	})
	return string(b)
}

// putLoad sends good and bad events to bulker, in waves so that every
// counter moves after Prometheus first saw it; pings, malformed commands
// and a fail-after to the dummy-services.
func putLoad(ctx context.Context, t *testing.T, bulkerAddr, kafkaAddr string) {
	kcfg := kafka.Config{Brokers: []string{kafkaAddr}}
	log := slog.New(slog.DiscardHandler)
	sender, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	// Pings run alongside the events; a failed test stops them.
	pingCtx, stopPinging := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopPinging()
		wg.Wait()
	}()
	var pingErr error
	wg.Go(func() {
		_, pingErr = probe.PingRTTs(pingCtx, kcfg, log, liveQueue, 10, 400*time.Millisecond, 10*time.Second)
	})
	command := func(raw string) {
		if err := sender.Produce(ctx, "queue-control", nil, []byte(raw), nil); err != nil {
			t.Errorf("sending %s: %v", raw, err)
		}
	}
	send := func(path, body string, want int) {
		resp, err := httpClient.Post("http://"+bulkerAddr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s %s: %d %s, want %d", path, body, resp.StatusCode, b, want)
		}
	}
	for i := range 24 {
		send("/post/local?tableName=events", fmt.Sprintf(`{"n":%d,"kind":"view"}`, i), http.StatusOK)
		send("/post/local?tableName=clicks", fmt.Sprintf(`{"n":%d,"x":%d.5}`, i, i), http.StatusOK)
		send("/post/broken?tableName=events", fmt.Sprintf(`{"n":%d}`, i), http.StatusOK)
		// Rarer things come in waves a second or more apart: a series
		// that appears with its first event moves only at the next wave.
		if i%12 == 0 {
			// A row the table's CHECK refuses: rejected by the database,
			// retried, dead.
			send("/post/local?tableName=rejects", `{"id":1,"x":1000}`, http.StatusOK)
			// Nothing to store: dead at once.
			send("/post/local?tableName=empty", `{}`, http.StatusOK)
		}
		if i%6 == 1 { // rejected at ingest
			send("/post/local?tableName=events", `{"n":`, http.StatusBadRequest)
			send("/post/nowhere?tableName=events", `{"n":1}`, http.StatusNotFound)
			send("/post/local", `{"n":1}`, http.StatusBadRequest)
		}
		if i%6 == 3 {
			send("/bulk/local?tableName=users&mode=replace_table", "{\"id\":1}\n{\"id\":2}\n", http.StatusOK)
		}
		if i%6 == 5 {
			command(`not json`)
			command(fmt.Sprintf(`{"queue_id":%q,"command":"dance"}`, liveQueue))
		}
		if i == 8 {
			command(fmt.Sprintf(`{"queue_id":%q,"command":"fail-after","payload":{"seconds":1}}`, failingQueue))
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	wg.Wait()
	if pingErr != nil {
		t.Errorf("pinging %s: %v", liveQueue, pingErr)
	}
}

// alertExpectation is which series an alert's expression may return under
// the test's load, by the labels that identify them.
type alertExpectation struct {
	fires []map[string]string // exactly these, eventually
	only  map[string]string   // any series returned must have these labels
}

// checkAlerts evaluates every alert expression: the faults in the load
// make some return exactly their series, all others stay empty.
func checkAlerts(ctx context.Context, t *testing.T, api promAPI, rules []rule, failingAddr string) {
	expect := map[string]alertExpectation{
		"BulkerLoadErrors":             {fires: []map[string]string{{"destination": "local", "table": "rejects"}}},
		"BulkerDeadLetters":            {fires: []map[string]string{{"destination": "local", "table": "rejects"}, {"destination": "local", "table": "empty"}}},
		"BulkerDestinationUnavailable": {fires: []map[string]string{{"destination": "broken", "table": "events"}}},
		// Its lag does grow, but whether for 15 s or for 15 minutes is
		// not for this short run to tell.
		"BulkerConsumerLagGrowing": {only: map[string]string{"destination": "broken"}},
		"DummyServiceFailed":       {fires: []map[string]string{{"instance": failingAddr}}},
		"DummyServiceErrors":       {fires: []map[string]string{{"instance": failingAddr}}},
	}
	for name := range expect {
		if !slices.ContainsFunc(rules, func(r rule) bool { return r.Alert == name }) {
			t.Errorf("expectation for %s, which %s does not define", name, alertsFile)
		}
	}
	for _, r := range rules {
		e := expect[r.Alert]
		check := func() (bool, string) {
			got, err := api.instant(ctx, r.Expr)
			if err != nil {
				return false, err.Error()
			}
			var have []map[string]string
			for _, s := range got {
				have = append(have, s.Metric)
			}
			switch {
			case e.only != nil:
				for _, m := range have {
					if labelString(project(m, e.only)) != labelString(e.only) {
						return false, fmt.Sprintf("series %v, want only ones with %v", m, e.only)
					}
				}
				return true, ""
			case len(e.fires) == 0:
				return len(have) == 0, fmt.Sprintf("series %v, want none", have)
			}
			var want, found []string
			for _, f := range e.fires {
				want = append(want, labelString(f))
			}
			for _, m := range have {
				found = append(found, labelString(project(m, e.fires[0])))
			}
			slices.Sort(want)
			slices.Sort(found)
			return slices.Equal(want, found), fmt.Sprintf("series %v, want %v", found, want)
		}
		if len(e.fires) > 0 {
			eventually(ctx, t, r.Alert+" fires for the faults in the load", check)
		} else if ok, why := check(); !ok {
			t.Errorf("%s: %s under this load: %s", r.Alert, why, r.Expr)
		}
	}
}

// checkRuleHealth asks Prometheus whether it evaluated every rule of the
// file without error.
func checkRuleHealth(ctx context.Context, t *testing.T, api promAPI, rules []rule) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := api.get(ctx, "/api/v1/rules", nil, &data); err != nil {
		t.Fatal(err)
	}
	health := map[string]string{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			health[r.Name] = r.Health + " " + r.LastError
		}
	}
	for _, r := range rules {
		if h := health[r.Alert]; h != "ok " {
			t.Errorf("%s: Prometheus says %q, want ok", r.Alert, h)
		}
	}
}

// emptyAllowed are panels that may stay at zero under the test's load,
// with why: a real failure would be needed to move them.
var emptyAllowed = map[string]string{
	"Share of 5xx answers": "no request fails with a 5xx under this load",
}

// checkPanels runs every panel query over the test's time range as
// Grafana does, and every variable's query: each must return data, and
// each panel must show the load unless emptyAllowed says why not.
func checkPanels(ctx context.Context, t *testing.T, api promAPI, start, end time.Time) {
	// Grafana's $__rate_interval is four scrape intervals at least.
	builtins := map[string]string{"__rate_interval": "4s", "__interval": "1s",
		"__range": fmt.Sprintf("%ds", int(math.Ceil(end.Sub(start).Seconds())))}
	for _, file := range dashboardPaths {
		d := loadDashboard(t, file)
		values := variableValues(d, builtins)
		for _, q := range queriesOf(file, d) {
			expr, err := expand(q.expr, values)
			if err != nil {
				t.Errorf("%s: %v", q.where, err)
				continue
			}
			series, err := api.rangeQuery(ctx, expr, start, end)
			if err != nil {
				t.Errorf("%s: %v", q.where, err)
				continue
			}
			finite, nonZero := 0, 0
			for _, s := range series {
				for _, v := range s.Values {
					if f, err := strconv.ParseFloat(v[1].(string), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
						finite++
						if f != 0 {
							nonZero++
						}
					}
				}
			}
			switch _, allowed := emptyAllowed[q.panel]; {
			case finite == 0:
				t.Errorf("%s shows nothing: %d series, no value\n%s", q.where, len(series), expr)
			case nonZero == 0 && !allowed:
				t.Errorf("%s shows only zeros although the load should move it\n%s\n%v", q.where, expr, series)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			sel, label := variableQuery(t, v)
			sel, err := expand(sel, values)
			if err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
				continue
			}
			var got []string
			params := url.Values{"match[]": {sel}, "start": {unix(start)}, "end": {unix(end)}}
			if err := api.get(ctx, "/api/v1/label/"+label+"/values", params, &got); err != nil || len(got) == 0 {
				t.Errorf("%s: variable %s offers no value (%v)", filepath.Base(file), v.Name, err)
			}
		}
	}
}

// checkMetricNames asserts that every metric a dashboard or an alert names
// is in what the programs really expose (or is Prometheus's own up).
func checkMetricNames(t *testing.T, rules []rule, metricsURLs ...string) {
	exposed := map[string]bool{"up": true}
	for _, u := range metricsURLs {
		resp, err := httpClient.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		for name, f := range fams {
			exposed[name] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exposed[name+suffix] = true
				}
			}
		}
	}
	named := map[string][]string{} // metric → where
	for _, file := range dashboardPaths {
		d := loadDashboard(t, file)
		values := variableValues(d, staticBuiltins)
		exprs := queriesOf(file, d)
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				sel, _ := variableQuery(t, v)
				exprs = append(exprs, query{where: filepath.Base(file) + ": variable " + v.Name, expr: sel})
			}
		}
		for _, q := range exprs {
			expr, err := expand(q.expr, values)
			if err != nil {
				t.Fatalf("%s: %v", q.where, err)
			}
			for _, n := range metricNames(t, q.where, expr) {
				named[n] = append(named[n], q.where)
			}
		}
	}
	for _, r := range rules {
		for _, n := range metricNames(t, r.Alert, r.Expr) {
			named[n] = append(named[n], "alert "+r.Alert)
		}
	}
	for n, where := range named {
		if !exposed[n] {
			t.Errorf("%s is exposed by neither bulker nor dummy-service, yet %v use it", n, where)
		}
	}
}

func labelString(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// project keeps the labels of m that keys has.
func project(m, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		out[k] = m[k]
	}
	return out
}
