package bulker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamforge/streamforge/internal/config"
)

// metricsServer serves /metrics, /healthz and /readyz on BULKER_METRICS_PORT,
// apart from the API, as Jitsu Bulker does; Run stops it last, after
// BULKER_SHUTDOWN_EXTRA_DELAY_SEC, so a last scrape sees the final counts.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// readyzTimeout bounds the check behind /readyz.
const readyzTimeout = 2 * time.Second

// listenMetrics binds the port at once, so a port in use fails start-up;
// the server has the API's timeouts.
func listenMetrics(hc config.HTTP, port int, g prometheus.Gatherer, ready readiness) (*metricsServer, error) {
	addr := net.JoinHostPort(hc.Host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (BULKER_METRICS_PORT): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		if err := ready.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return &metricsServer{ln: ln, srv: httpServer(mux, hc)}, nil
}

// serve answers until the server is shut down.
func (m *metricsServer) serve() error {
	if err := m.srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}
