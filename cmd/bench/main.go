// Command bench is StreamForge's end-to-end benchmark (issue 5). It builds
// and starts the embedded broker, bulker and dummy-service, drives them
// over 127.0.0.1 next to in-run baselines, prints a table and ends with one
// line "RESULT key=value …". PostgreSQL must be running (-pg).
//
//	go run ./cmd/bench          # full: about 6 minutes (Go generator and wrk)
//	go run ./cmd/bench -quick   # same keys, shorter runs, under 3 minutes
//	go run ./cmd/bench -quick -profile /tmp/prof   # bulker in-process, CPU and alloc profiles
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/streamforge/streamforge/internal/bench"
	"github.com/streamforge/streamforge/internal/buildinfo"
	"github.com/streamforge/streamforge/internal/kafka"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		quick   bool
		pgDSN   string
		keep    bool
		profile string
		env     multi

		inprocBaseline bool
		only           []string
		version        bool
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&quick, "quick", false, "shorter runs (same keys), under 3 minutes")
	fs.StringVar(&pgDSN, "pg", envOr("STREAMFORGE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL to load into (a schema bench_* is created and dropped)")
	fs.BoolVar(&keep, "keep", false, "keep the work directory (logs, data) instead of removing it")
	fs.StringVar(&profile, "profile", "", "run bulker in-process and write CPU and allocation profiles of the ingest and load phases into this directory")
	fs.Var(&env, "bulker-env", "KEY=value added to the environment of the bulker processes (e.g. GOMEMLIMIT=64MiB); repeatable")
	fs.Func("only", "run only these phases, comma-separated ("+strings.Join(bench.Phases, ", ")+"); for profiling one", func(v string) error {
		only = strings.Split(v, ",")
		for _, p := range only {
			if !slices.Contains(bench.Phases, p) {
				return fmt.Errorf("unknown phase %q", p)
			}
		}
		return nil
	})
	fs.BoolVar(&version, "version", false, "print the version, commit and Go release, then exit")
	fs.BoolVar(&inprocBaseline, "baseline-inprocess", false, "serve the baseline handler inside the bench process (shares the load generator's runtime) instead of a process of its own")
	if len(os.Args) == 5 && os.Args[1] == serveBaseline {
		return runBaseline(os.Args[2], os.Args[3], os.Args[4])
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if version {
		fmt.Println(buildinfo.Read().Line("bench"))
		return 0
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()

	work, err := os.MkdirTemp("", "streamforge-bench-")
	if err != nil {
		log.Error("creating the work directory", "err", err)
		return 1
	}
	failed := false
	if keep {
		fmt.Println("work directory (logs, data):", work)
	}
	defer func() {
		switch {
		case keep:
		case failed:
			fmt.Fprintln(os.Stderr, "bench: kept the work directory for inspection (logs of every process):", work)
		default:
			_ = os.RemoveAll(work)
		}
	}()
	modDir, err := moduleDir(ctx)
	if err != nil {
		log.Error("finding the module", "err", err)
		return 1
	}
	start := time.Now()
	fmt.Println("machine:", machine())
	bins, err := bench.Build(ctx, modDir, filepath.Join(work, "bin"), "./cmd/bulker", "./cmd/broker", "./cmd/dummy-service")
	if err != nil {
		log.Error("building", "err", err)
		return 1
	}
	fmt.Printf("[%6.1fs] built bulker, broker, dummy-service from %s\n", time.Since(start).Seconds(), treeState(ctx, modDir))

	sizes := bench.Full
	if quick {
		sizes = bench.Quick
	}
	o := bench.Options{Sizes: sizes, Bins: bins, WorkDir: work, PGDSN: pgDSN, Log: log, Out: os.Stdout, BulkerEnv: env, Started: start, Only: only}
	if !inprocBaseline {
		self, err := os.Executable()
		if err != nil {
			log.Error("finding the bench binary for the baseline process", "err", err)
			return 1
		}
		o.BaselineCmd = []string{self, serveBaseline}
	}
	if profile != "" {
		p, err := newProfiler(profile, work)
		if err != nil {
			log.Error("profiling", "err", err)
			return 1
		}
		o.StartBulker, o.Profile = p.startBulker, p.phase
		fmt.Println("profiling: bulker runs in-process; RSS and rates include the load generator")
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		failed = true
		log.Error("benchmark failed", "err", err)
		return 1
	}
	fmt.Println()
	fmt.Println("load average at the end:", loadavg())
	res.Print(os.Stdout)
	if len(res.Errors) > 0 {
		failed = true
		return 1
	}
	return 0
}

// serveBaseline is the internal sub-command running the baseline server
// in a process of its own: bench serve-baseline LISTEN BROKER TOPIC.
const serveBaseline = "serve-baseline"

func runBaseline(listen, broker, topic string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kcfg := kafka.Config{Brokers: []string{broker}, ConnectTimeout: 10 * time.Second, ClientID: "bench-baseline"}
	if err := bench.RunBaselineServer(ctx, kcfg, log, listen, topic); err != nil {
		log.Error("baseline server", "err", err)
		return 1
	}
	return 0
}

func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from inside the StreamForge module")
	}
	return filepath.Dir(mod), nil
}

// treeState names the commit the programs were built from, and whether
// the working tree had uncommitted changes.
func treeState(ctx context.Context, dir string) string {
	head, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "an unknown commit"
	}
	state := "commit " + strings.TrimSpace(string(head))
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
		state += " with uncommitted changes"
	}
	return state
}

// machine describes the host: what the figures depend on.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			mem = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s memory, %s, load average %s", runtime.NumCPU(), model, mem, runtime.Version(), loadavg())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// multi collects a repeated flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
