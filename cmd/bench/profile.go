package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/bench"
	"github.com/streamforge/streamforge/internal/bulker"
	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/postgres"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
	"github.com/streamforge/streamforge/internal/observe"
)

// profiler runs bulker inside the benchmark process so runtime/pprof sees
// it, and writes one CPU and one allocation profile per phase.
type profiler struct {
	dir, work string
	n         map[string]int
}

func newProfiler(dir, work string) (*profiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	runtime.MemProfileRate = 64 * 1024
	return &profiler{dir: dir, work: work, n: map[string]int{}}, nil
}

// phase starts a CPU profile; the returned function stops it and writes
// the allocations made meanwhile (the allocs profile is cumulative, so
// pprof -diff_base against the "-before" file isolates the phase).
func (p *profiler) phase(name string) func() {
	p.n[name]++
	base := filepath.Join(p.dir, fmt.Sprintf("%s-%d", name, p.n[name]))
	writeAllocs(base + "-allocs-before.pb.gz")
	f, err := os.Create(base + "-cpu.pb.gz")
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		writeAllocs(base + "-allocs.pb.gz")
	}
}

func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}

type inproc struct {
	cancel context.CancelFunc
	done   chan error
}

func (s *inproc) PeakRSSMB() (float64, error) { return bench.ProcStatusMB(os.Getpid(), "VmHWM") }

func (s *inproc) Stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("in-process bulker did not stop within 30s")
	}
}

func (p *profiler) startBulker(ctx context.Context, name string, env []string) (bench.Service, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(p.work, name+".log"))
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &inproc{cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer logf.Close()
		s.done <- bulker.Run(bctx, bulker.Options{
			Config: cfg, Environ: env,
			Factories: map[string]destination.Factory{
				"postgres": postgres.Open,
				"sqlite":   sqlite.Open,
			},
			Log:      observe.NewLogger(logf, false),
			Registry: observe.NewRegistry(),
		})
	}()
	url := "http://" + cfg.HTTP.Addr() + "/health"
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("in-process bulker ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, errors.New("in-process bulker not ready within 60s")
		}
	}
}
