package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
)

// Producer writes one record and returns after the broker acknowledged it.
type Producer interface {
	Produce(ctx context.Context, topic string, key, value []byte, headers []kafka.Header) error
}

// BaselineHandler is the least a server can do for bulker's promise: read
// the body, produce it to topic and answer 200 after the broker's
// acknowledgement. No validation, no auth, no metrics.
func BaselineHandler(p Producer, topic string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := p.Produce(r.Context(), topic, nil, body, nil); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`+"\n")
	})
}

// ServeBaseline serves BaselineHandler on a free loopback port until stop
// is called and returns the server's base URL.
func ServeBaseline(p Producer, topic string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: BaselineHandler(p, topic), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// RunBaselineServer serves BaselineHandler on listen, producing to topic on
// the broker of kcfg, until ctx ends. cmd/bench runs it in a process of its
// own, so the baseline pays the same process boundary costs as bulker.
func RunBaselineServer(ctx context.Context, kcfg kafka.Config, log *slog.Logger, listen, topic string) error {
	client, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		return err
	}
	defer client.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: BaselineHandler(client, topic), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
