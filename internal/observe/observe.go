// Package observe sets up what every StreamForge program exposes to its
// operators: JSON logs on one line per record (Fluent Bit / Loki ready) and a
// Prometheus registry served over HTTP with health and readiness probes.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamforge/streamforge/internal/buildinfo"
)

// NewLogger writes one JSON object per line to w with the keys time, level,
// msg and the record's fields. debug lowers the level from INFO to DEBUG.
func NewLogger(w io.Writer, debug bool) *slog.Logger {
	lvl := slog.LevelInfo
	if debug {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors; programs register their own metrics on it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Register registers every collector on reg, naming the first that fails
// (a name registered twice, inconsistent labels).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// RegisterBuildInfo registers the gauge <namespace>_build_info{version,
// commit,goversion} 1, so dashboards and alerts can tell which build each
// instance runs (and see a rollout happen). A registry that already holds
// it returns an error rather than panicking.
func RegisterBuildInfo(reg prometheus.Registerer, namespace string, info buildinfo.Info) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "build_info",
		Help:      "Always 1; the labels name the version, commit and Go release of the running build.",
		ConstLabels: prometheus.Labels{
			"version":   info.Version,
			"commit":    info.Commit,
			"goversion": info.GoVersion,
		},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("registering %s_build_info: %w", namespace, err)
	}
	return nil
}

// shutdownTimeout bounds how long in-flight scrapes may delay an exit.
const shutdownTimeout = 5 * time.Second

// Bounds on clients of the metrics server, whose requests are small GETs:
// a silent or slow client cannot hold a connection for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 60 * time.Second
)

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// readyTimeout bounds a readiness check, below the usual probe timeout.
const readyTimeout = 2 * time.Second

// Listen binds addr (":8000", "127.0.0.1:0", …) at once, so a port already
// in use is reported before the program starts its work. ready decides the
// answer of /readyz: 503 with its error as the reason, or 200 for nil; a
// nil ready means always ready.
func Listen(addr string, g prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			err := ready(ctx)
			cancel()
			if err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return &Server{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, IdleTimeout: idleTimeout},
		log: log,
	}, nil
}

// Addr is the address the server listens on, with the real port when the
// configured one was 0.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until ctx ends, then shuts down within a bounded
// time.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("metrics server listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serving metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
