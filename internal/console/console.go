// Package console is bulker's web console at /ui: static pages embedded in
// the binary (no CDN, works offline) and the JSON endpoints they read
// beside the API's /events and /failed: /api/destinations, /api/sources and
// /api/queues. The pages hold no data, so they are public; the JSON
// endpoints take the API's bearer tokens.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/loader"
)

//go:embed assets
var assets embed.FS

// Destinations are the configured destinations; *sink.Registry implements
// it.
type Destinations interface {
	Configs() []destination.Config
	// Unsupported are the destinations of a type bulker lacks.
	Unsupported() []destination.Config
	Driver(id string) (destination.Driver, error)
}

// EventsLog lists recent events; eventslog.Memory and eventslog.Redis
// implement it.
type EventsLog interface {
	List(ctx context.Context, f eventslog.Filter) ([]eventslog.Entry, error)
}

// Authenticator checks API tokens; *auth.Tokens implements it. With no
// token configured the endpoints are open, as the API is.
type Authenticator interface {
	Enabled() bool
	Check(token string) bool
}

// QueueEventsTopic is dummy-service's telemetry topic: a source reading
// it fills the table the queue view summarises.
const QueueEventsTopic = "queue-events"

// Deps are the console's collaborators; all but Auth and Now are required.
type Deps struct {
	Destinations Destinations
	Sources      loader.SourceList
	Events       EventsLog
	// Metrics is where the loaders' lag, rows and errors are read: the
	// registry /metrics serves, so the console and Prometheus agree.
	Metrics prometheus.Gatherer
	Auth    Authenticator
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// Server serves the console.
type Server struct {
	d      Deps
	static http.Handler
}

// New builds the console.
func New(d Deps) (*Server, error) {
	if d.Destinations == nil || d.Sources == nil || d.Events == nil || d.Metrics == nil || d.Log == nil {
		return nil, errors.New("console: Destinations, Sources, Events, Metrics and Log are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	return &Server{d: d, static: hardened(http.StripPrefix("/ui/", http.FileServerFS(sub)))}, nil
}

// hardened lets the pages load scripts, styles and data from bulker only,
// and never inside another site's frame: a value from an event that
// slipped into the page as markup could not run or call out.
func hardened(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// Router is where Register adds the console's routes: an *http.ServeMux,
// or bulker's API, which serves them beside its own.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the console's routes to mux.
func (s *Server) Register(mux Router) {
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.Handle("GET /ui/", s.static)
	mux.Handle("GET /api/destinations", s.authed(s.destinations))
	mux.Handle("GET /api/sources", s.authed(s.sources))
	mux.Handle("GET /api/queues", s.authed(s.queues))
}

// authed answers 401 without a valid bearer token, never repeating it.
func (s *Server) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := s.d.Auth; a != nil && a.Enabled() {
			scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
			if !strings.EqualFold(scheme, "Bearer") || !a.Check(strings.TrimSpace(token)) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="bulker"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"success": false, "error": `send "Authorization: Bearer <token>" with a valid token`})
				return
			}
		}
		next(w, r)
	})
}

// Destination is one entry of GET /api/destinations. Credentials are
// never part of it.
type Destination struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Mode string `json:"mode"`
	// State is ok (the last thing that happened was a load), error (a
	// failure came after the last load), idle (neither yet) or
	// unsupported (a type bulker lacks: its events are refused).
	State      string     `json:"state"`
	Lag        int64      `json:"lag"`
	RowsLoaded int64      `json:"rowsLoaded"`
	Outages    int64      `json:"outages"`
	Dead       int64      `json:"dead"`
	LastLoad   *time.Time `json:"lastLoad,omitempty"`
	LastError  string     `json:"lastError,omitempty"`
	ErrorTime  *time.Time `json:"errorTime,omitempty"`
	Tables     []Table    `json:"tables"`
}

// Table is one destination table's figures.
type Table struct {
	Name       string `json:"name"`
	Lag        int64  `json:"lag"`
	RowsLoaded int64  `json:"rowsLoaded"`
	Dead       int64  `json:"dead"`
}

// States of a destination.
const (
	stateOK    = "ok"
	stateError = "error"
	stateIdle  = "idle"
	// stateUnsupported: a destination of a type bulker lacks.
	stateUnsupported = "unsupported"
)

func (s *Server) destinations(w http.ResponseWriter, r *http.Request) {
	st, err := gather(s.d.Metrics)
	if err != nil {
		s.d.Log.Warn("console: reading metrics failed", "err", err)
	}
	out := []Destination{}
	for _, c := range s.d.Destinations.Configs() {
		d := Destination{ID: c.ID, Type: c.Type, Mode: string(c.Options.Mode), State: stateIdle, Tables: []Table{}}
		if d.Mode == "" {
			d.Mode = string(destination.Batch)
		}
		for _, name := range st.tables(c.ID) {
			f := st[key{c.ID, name}]
			d.Tables = append(d.Tables, Table{Name: name, Lag: f.lag, RowsLoaded: f.rows, Dead: f.dead})
			d.Lag, d.RowsLoaded, d.Outages, d.Dead = d.Lag+f.lag, d.RowsLoaded+f.rows, d.Outages+f.outages, d.Dead+f.dead
		}
		if err := s.lastEvents(r.Context(), &d); err != nil {
			s.d.Log.Warn("console: reading the events log failed", "destination", c.ID, "err", err)
		}
		out = append(out, d)
	}
	for _, c := range s.d.Destinations.Unsupported() {
		out = append(out, Destination{ID: c.ID, Type: c.Type, Mode: string(c.Options.Mode), State: stateUnsupported, Tables: []Table{},
			LastError: fmt.Sprintf("destination type %q is not supported by this bulker: its events are refused", c.Type)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"destinations": out, "now": s.d.Now().UTC()})
}

// lastEvents fills the state, last load and last error from the events log.
func (s *Server) lastEvents(ctx context.Context, d *Destination) error {
	loaded, err := s.d.Events.List(ctx, eventslog.Filter{Destination: d.ID, Statuses: []eventslog.Status{eventslog.Loaded}, Limit: 1})
	if err != nil {
		return err
	}
	failed, err := s.d.Events.List(ctx, eventslog.Filter{Destination: d.ID, Statuses: []eventslog.Status{eventslog.Failed, eventslog.Dead}, Limit: 1})
	if err != nil {
		return err
	}
	if len(loaded) > 0 {
		t := loaded[0].Time
		d.LastLoad, d.State = &t, stateOK
	}
	if len(failed) > 0 {
		t := failed[0].Time
		d.LastError, d.ErrorTime = failed[0].Error, &t
		if d.LastLoad == nil || t.After(*d.LastLoad) {
			d.State = stateError
		}
	}
	return nil
}

// Source is one entry of GET /api/sources.
type Source struct {
	ID          string `json:"id"`
	Topic       string `json:"topic"`
	Destination string `json:"destination"`
	Table       string `json:"table"`
	Mode        string `json:"mode"`
	Group       string `json:"group"`
	Lag         int64  `json:"lag"`
	RowsLoaded  int64  `json:"rowsLoaded"`
}

func (s *Server) sources(w http.ResponseWriter, _ *http.Request) {
	st, err := gather(s.d.Metrics)
	if err != nil {
		s.d.Log.Warn("console: reading metrics failed", "err", err)
	}
	out := []Source{}
	for _, src := range s.d.Sources.Sources() {
		// The lag and rows are the table's: the source's topic and the
		// table's own incoming topic load into it together.
		f := st.at(src.Destination, src.Table)
		out = append(out, Source{ID: src.ID, Topic: src.Topic, Destination: src.Destination, Table: src.Table,
			Mode: string(src.Mode), Group: src.GroupName(), Lag: f.lag, RowsLoaded: f.rows})
	}
	slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// queuesTimeout bounds the query of the queue view: a slow destination
// must not hold the page's poll.
const queuesTimeout = 10 * time.Second

// Queues is the answer of GET /api/queues. Without a source of
// QueueEventsTopic, Hint says how to configure one.
type Queues struct {
	Source      string                    `json:"source,omitempty"`
	Destination string                    `json:"destination,omitempty"`
	Table       string                    `json:"table,omitempty"`
	Queues      []destination.QueueStatus `json:"queues"`
	Hint        string                    `json:"hint,omitempty"`
	Error       string                    `json:"error,omitempty"`
}

const queuesHint = `No source reads dummy-service's queue-events topic. Configure one, e.g. ` +
	`BULKER_SOURCE_QUEUE_EVENTS={"topic":"queue-events","destination":"pg","table":"queue_events"}, ` +
	`with a PostgreSQL destination.`

func (s *Server) queues(w http.ResponseWriter, r *http.Request) {
	out := Queues{Queues: []destination.QueueStatus{}}
	srcs := s.d.Sources.Sources() // once: a reload may replace the list
	i := slices.IndexFunc(srcs, func(src loader.Source) bool { return src.Topic == QueueEventsTopic })
	if i < 0 {
		out.Hint = queuesHint
		writeJSON(w, http.StatusOK, out)
		return
	}
	src := srcs[i]
	out.Source, out.Destination, out.Table = src.ID, src.Destination, src.Table
	drv, err := s.d.Destinations.Driver(src.Destination)
	if err != nil {
		out.Error = err.Error()
		writeJSON(w, http.StatusOK, out)
		return
	}
	rep, ok := drv.(destination.QueueReporter)
	if !ok {
		out.Error = "unsupported: the queue view runs PostgreSQL's SQL; destination " + src.Destination + " is not PostgreSQL"
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queuesTimeout)
	defer cancel()
	qs, err := rep.Queues(ctx, src.Table)
	if err != nil {
		// The driver's errors name host, database and user, never the password.
		out.Error = err.Error()
	} else if qs != nil {
		out.Queues = qs
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
