package console

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/auth"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/secret"
	"github.com/streamforge/streamforge/internal/sink"
)

const token = "console-tok"

type sourceList []loader.Source

func (s sourceList) Sources() []loader.Source { return s }

// fixture is a console over a real registry (SQLite), events log and
// Prometheus registry.
type fixture struct {
	srv     *httptest.Server
	events  *eventslog.Memory
	metrics *prometheus.Registry
}

func newFixture(t *testing.T, tokens []string, sources ...loader.Source) fixture {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	reg := sink.NewRegistry(map[string]destination.Factory{"sqlite": sqlite.Open}, log)
	t.Cleanup(reg.Close)
	err := reg.Set([]destination.Config{{
		ID: "lite", Type: "sqlite", Options: destination.Options{Mode: destination.Stream},
		Credentials: destination.Credentials{Database: filepath.Join(t.TempDir(), "lite.db"), Password: secret.String("pw-never-shown")},
	}, {ID: "wh", Type: "clickhouse", Credentials: destination.Credentials{Host: "ch", Password: secret.String("pw-never-shown")}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(tokens, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{events: eventslog.NewMemory(100), metrics: prometheus.NewRegistry()}
	con, err := New(Deps{Destinations: reg, Sources: sourceList(sources), Events: f.events, Metrics: f.metrics, Auth: a, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	con.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f fixture) get(t *testing.T, path, tok string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The pages are public (they hold no data); the JSON endpoints take the
// API's tokens, and are open when the API is.
func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		path   string
		send   string
		code   int
	}{
		{"page without a token", []string{token}, "/ui/", "", http.StatusOK},
		{"script without a token", []string{token}, "/ui/app.js", "", http.StatusOK},
		{"/ui redirects", []string{token}, "/ui", "", http.StatusMovedPermanently},
		{"api without a token", []string{token}, "/api/destinations", "", http.StatusUnauthorized},
		{"api with a wrong token", []string{token}, "/api/sources", "nope", http.StatusUnauthorized},
		{"api with the token", []string{token}, "/api/queues", token, http.StatusOK},
		{"api with no token configured", nil, "/api/destinations", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.tokens)
			code, hdr, body := f.get(t, tc.path, tc.send)
			if code != tc.code {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, code, body, tc.code)
			}
			if strings.HasPrefix(tc.path, "/ui/") && !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("GET %s: no content security policy: %v", tc.path, hdr)
			}
			if tc.send != "" && strings.Contains(body, tc.send) {
				t.Errorf("the answer repeats the token: %s", body)
			}
		})
	}
}

// A destination's state is what happened last: a load (ok), a failure
// (error, with its reason), or nothing yet (idle); its figures are the
// loaders' series, summed over its tables. Credentials never show.
func TestDestinations(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		entries []eventslog.Entry
		state   string
		lastErr string
	}{
		{"nothing yet", nil, "idle", ""},
		{"loaded", []eventslog.Entry{{Status: eventslog.Loaded, Time: t0}}, "ok", ""},
		{"dead after a load", []eventslog.Entry{{Status: eventslog.Loaded, Time: t0}, {Status: eventslog.Dead, Time: t0.Add(time.Second), Error: "value too long"}}, "error", "value too long"},
		{"loaded after an outage", []eventslog.Entry{{Status: eventslog.Failed, Time: t0, Error: "connection refused"}, {Status: eventslog.Loaded, Time: t0.Add(time.Second)}}, "ok", "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, []string{token})
			for _, e := range tc.entries {
				e.Destination, e.Table = "lite", "t1"
				if err := f.events.Add(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulker_consumer_lag"}, []string{"destination", "table"})
			rows := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulker_rows_loaded_total"}, []string{"destination", "table"})
			rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulker_events_rejected_total"}, []string{"destination", "table", "status"})
			f.metrics.MustRegister(lag, rows, rejected)
			lag.WithLabelValues("lite", "t1").Set(3)
			lag.WithLabelValues("lite", "t2").Set(4)
			lag.WithLabelValues("gone", "t1").Set(9) // a destination no longer configured
			rows.WithLabelValues("lite", "t1").Add(1200)
			rejected.WithLabelValues("lite", "t2", "dead").Add(2)
			rejected.WithLabelValues("lite", "t2", "failed").Add(5)

			code, _, body := f.get(t, "/api/destinations", token)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			if strings.Contains(body, "pw-never-shown") || strings.Contains(body, "lite.db") {
				t.Errorf("credentials in the answer: %s", body)
			}
			var got struct{ Destinations []Destination }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Destinations) != 2 {
				t.Fatalf("destinations %+v, want lite and wh", got.Destinations)
			}
			// A destination of a type bulker lacks is listed, with the reason.
			if u := got.Destinations[1]; u.ID != "wh" || u.State != "unsupported" || !strings.Contains(u.LastError, "clickhouse") {
				t.Errorf("unsupported destination %+v", u)
			}
			d := got.Destinations[0]
			if d.ID != "lite" || d.Type != "sqlite" || d.Mode != "stream" || d.State != tc.state || d.LastError != tc.lastErr {
				t.Errorf("got %+v, want state %s, last error %q", d, tc.state, tc.lastErr)
			}
			if d.Lag != 7 || d.RowsLoaded != 1200 || d.Dead != 2 || len(d.Tables) != 2 || d.Tables[1].Name != "t2" || d.Tables[1].Dead != 2 {
				t.Errorf("figures %+v: want lag 7, 1200 rows, 2 dead, tables t1 and t2", d)
			}
		})
	}
}

// The queue view needs a source of queue-events into a destination whose
// driver can summarise it; otherwise it says what is missing.
func TestQueuesWithoutPostgres(t *testing.T) {
	tests := []struct {
		name    string
		sources []loader.Source
		want    func(Queues) bool
	}{
		{"no source", []loader.Source{{ID: "orders", Topic: "orders", Destination: "lite", Table: "orders"}},
			func(q Queues) bool { return strings.Contains(q.Hint, "BULKER_SOURCE_QUEUE_EVENTS") && q.Error == "" }},
		{"a destination that is not PostgreSQL", []loader.Source{{ID: "qe", Topic: QueueEventsTopic, Destination: "lite", Table: "queue_events"}},
			func(q Queues) bool {
				return q.Hint == "" && strings.HasPrefix(q.Error, "unsupported") && q.Source == "qe" && q.Table == "queue_events"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, tc.sources...)
			_, _, body := f.get(t, "/api/queues", "")
			var q Queues
			if err := json.Unmarshal([]byte(body), &q); err != nil || !tc.want(q) || q.Queues == nil {
				t.Errorf("got %s (%v)", body, err)
			}
		})
	}
}

// The console works offline: no page loads anything from another site.
func TestAssetsAreSelfContained(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		for _, ref := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), ref) {
				t.Errorf("%s refers to %q: the console must work offline", path, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A source whose table has no loader figures yet (an API-only replica, a
// worker not started) is listed with zero figures.
func TestSourcesWithoutFigures(t *testing.T) {
	f := newFixture(t, nil, loader.Source{ID: "orders", Topic: "orders", Destination: "lite", Table: "orders"})
	code, _, body := f.get(t, "/api/sources", "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/sources: %d %s", code, body)
	}
	var got struct{ Sources []Source }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sources) != 1 || got.Sources[0].ID != "orders" || got.Sources[0].Lag != 0 || got.Sources[0].Group == "" {
		t.Errorf("sources %+v", got.Sources)
	}
}
