// Package ingest is bulker's HTTP API: it validates events and hands them
// to Kafka (POST /post), loads NDJSON in bulk (POST /bulk), and shows
// recent and failed events (/events, /log, /failed). It knows Kafka and the
// databases only through the small interfaces below.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Producer hands records to Kafka; *kafka.Client implements it. Both
// methods call done exactly once, when the broker acknowledged the record
// or writing it failed, possibly after ctx ended: franz-go keeps a record
// it already sent until it learns its fate. done does not block.
type Producer interface {
	// TryProduce never waits: with the client's buffer full, done gets an
	// error wrapping kafka.ErrBufferFull.
	TryProduce(ctx context.Context, r kafka.Record, done func(error))
	// ProduceAsync waits for room in the buffer until ctx ends.
	ProduceAsync(ctx context.Context, r kafka.Record, done func(error))
}

// Reachability tells whether Kafka can be reached; *kafka.Publisher
// implements it.
type Reachability interface {
	// Reachability returns why no broker can be reached now, or nil and a
	// channel closed once that becomes known.
	Reachability() (lost <-chan struct{}, err error)
}

// Destinations finds a configured destination by id; LookupUnsupported
// and Unsupported find those of a type bulker cannot load, which the API
// names rather than calling them unknown.
type Destinations interface {
	Lookup(id string) (destination.Config, bool)
	LookupUnsupported(id string) (destination.Config, bool)
	Unsupported() []destination.Config
}

// EventsLog records and lists recent events; eventslog.Memory and
// eventslog.Redis implement it.
type EventsLog interface {
	Add(ctx context.Context, e eventslog.Entry) error
	List(ctx context.Context, f eventslog.Filter) ([]eventslog.Entry, error)
}

// Authenticator checks API tokens; *auth.Tokens implements it. With no
// token configured (Enabled false) the API is open.
type Authenticator interface {
	Enabled() bool
	Check(token string) bool
}

// ReadyChecker reports whether bulker can accept events (Kafka reachable,
// destinations loaded).
type ReadyChecker interface {
	Ready(ctx context.Context) error
}

// Config are the API's settings; config.Load fills them from BULKER_*.
type Config struct {
	TopicPrefix  string // BULKER_KAFKA_TOPIC_PREFIX
	MaxEventSize int64  // /post body and each /bulk line, bytes
	MaxBulkSize  int64  // whole /bulk body, bytes
	// ProduceTimeout bounds the wait for the broker's acknowledgement.
	ProduceTimeout time.Duration
	// FailedScan is how many of the newest records of the retry or
	// dead-letter topic GET /failed looks at.
	FailedScan int
	// BulkReadTimeout bounds the reading of a /bulk body, from when the
	// handler starts it; 0 leaves the server's ReadTimeout in force.
	BulkReadTimeout time.Duration
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.MaxEventSize < 1:
		return errors.New("ingest: MaxEventSize must be positive")
	case c.MaxBulkSize < 1:
		return errors.New("ingest: MaxBulkSize must be positive")
	case c.ProduceTimeout <= 0:
		return errors.New("ingest: ProduceTimeout must be positive")
	case c.FailedScan < 1:
		return errors.New("ingest: FailedScan must be positive")
	case c.BulkReadTimeout < 0:
		return errors.New("ingest: BulkReadTimeout must not be negative")
	}
	return nil
}

// Deps are the server's collaborators. Producer, Destinations and Logger
// are required; a nil Events, Bulk, Failed, Replay or Test makes its
// endpoints answer 501, a nil Auth leaves the API open, a nil Ready is
// always ready.
type Deps struct {
	Producer Producer
	// Kafka, when set, lets /post answer 503 at once while no broker can
	// be reached, instead of after ProduceTimeout.
	Kafka        Reachability
	Destinations Destinations
	Events       EventsLog
	Bulk         BulkLoader
	Failed       FailedSource
	Replay       Replayer
	Test         ConnectionTester
	Auth         Authenticator
	Ready        ReadyChecker
	Metrics      http.Handler // served at /metrics without auth
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
	Now          func() time.Time // nil: time.Now
}

// Server is the HTTP API; it implements http.Handler.
type Server struct {
	cfg     Config
	d       Deps
	mux     *http.ServeMux
	events  *prometheus.CounterVec
	bulks   *prometheus.CounterVec
	latency observers
	tables  labelSet
	waiters sync.Pool // of *waiter
	ticks   ticks     // the waiters' beat
	writers sync.Pool // of *statusWriter
	parsers sync.Pool // of *schema.Parser, for partitionKey
}

// Rejection reasons, the bounded values of the reason label.
const (
	reasonOK            = "ok"
	reasonUnauthorized  = "unauthorized"
	reasonNoDestination = "unknown_destination"
	reasonUnsupported   = "unsupported_type"
	reasonBadTable      = "bad_table"
	reasonTooLarge      = "too_large"
	reasonBadEvent      = "bad_event"
	reasonBadRequest    = "bad_request"
	reasonKafka         = "kafka_unavailable"
	reasonClientGone    = "client_gone"
	reasonLoad          = "load_failed"
	reasonTimeout       = "timeout" // the body did not arrive in time
)

// unknownLabel stands for label values that are not configured names.
const unknownLabel = "unknown"

// New builds the server and registers its metrics.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Producer == nil || d.Destinations == nil || d.Logger == nil {
		return nil, errors.New("ingest: Producer, Destinations and Logger are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: cfg,
		d:   d,
		mux: http.NewServeMux(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_ingest_events_total",
			Help: "Events received by POST /post, by destination, table, status (accepted or rejected) and reason.",
		}, []string{"destination", "table", "status", "reason"}),
		bulks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_bulk_requests_total",
			Help: "POST /bulk requests by destination, status (loaded or rejected) and reason.",
		}, []string{"destination", "status", "reason"}),
		latency: observers{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulker_http_request_duration_seconds",
			Help:    "HTTP request duration by route and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "code"})},
	}
	s.tables = labelSet{max: 1000, events: s.events}
	// Readiness as a series, so an alert sees what a load balancer sees
	// even where nothing probes /ready. It is checked at each scrape: a
	// value kept from the last probe could be stale for any length of time.
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bulker_ready",
		Help: "1 while bulker can accept events (Kafka answers, as GET /ready checks), else 0; checked at each scrape.",
	}, func() float64 {
		if s.checkReady(context.Background(), scrapeReadyTimeout) != nil {
			return 0
		}
		return 1
	})
	for _, c := range []prometheus.Collector{s.events, s.bulks, s.latency.vec, ready} {
		if err := d.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	s.mux.HandleFunc(postRoute, func(w http.ResponseWriter, r *http.Request) {
		s.servePost(w, r, r.PathValue("destinationId"))
	})
	s.mux.Handle("POST /bulk/{destinationId}", s.authed(http.HandlerFunc(s.bulk)))
	s.mux.Handle("GET /failed/{destinationId}", s.authed(http.HandlerFunc(s.failed)))
	s.mux.Handle("POST /failed/{destinationId}/replay", s.authed(http.HandlerFunc(s.replayFailed)))
	s.mux.Handle("POST /test", s.authed(http.HandlerFunc(s.test)))
	s.mux.Handle("GET /events", s.authed(http.HandlerFunc(s.listEvents)))
	s.mux.Handle("GET /log/{eventType}/{actorId}", s.authed(http.HandlerFunc(s.log)))
	s.mux.HandleFunc("GET /ready", s.ready)
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "pass"})
	})
	if d.Metrics != nil {
		s.mux.Handle("GET /metrics", d.Metrics)
	}
	return s, nil
}

// Handle serves h at pattern beside the API's routes, with the same
// request metrics. One router for everything a listener serves: a second
// mux in front would match every event's path twice.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP routes the request and observes its duration.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw, _ := s.writers.Get().(*statusWriter)
	if sw == nil {
		sw = &statusWriter{}
	}
	*sw = statusWriter{ResponseWriter: w, code: http.StatusOK}
	if r.ContentLength != 0 {
		sw.body = bodyWatch{ReadCloser: r.Body}
		sw.watching = true
		r.Body = &sw.body
	}
	if id, ok := postDestination(r); ok {
		r.Pattern = postRoute
		s.servePost(sw, r, id)
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	route := r.Pattern // set by the mux on this request, or above
	if route == "" {
		route = "unmatched"
	}
	s.latency.get(route, sw.code).Observe(time.Since(start).Seconds())
	// Handlers do not keep the writer past their return.
	*sw = statusWriter{}
	s.writers.Put(sw)
}

// postRoute is the pattern of the events' route. ServeHTTP matches most
// of its requests itself: the mux's match of a wildcard allocates, and
// this route takes every event.
const postRoute = "POST /post/{destinationId}"

// postDestination returns the destination of a request the mux would
// route to postRoute as it is. A path the mux would clean or unescape
// first is not matched here but left to the mux.
func postDestination(r *http.Request) (id string, ok bool) {
	if r.Method != http.MethodPost || r.URL.RawPath != "" {
		return "", false
	}
	id, ok = strings.CutPrefix(r.URL.Path, "/post/")
	if !ok || id == "" || id == "." || id == ".." || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// servePost serves postRoute for destination id.
func (s *Server) servePost(w http.ResponseWriter, r *http.Request, id string) {
	if s.authorized(w, r, id) {
		s.post(w, r, id)
	}
}

// authed rejects requests without a valid bearer token.
func (s *Server) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(w, r, r.PathValue("destinationId")) {
			next.ServeHTTP(w, r)
		}
	})
}

// authorized reports whether r carries a valid bearer token, answering
// 401 itself when it does not. The messages never repeat what the client
// sent. dest is the destination in the path, if any.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, dest string) bool {
	a := s.d.Auth
	if a == nil || !a.Enabled() {
		return true
	}
	msg := ""
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case h == "":
		msg = `missing Authorization header: send "Authorization: Bearer <token>"`
	case !strings.EqualFold(scheme, "Bearer"):
		msg = `unsupported Authorization scheme: send "Authorization: Bearer <token>"`
	case !a.Check(strings.TrimSpace(token)):
		msg = "invalid token"
	default:
		return true
	}
	if r.Pattern == postRoute {
		s.events.WithLabelValues(s.destLabel(dest), unknownLabel, "rejected", reasonUnauthorized).Inc()
	}
	s.d.Logger.Info("request rejected", "reason", reasonUnauthorized, "path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="bulker"`)
	fail(w, http.StatusUnauthorized, msg)
	return false
}

// readiness is the body of GET /ready. Destinations of a type bulker
// lacks are listed without making it unready: the others work.
type readiness struct {
	Status      string            `json:"status"`
	Error       string            `json:"error,omitempty"`
	Unsupported []unsupportedDest `json:"unsupported,omitempty"`
}

type unsupportedDest struct {
	Destination string `json:"destination"`
	Type        string `json:"type"`
	Error       string `json:"error"`
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	body, code := readiness{Status: "ready"}, http.StatusOK
	if err := s.checkReady(r.Context(), readyTimeout); err != nil {
		body, code = readiness{Status: "not ready", Error: err.Error()}, http.StatusServiceUnavailable
	}
	for _, c := range s.d.Destinations.Unsupported() {
		body.Unsupported = append(body.Unsupported, unsupportedDest{Destination: c.ID, Type: c.Type, Error: unsupportedError(c)})
	}
	writeJSON(w, code, body)
}

// unsupportedError says why c's events are refused.
func unsupportedError(c destination.Config) string {
	return fmt.Sprintf("destination %q is of type %q, which this bulker does not support", c.ID, c.Type)
}

// readyTimeout bounds the check of GET /ready. A scrape's is shorter: a
// scrape that outlasts its own timeout would turn "not ready" into "down".
const (
	readyTimeout       = 5 * time.Second
	scrapeReadyTimeout = 2 * time.Second
)

// checkReady is the answer of GET /ready and of the bulker_ready gauge.
func (s *Server) checkReady(ctx context.Context, timeout time.Duration) error {
	if s.d.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.d.Ready.Ready(ctx)
}

// destLabel returns the destination's id as a label value when it is
// configured, so a label never holds arbitrary input.
func (s *Server) destLabel(id string) string {
	if c, ok := s.d.Destinations.Lookup(id); ok {
		return c.ID // not id: Lookup also finds it in another case
	}
	return unknownLabel
}

// labelSet bounds the table label: the first max distinct
// destination/table pairs keep their names, later ones are counted as
// "other", so a client inventing table names cannot grow the metrics
// without limit. Each label keeps its counter of accepted events, which
// WithLabelValues would find by hashing four labels on every event.
type labelSet struct {
	mu     sync.RWMutex
	max    int
	events *prometheus.CounterVec
	seen   map[[2]string]*tableLabel
	other  map[string]*tableLabel // by destination
}

// tableLabel is the table label of destination/table pairs.
type tableLabel struct {
	dest, name string
	events     *prometheus.CounterVec
	once       sync.Once
	accepted   prometheus.Counter // made at the first accepted event
}

// accept counts an accepted event. The series appears only then, not for
// a table whose events were all rejected.
func (t *tableLabel) accept() {
	t.once.Do(func() { t.accepted = t.events.WithLabelValues(t.dest, t.name, "accepted", reasonOK) })
	t.accepted.Inc()
}

func (l *labelSet) table(dest, table string) *tableLabel {
	k := [2]string{dest, table}
	l.mu.RLock()
	t := l.seen[k]
	l.mu.RUnlock()
	if t != nil {
		return t
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.seen[k]; t != nil {
		return t
	}
	if len(l.seen) >= l.max {
		if t := l.other[dest]; t != nil {
			return t
		}
		t = &tableLabel{dest: dest, name: "other", events: l.events}
		if l.other == nil {
			l.other = map[string]*tableLabel{}
		}
		l.other[dest] = t
		return t
	}
	if l.seen == nil {
		l.seen = map[[2]string]*tableLabel{}
	}
	t = &tableLabel{dest: dest, name: table, events: l.events}
	l.seen[k] = t
	return t
}

// observers caches the latency histogram's children: WithLabelValues
// hashes and checks both labels on every request. Routes are the mux's
// patterns and codes the handlers' answers, both few.
type observers struct {
	vec *prometheus.HistogramVec
	mu  sync.RWMutex
	m   map[routeCode]prometheus.Observer
}

type routeCode struct {
	route string
	code  int
}

func (o *observers) get(route string, code int) prometheus.Observer {
	k := routeCode{route, code}
	o.mu.RLock()
	ob, ok := o.m[k]
	o.mu.RUnlock()
	if ok {
		return ob
	}
	ob = o.vec.WithLabelValues(route, strconv.Itoa(code))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[routeCode]prometheus.Observer{}
	}
	o.m[k] = ob
	return ob
}

type statusWriter struct {
	http.ResponseWriter
	code     int
	watching bool // the request has a body, read through body
	body     bodyWatch
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	if w.watching && !w.body.eof {
		// An answer before the body was read (401, 404, 413, 408…) closes
		// the connection: net/http would otherwise read what is left of
		// the body before sending it, so a client that never sends its
		// body would wait for the answer until the read deadline. Nor is
		// the rest read after the answer, which would hold the connection
		// as long.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Now())
	}
	w.ResponseWriter.WriteHeader(code)
}

// WriteString spares io.WriteString a copy of s: net/http's writer has
// the method.
func (w *statusWriter) WriteString(s string) (int, error) {
	return io.WriteString(w.ResponseWriter, s)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyWatch tells whether the handler read the request body to its end.
type bodyWatch struct {
	io.ReadCloser
	eof bool
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

type answer struct {
	Success bool   `json:"success"`
	Error   string `json:"error,omitempty"`
	Count   *int   `json:"count,omitempty"`
	OK      *bool  `json:"ok,omitempty"` // POST /test, as Jitsu answers it
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, answer{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
