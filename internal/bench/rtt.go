package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/probe"
)

// pingPhase starts a dummy-service, reads its idle memory and pings it
// through debug-producer's code (probe.PingRTTs).
func (r *runner) pingPhase(ctx context.Context) error {
	metrics, err := FreeAddr()
	if err != nil {
		return err
	}
	const queue = "bench"
	env := []string{"KAFKA_BOOTSTRAP_SERVERS=" + r.broker, "QUEUE_ID=" + queue, "METRICS_ADDR=" + metrics,
		"BROKER_DATA_DIR=" + filepath.Join(r.o.WorkDir, "dummy")}
	p, err := Start("dummy-service", r.o.Bins["./cmd/dummy-service"], nil, env, r.o.WorkDir)
	if err != nil {
		return err
	}
	defer p.Stop()
	if err := WaitHTTP(ctx, p, "http://"+metrics+"/readyz", 30*time.Second); err != nil {
		return err
	}
	// Idle: started, subscribed, nothing to do.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second):
	}
	rss, err := p.RSSMB()
	if err != nil {
		return err
	}
	hwm, _ := p.PeakRSSMB()
	r.res.Set("dummy_rss_mb", rss, fmt.Sprintf("VmRSS 2 s after ready (peak so far %.1f)", hwm))
	const interval = 5 * time.Millisecond
	rtts, err := probe.PingRTTs(ctx, r.kcfg, r.o.Log, queue, r.o.Sizes.Pings, interval, 10*time.Second)
	if len(rtts) == 0 {
		if err == nil {
			err = fmt.Errorf("no pong")
		}
		return err
	}
	if err != nil {
		r.res.Fail("ping", err) // some lost; the answered ones still count
	}
	slices.Sort(rtts)
	note := fmt.Sprintf("%d of %d pings answered, one every %s", len(rtts), r.o.Sizes.Pings, interval)
	r.res.Set("rtt_p50_ms", ms(Percentile(rtts, 0.5)), note)
	r.res.Set("rtt_p99_ms", ms(Percentile(rtts, 0.99)), note)
	r.progress("ping: p50 %.2f ms p99 %.2f ms; dummy RSS %.1f MiB", ms(Percentile(rtts, 0.5)), ms(Percentile(rtts, 0.99)), rss)
	return nil
}

// rawRTTPhase measures produce→consume round trips on the same broker.
func (r *runner) rawRTTPhase(ctx context.Context) error {
	rtts, err := RawRTTs(ctx, r.kcfg, r.o.Log, "bench.rtt", r.o.Sizes.RawRTTs)
	if err != nil {
		return err
	}
	r.res.Set("raw_rtt_p50_ms", ms(Percentile(rtts, 0.5)),
		fmt.Sprintf("%d sequential produce (acked) → read by a tail reader; p99 %.2f ms", len(rtts), ms(Percentile(rtts, 0.99))))
	r.progress("raw rtt: p50 %.2f ms p99 %.2f ms", ms(Percentile(rtts, 0.5)), ms(Percentile(rtts, 0.99)))
	return nil
}

// RawRTTs returns n sorted round trips: produce one record, read it back.
func RawRTTs(ctx context.Context, kcfg kafka.Config, log *slog.Logger, topic string, n int) ([]time.Duration, error) {
	prod, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	if err := prod.EnsureTopic(ctx, kafka.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
		return nil, err
	}
	cons, err := kafka.NewTailReader(ctx, kcfg, log, topic)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	rtts := make([]time.Duration, 0, n)
	for i := range n {
		want := []byte(strconv.Itoa(i))
		start := time.Now()
		if err := prod.Produce(ctx, topic, nil, want, nil); err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		found := false
		for !found {
			recs, err := cons.Poll(pctx, 0)
			if err != nil {
				cancel()
				return nil, fmt.Errorf("reading round trip %d: %w", i, err)
			}
			for _, rec := range recs {
				found = found || string(rec.Value) == string(want)
			}
		}
		cancel()
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts, nil
}

func splitHostPort(addr string) (host, port string, err error) { return net.SplitHostPort(addr) }

// envValue returns the value of key in env (KEY=value strings).
func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}
