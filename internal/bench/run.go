// Package bench is StreamForge's end-to-end benchmark: it starts the
// embedded broker, bulker and dummy-service as a user would, drives them
// from 127.0.0.1 with a Go load generator and measures each figure of
// issue 5 next to an in-run baseline of what this machine can do for the
// same promise (a bare franz-go produce behind net/http, a raw pgx COPY,
// a bare produce→consume round trip).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// Sizes bound every phase in count and time.
type Sizes struct {
	Rounds        int           // baseline/ingest rounds; figures are medians
	RoundDuration time.Duration // of each round
	Conns         int           // keep-alive connections of the load generator
	LoadEvents    int           // pre-produced events for load_rows_per_s
	E2EEvents     int           // POSTed events for e2e_rows_per_s and sqlite_rows_per_s
	StreamEvents  int           // POSTed events for stream_rows_per_s
	Pings         int
	RawRTTs       int
}

// Full and Quick are the two modes of cmd/bench.
var (
	Full  = Sizes{Rounds: 3, RoundDuration: 15 * time.Second, Conns: 50, LoadEvents: 1_000_000, E2EEvents: 200_000, StreamEvents: 20_000, Pings: 1000, RawRTTs: 300}
	Quick = Sizes{Rounds: 3, RoundDuration: 4 * time.Second, Conns: 50, LoadEvents: 300_000, E2EEvents: 40_000, StreamEvents: 20_000, Pings: 1000, RawRTTs: 200}
)

// BulkerStarter starts a bulker with env (KEY=value) and returns once it
// serves HTTP on the address env names.
type BulkerStarter func(ctx context.Context, name string, env []string) (Service, error)

// Options configure Run.
type Options struct {
	Sizes Sizes
	// Bins are the built programs by package ("./cmd/broker" …).
	Bins    map[string]string
	WorkDir string // temporary: data directories and logs
	PGDSN   string
	Started time.Time    // progress lines count from here; zero: Run's start
	Log     *slog.Logger // the benchmark's own diagnostics
	Out     io.Writer    // progress lines
	// StartBulker, when nil, execs Bins["./cmd/bulker"] with BulkerEnv
	// added to its environment (GOGC, GOMEMLIMIT experiments).
	StartBulker BulkerStarter
	BulkerEnv   []string
	// BaselineCmd, when set, runs the baseline server as a process of its
	// own: the command and its first arguments, to which the listen
	// address, the broker address and the topic are appended.
	BaselineCmd []string
	// Profile, when set, is called at the start of the "baseline", "ingest"
	// and "load" phases; the function it returns is called at their end.
	Profile func(phase string) (stop func())
	// Only, when set, runs just these phases (see Phases); the keys of the
	// others are missing from the results.
	Only []string
}

const token = "bench-token"

type runner struct {
	o       Options
	res     *Results
	brokerP *Proc
	broker  string
	kcfg    kafka.Config
	pg      *PG
	started time.Time
}

// Run runs every phase and returns the figures; a failed phase is recorded
// in Results.Errors and the others still run. The error is for what stops
// everything (no broker, no PostgreSQL).
func Run(ctx context.Context, o Options) (*Results, error) {
	r := &runner{o: o, res: NewResults(), started: o.Started}
	if r.started.IsZero() {
		r.started = time.Now()
	}
	if o.StartBulker == nil {
		r.o.StartBulker = r.execBulker
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	broker, err := Start("broker", o.Bins["./cmd/broker"], []string{"--listen", addr, "--data-dir", filepath.Join(o.WorkDir, "kafka")}, nil, o.WorkDir)
	if err != nil {
		return nil, err
	}
	defer broker.Stop()
	if err := WaitTCP(ctx, broker, addr, 30*time.Second); err != nil {
		return nil, err
	}
	r.broker, r.brokerP = addr, broker
	r.kcfg = kafka.Config{Brokers: []string{addr}, ConnectTimeout: 10 * time.Second, ClientID: "bench"}

	r.pg, err = ConnectPG(ctx, o.PGDSN, "bench_"+strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := r.pg.Close(); err != nil {
			r.o.Log.Warn("dropping the benchmark schema", "err", err)
		}
	}()

	r.phase(ctx, "ingest", "ingest, e2e, sqlite, stream", r.ingestPhases)
	r.phase(ctx, "noloader", "ingest without loader (diagnostic)", r.noLoaderPhase)
	r.phase(ctx, "load", "load and copy", r.loadPhase)
	r.phase(ctx, "ping", "ping", r.pingPhase)
	r.phase(ctx, "rawrtt", "raw rtt", r.rawRTTPhase)
	return r.res, nil
}

// Phases are the names Options.Only takes.
var Phases = []string{"ingest", "noloader", "load", "ping", "rawrtt"}

func (r *runner) phase(ctx context.Context, id, name string, f func(context.Context) error) {
	if len(r.o.Only) > 0 && !slices.Contains(r.o.Only, id) {
		return
	}
	if ctx.Err() != nil {
		r.res.Fail(name, ctx.Err())
		return
	}
	if exited, err := r.brokerP.Exited(); exited {
		r.res.Fail(name, fmt.Errorf("not run: the broker is gone: %w", err))
		return
	}
	r.progress("== %s", name)
	if err := f(ctx); err != nil {
		if exited, berr := r.brokerP.Exited(); exited {
			err = fmt.Errorf("%w; the broker is gone: %v", err, berr)
		}
		r.res.Fail(name, err)
		r.progress("%s failed: %v", name, err)
	}
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Out, "[%6.1fs] %s\n", time.Since(r.started).Seconds(), fmt.Sprintf(format, args...))
}

// destEnv is a BULKER_DESTINATION_<ID> variable, as a user writes one.
func destEnv(c destination.Config) string {
	b, _ := json.Marshal(c)
	return "BULKER_DESTINATION_" + c.ID + "=" + string(b)
}

// bulkerEnv is the environment of a bulker serving dests on httpAddr.
func (r *runner) bulkerEnv(name, httpAddr string, dests ...destination.Config) []string {
	host, port, _ := splitHostPort(httpAddr)
	env := []string{
		"BULKER_HTTP_HOST=" + host, "BULKER_HTTP_PORT=" + port,
		"BULKER_KAFKA_BOOTSTRAP_SERVERS=" + r.broker,
		"BULKER_DATA_DIR=" + filepath.Join(r.o.WorkDir, name),
		"BULKER_INSTANCE_ID=" + name,
		"BULKER_RAW_AUTH_TOKENS=" + token,
	}
	for _, d := range dests {
		env = append(env, destEnv(d))
	}
	return env
}

func (r *runner) execBulker(ctx context.Context, name string, env []string) (Service, error) {
	if err := os.MkdirAll(filepath.Join(r.o.WorkDir, name), 0o755); err != nil {
		return nil, err
	}
	p, err := Start(name, r.o.Bins["./cmd/bulker"], nil, append(env, r.o.BulkerEnv...), r.o.WorkDir)
	if err != nil {
		return nil, err
	}
	if err := WaitHTTP(ctx, p, "http://"+envValue(env, "BULKER_HTTP_HOST")+":"+envValue(env, "BULKER_HTTP_PORT")+"/health", 60*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// loaderBatch is the batch size of the benchmark's destinations.
const loaderBatch = 10000

// pgDest is a PostgreSQL destination in the benchmark's schema.
func (r *runner) pgDest(id string, mode destination.DeliveryMode) destination.Config {
	return destination.Config{ID: id, Type: "postgres",
		Options:     destination.Options{Mode: mode, BatchSize: loaderBatch, Frequency: 0.05},
		Credentials: r.pg.Credentials()}
}

// alive turns a service's death into an error for WaitRows.
func alive(s Service) func() error {
	p, ok := s.(*Proc)
	if !ok {
		return nil
	}
	return func() error {
		if exited, err := p.Exited(); exited {
			return err
		}
		return nil
	}
}

func (r *runner) ingestPhases(ctx context.Context) error {
	httpAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	litePath := filepath.Join(r.o.WorkDir, "lite.db")
	lite := destination.Config{ID: "lite", Type: "sqlite",
		Options:     destination.Options{Mode: destination.Batch, BatchSize: loaderBatch, Frequency: 0.05},
		Credentials: destination.Credentials{Database: litePath}}
	svc, err := r.o.StartBulker(ctx, "bulker", r.bulkerEnv("bulker", httpAddr,
		r.pgDest("pg", destination.Batch), r.pgDest("pgs", destination.Stream), lite))
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			r.o.Log.Warn("stopping bulker", "err", err)
		}
	}()
	base := "http://" + httpAddr

	if err := r.ingestRounds(ctx, svc, base); err != nil {
		return err
	}
	e2e := func(key, dest, table string, n int, c Counter) {
		cpu := r.cpuMeter(nil, svc)
		rate, err := r.endToEnd(ctx, svc, base+"/post/"+dest+"?tableName="+table, table, n, c)
		if err != nil {
			r.res.Fail(key, err)
			return
		}
		r.res.Set(key, rate, fmt.Sprintf("%d events POSTed, first POST to last row visible", n))
		r.progress("%s = %.0f; CPU µs/event: %s", key, rate, cpu(n))
	}
	e2e("e2e_rows_per_s", "pg", "e2e", r.o.Sizes.E2EEvents, r.pg)
	lc, err := OpenSQLite(litePath)
	if err != nil {
		return err
	}
	defer lc.Close()
	e2e("sqlite_rows_per_s", "lite", "e2e", r.o.Sizes.E2EEvents, lc)
	e2e("stream_rows_per_s", "pgs", "stream", r.o.Sizes.StreamEvents, r.pg)
	return nil
}

// ingestRounds alternates baseline and bulker rounds, first with the Go
// load generator, then with wrk; figures are medians, and every round's
// p99 is kept. Before each pair the loaders have caught up, so neither
// side pays for the other's backlog.
func (r *runner) ingestRounds(ctx context.Context, svc Service, base string) error {
	baseURL, baseProc, stop, err := r.startBaseline(ctx)
	if err != nil {
		return err
	}
	defer stop()
	now := time.Now()
	body := func(i int) []byte { return Event(i, now) }
	// Warm up both: topic creation, connections, the loader's first batch.
	Load(ctx, LoadConfig{URL: baseURL + "/", Conns: r.o.Sizes.Conns, Requests: 500, Body: body})
	warm := Load(ctx, LoadConfig{URL: base + "/post/pg?tableName=ingest", Token: token, Conns: r.o.Sizes.Conns, Requests: 500, Body: body})
	if warm.OK == 0 {
		return fmt.Errorf("bulker accepted no event: %v", warm.FirstErr)
	}
	accepted := int64(warm.OK)
	goGen := func(ctx context.Context, url, tok string) (round, error) {
		res := Load(ctx, LoadConfig{URL: url, Token: tok, Conns: r.o.Sizes.Conns, Duration: r.o.Sizes.RoundDuration, Body: body})
		return round{ok: res.OK, failed: res.Failed, rps: res.RPS(), p50: res.P(0.5), p99: res.P(0.99), firstErr: res.FirstErr}, nil
	}
	goPairs, reruns, err := r.roundPairs(ctx, svc, base, baseURL, baseProc, "", goGen, &accepted)
	if err != nil {
		return err
	}
	r.setRounds("", goPairs, reruns, fmt.Sprintf("Go generator, %d conns", r.o.Sizes.Conns))
	all := goPairs
	if err := WrkAvailable(); err != nil {
		r.res.Fail("wrk rounds", err)
	} else {
		wrkBody := Event(0, now)
		wrkGen := func(ctx context.Context, url, tok string) (round, error) {
			res, err := RunWrk(ctx, WrkConfig{URL: url, Token: tok, Threads: wrkThreads, Conns: r.o.Sizes.Conns,
				Duration: r.o.Sizes.RoundDuration, Body: wrkBody, Dir: r.o.WorkDir})
			if err != nil {
				return round{}, err
			}
			var ferr error
			if res.StatusErrors+res.SocketErrors > 0 {
				ferr = fmt.Errorf("%d non-2xx answers, %d socket errors", res.StatusErrors, res.SocketErrors)
			}
			return round{ok: res.OK(), failed: res.StatusErrors + res.SocketErrors, rps: res.RPS(),
				p50: ms(res.P50), p99: ms(res.P99), genCPU: res.CPUSeconds, firstErr: ferr}, nil
		}
		wrkPairs, reruns, err := r.roundPairs(ctx, svc, base, baseURL, baseProc, "wrk ", wrkGen, &accepted)
		if err != nil {
			r.res.Fail("wrk rounds", err)
		} else {
			r.setRounds("wrk_", wrkPairs, reruns, fmt.Sprintf("wrk, %d threads, %d conns", wrkThreads, r.o.Sizes.Conns))
			all = append(all, wrkPairs...)
		}
		if baseProc != nil {
			if err := r.sideBySide(ctx, "x_side_", svc, base+"/post/pg?tableName=ingest", baseURL, baseProc, wrkBody, &accepted); err != nil {
				r.res.Fail("x_side_cpu_ratio", err)
			}
		}
	}
	var worstP99, worstRatio float64
	for _, p := range all {
		worstP99 = max(worstP99, p.in.p99)
		worstRatio = max(worstRatio, p.in.p99/p.b.p99)
	}
	r.res.Set("ingest_p99_worst_ms", worstP99, fmt.Sprintf("highest p99 of the %d bulker rounds of both generators", len(all)))
	r.res.Set("p99_ratio_worst", worstRatio, "highest bulker p99 / baseline p99 of one round pair, both generators")
	if rss, err := svc.PeakRSSMB(); err == nil {
		r.res.Set("bulker_rss_mb", rss, "VmHWM of bulker after the ingest rounds of both generators")
	} else {
		r.res.Fail("bulker_rss_mb", err)
	}
	return r.caughtUp(ctx, svc, accepted)
}

// caughtUp waits until the ingest table holds the accepted events.
func (r *runner) caughtUp(ctx context.Context, svc Service, accepted int64) error {
	if _, err := WaitRows(ctx, r.pg, "ingest", accepted, 100*time.Millisecond, 2*time.Minute, alive(svc)); err != nil {
		return fmt.Errorf("waiting for the loader to catch up: %w", err)
	}
	return nil
}

// sideBySide drives the baseline server and bulker at the same time,
// each with a wrk of one thread and half the connections, for
// Sizes.Rounds rounds, and records the medians of bulker's CPU per event
// and p99 over the baseline's under keys prefixed with prefix. Both then
// pay for the same seconds of a machine whose speed drifts by more than
// bulker's gap between alternating rounds; what it measures is the cost
// of each, not the capacity of the machine. url is bulker's to post to;
// accepted, when not nil, counts what bulker took into the ingest table,
// whose loading each round waits for first.
func (r *runner) sideBySide(ctx context.Context, prefix string, svc Service, url, baseURL string, baseProc *Proc,
	body []byte, accepted *int64) error {
	conns := max(r.o.Sizes.Conns/2, 1)
	var cpu, p99 []float64
	for i := range r.o.Sizes.Rounds {
		if accepted != nil {
			if err := r.caughtUp(ctx, svc, *accepted); err != nil {
				return err
			}
		}
		run := func(name, url, tok string) (WrkResult, error) {
			dir := filepath.Join(r.o.WorkDir, "wrk-"+name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return WrkResult{}, err
			}
			res, err := RunWrk(ctx, WrkConfig{URL: url, Token: tok, Threads: 1, Conns: conns,
				Duration: r.o.Sizes.RoundDuration, Body: body, Dir: dir})
			if err == nil && res.StatusErrors+res.SocketErrors > 0 {
				err = fmt.Errorf("%s: %d non-2xx answers, %d socket errors", name, res.StatusErrors, res.SocketErrors)
			}
			if err == nil && res.OK() == 0 {
				err = fmt.Errorf("%s accepted nothing", name)
			}
			return res, err
		}
		meter := r.cpuMeter(baseProc, svc)
		var b WrkResult
		var berr error
		var wg sync.WaitGroup
		wg.Go(func() { b, berr = run("baseline", baseURL+"/", "") })
		in, ierr := run("bulker", url, token)
		wg.Wait()
		if err := errors.Join(berr, ierr); err != nil {
			return err
		}
		if accepted != nil {
			*accepted += int64(in.OK())
		}
		use := meter(1) // µs in all, divided by each side's own events
		bus, ius := use.Of("baseline")/float64(b.OK()), use.Of("bulker")/float64(in.OK())
		cpu, p99 = append(cpu, ius/bus), append(p99, float64(in.P99)/float64(b.P99))
		r.progress("side by side %d: baseline %.0f rps p99 %.2f ms %.1f µs/event | bulker %.0f rps p99 %.2f ms %.1f µs/event",
			i+1, b.RPS(), ms(b.P99), bus, in.RPS(), ms(in.P99), ius)
	}
	note := fmt.Sprintf("median of %d × %s rounds, baseline and bulker driven at once, each by wrk, 1 thread, %d conns", len(cpu), r.o.Sizes.RoundDuration, conns)
	r.res.Set(prefix+"cpu_ratio", Median(cpu), note+": bulker's CPU per event / the baseline's")
	r.res.Set(prefix+"p99_ratio", Median(p99), note+": bulker's p99 / the baseline's")
	return nil
}

// wrkThreads is the number of wrk's threads: one per core of the machine
// the targets are set for.
const wrkThreads = 2

// round is what one load run of either generator measured.
type round struct {
	ok, failed    int
	rps, p50, p99 float64 // p50 and p99 in ms
	genCPU        float64 // CPU seconds of an external generator; the Go one counts as "bench"
	collections   int     // bulker's garbage collections during the round; -1 unknown
	firstErr      error
}

// collected says how often bulker collected during a round of d.
func (r round) collected(d time.Duration) string {
	if r.collections < 0 {
		return "bulker's collections unknown"
	}
	return fmt.Sprintf("bulker collected %d times (%.1f/s)", r.collections, float64(r.collections)/d.Seconds())
}

// roundPair is a baseline round and the bulker round after it.
type roundPair struct {
	b, in       round
	bcpu, icpu  CPUUse
	cpuRatio    float64 // bulker's CPU per event / the baseline server's
	hasCPURatio bool
}

// roundPairs runs Sizes.Rounds pairs of a baseline and a bulker round with
// gen; accepted counts the events bulker took, to wait for its loader. A
// pair during which the machine changed speed is run again, up to
// driftReruns times; it returns how many were.
func (r *runner) roundPairs(ctx context.Context, svc Service, base, baseURL string, baseProc *Proc, label string,
	gen func(ctx context.Context, url, token string) (round, error), accepted *int64) ([]roundPair, int, error) {
	var pairs []roundPair
	reruns := 0
	for i := 0; i < r.o.Sizes.Rounds; {
		if err := r.caughtUp(ctx, svc, *accepted); err != nil {
			return nil, 0, err
		}
		var p roundPair
		var err error
		measure := func(phase, url, tok string) (round, CPUUse, error) {
			stopProfile := func() {}
			if r.o.Profile != nil {
				stopProfile = r.o.Profile(phase)
			}
			defer stopProfile()
			gcBefore := -1 // not counted
			if phase == "ingest" {
				if n, err := collections(ctx, base); err == nil {
					gcBefore = n
				}
			}
			cpu := r.cpuMeter(baseProc, svc)
			res, err := gen(ctx, url, tok)
			if err != nil {
				return round{}, CPUUse{}, err
			}
			res.collections = -1
			if gcBefore >= 0 {
				if after, err := collections(ctx, base); err == nil {
					res.collections = after - gcBefore
				}
			}
			use := cpu(res.ok)
			if res.genCPU > 0 {
				use.Add("generator", res.genCPU*1e6/float64(max(res.ok, 1)))
			}
			return res, use, nil
		}
		if p.b, p.bcpu, err = measure("baseline", baseURL+"/", ""); err != nil {
			return nil, 0, err
		}
		if p.b.ok == 0 {
			return nil, 0, fmt.Errorf("baseline accepted nothing: %v", p.b.firstErr)
		}
		if p.in, p.icpu, err = measure("ingest", base+"/post/pg?tableName=ingest", token); err != nil {
			return nil, 0, err
		}
		if p.in.ok == 0 {
			return nil, 0, fmt.Errorf("bulker accepted nothing: %v", p.in.firstErr)
		}
		*accepted += int64(p.in.ok)
		// Without a baseline process (-baseline-inprocess) its CPU is the
		// bench's, mixed with the generator's: no ratio then.
		if bc := p.bcpu.Of("baseline"); baseProc != nil && bc > 0 {
			p.cpuRatio, p.hasCPURatio = p.icpu.Of("bulker")/bc, true
		}
		r.progress("%sround %d: baseline %.0f rps p99 %.2f ms (%d failed) | bulker %.0f rps p50 %.2f p99 %.2f ms (%d failed)",
			label, i+1, p.b.rps, p.b.p99, p.b.failed, p.in.rps, p.in.p50, p.in.p99, p.in.failed)
		r.progress("  CPU µs/event: baseline round %s | bulker round %s; %s",
			p.bcpu, p.icpu, p.in.collected(r.o.Sizes.RoundDuration))
		if p.in.failed > 0 {
			r.progress("bulker failure: %v", p.in.firstErr)
		}
		if drift, ok := p.drifted(); ok {
			if reruns < driftReruns {
				reruns++
				r.progress("  the generator used %.0f %% more CPU per event in one round than in the other: the machine changed speed between them; the pair is run again", (drift-1)*100)
				continue
			}
			r.progress("  the generator used %.0f %% more CPU per event in one round than in the other; the pair is kept: %d pairs were run again already", (drift-1)*100, reruns)
		}
		pairs = append(pairs, p)
		i++
	}
	return pairs, reruns, nil
}

// maxGenDrift bounds how much more CPU per event the load generator may use
// in one round of a pair than in the other. It does nearly the same work
// per event in both (the bulker round adds a token and a longer URL); when
// its cost moves more, the machine changed speed between the rounds (in
// such rounds on the 2-vCPU machines the generator, the broker and the
// server all moved by 25-50 %), and the pair compares two machines, not
// two servers. Rounds of the same machine stay within 10 %.
const maxGenDrift = 1.15

// driftReruns bounds the pairs run again for drift, per generator.
const driftReruns = 2

// drifted reports whether the machine changed speed between the pair's
// rounds (see maxGenDrift), and the generator's drift.
func (p roundPair) drifted() (drift float64, ok bool) {
	drift, known := p.genDrift()
	return drift, known && drift > maxGenDrift
}

// genDrift is the generator's CPU per event in the costlier round of the
// pair ÷ that in the other; ok is false when the rounds do not tell the
// generator's CPU apart: the Go generator runs in the bench process, which
// may also serve the baseline (-baseline-inprocess) or bulker (-profile).
func (p roundPair) genDrift() (drift float64, ok bool) {
	b, in := p.bcpu.Of("generator"), p.icpu.Of("generator")
	if b == 0 && in == 0 {
		if p.bcpu.Of("baseline") == 0 || p.icpu.Of("bulker") == 0 {
			return 0, false
		}
		b, in = p.bcpu.Of("bench"), p.icpu.Of("bench")
	}
	if b <= 0 || in <= 0 {
		return 0, false
	}
	return max(b, in) / min(b, in), true
}

// setRounds records the medians of one generator's rounds under keys
// prefixed with prefix, and every kept round's p99; reruns is how many
// pairs were run again (see roundPairs).
func (r *runner) setRounds(prefix string, pairs []roundPair, reruns int, gen string) {
	var brps, bp99, irps, ip50, ip99, cpu []float64
	for _, p := range pairs {
		brps, bp99 = append(brps, p.b.rps), append(bp99, p.b.p99)
		irps, ip50, ip99 = append(irps, p.in.rps), append(ip50, p.in.p50), append(ip99, p.in.p99)
		if p.hasCPURatio {
			cpu = append(cpu, p.cpuRatio)
		}
	}
	note := fmt.Sprintf("median of %d × %s rounds, %s", len(pairs), r.o.Sizes.RoundDuration, gen)
	if reruns > 0 {
		again := fmt.Sprintf("%d pair(s) run again for the machine's drift", reruns)
		gen += ", " + again
		note += " (" + again + ")"
	}
	r.res.Set(prefix+"baseline_rps", Median(brps), note+", bare franz-go produce handler")
	r.res.Set(prefix+"baseline_p99_ms", Median(bp99), note)
	r.res.Set(prefix+"ingest_rps", Median(irps), note+", POST /post/pg, auth, batch PG destination loading meanwhile")
	r.res.Set(prefix+"ingest_p50_ms", Median(ip50), note)
	r.res.Set(prefix+"ingest_p99_ms", Median(ip99), note)
	r.res.SetList(prefix+"ingest_p99_rounds_ms", ip99, "every bulker round's p99, "+gen)
	r.res.SetList(prefix+"baseline_p99_rounds_ms", bp99, "every baseline round's p99, "+gen)
	if len(cpu) > 0 {
		r.res.Set(prefix+"ingest_cpu_ratio", Median(cpu), "median over round pairs of bulker's CPU per event / the baseline server's, "+gen)
	}
}

// CPUUse is the CPU time per event of each process of a round, in µs.
type CPUUse struct {
	Names    []string
	PerEvent []float64
}

// Add appends a process's figure.
func (c *CPUUse) Add(name string, perEvent float64) {
	c.Names, c.PerEvent = append(c.Names, name), append(c.PerEvent, perEvent)
}

// Of is the figure of a process, zero when it has none.
func (c CPUUse) Of(name string) float64 {
	if i := slices.Index(c.Names, name); i >= 0 {
		return c.PerEvent[i]
	}
	return 0
}

func (c CPUUse) String() string {
	var b strings.Builder
	for i, n := range c.Names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.1f", n, c.PerEvent[i])
	}
	return b.String()
}

// cpuMeter starts counting the CPU time of the bench process, the broker,
// the baseline server when it runs in a process of its own, and bulker;
// the returned function says how much each used per event.
func (r *runner) cpuMeter(baseline *Proc, svc Service) func(events int) CPUUse {
	type cpuer interface{ CPUSeconds() (float64, error) }
	names := []string{"bench", "broker", "baseline", "bulker", "postgres"}
	pg := CommCPUMeter("postgres")
	read := func() []float64 {
		v := make([]float64, len(names))
		v[0], _ = ProcCPUSeconds(os.Getpid())
		v[1], _ = r.brokerP.CPUSeconds()
		if baseline != nil {
			v[2], _ = baseline.CPUSeconds()
		}
		if c, ok := svc.(cpuer); ok {
			v[3], _ = c.CPUSeconds()
		}
		v[4] = pg()
		return v
	}
	start := read()
	return func(events int) CPUUse {
		end := read()
		var use CPUUse
		for i, n := range names {
			use.Add(n, (end[i]-start[i])*1e6/float64(max(events, 1)))
		}
		return use
	}
}

// startBaseline runs the baseline server: in a process of its own when
// Options.BaselineCmd is set, else in the bench process.
func (r *runner) startBaseline(ctx context.Context) (url string, p *Proc, stop func(), err error) {
	const topic = "bench.baseline"
	if len(r.o.BaselineCmd) == 0 {
		client, err := kafka.Connect(ctx, r.kcfg, r.o.Log)
		if err != nil {
			return "", nil, nil, err
		}
		url, stopServer, err := ServeBaseline(client, topic)
		if err != nil {
			client.Close()
			return "", nil, nil, err
		}
		return url, nil, func() { stopServer(); client.Close() }, nil
	}
	addr, err := FreeAddr()
	if err != nil {
		return "", nil, nil, err
	}
	args := append(r.o.BaselineCmd[1:len(r.o.BaselineCmd):len(r.o.BaselineCmd)], addr, r.broker, topic)
	p, err = Start("baseline", r.o.BaselineCmd[0], args, nil, r.o.WorkDir)
	if err != nil {
		return "", nil, nil, err
	}
	if err := WaitTCP(ctx, p, addr, 30*time.Second); err != nil {
		_ = p.Stop()
		return "", nil, nil, err
	}
	return "http://" + addr, p, func() { _ = p.Stop() }, nil
}

// noLoaderPhase measures the ingest path alone: a bulker whose only
// destination points at a closed port, so its loader finds the destination
// down and backs off instead of parsing and loading. Run after the main
// bulker stopped; its memory is not bulker_rss_mb (a loader in outage
// holds a fetched backlog).
func (r *runner) noLoaderPhase(ctx context.Context) error {
	httpAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	closed, err := FreeAddr()
	if err != nil {
		return err
	}
	_, closedPort, _ := splitHostPort(closed)
	off := r.pgDest("pgoff", destination.Batch)
	off.Credentials.Port, _ = strconv.Atoi(closedPort)
	svc, err := r.o.StartBulker(ctx, "bulker-noload", r.bulkerEnv("bulker-noload", httpAddr, off))
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			r.o.Log.Warn("stopping bulker", "err", err)
		}
	}()
	now := time.Now()
	lc := LoadConfig{URL: "http://" + httpAddr + "/post/pgoff?tableName=noload", Token: token, Conns: r.o.Sizes.Conns,
		Body: func(i int) []byte { return Event(i, now) }}
	warm := lc
	warm.Requests = 500
	Load(ctx, warm)
	var rps, p99 []float64
	for range r.o.Sizes.Rounds {
		cpu := r.cpuMeter(nil, svc)
		lc.Duration = r.o.Sizes.RoundDuration
		res := Load(ctx, lc)
		if res.OK == 0 {
			return fmt.Errorf("bulker accepted nothing: %v", res.FirstErr)
		}
		rps, p99 = append(rps, res.RPS()), append(p99, res.P(0.99))
		r.progress("no loader: %.0f rps p50 %.2f p99 %.2f ms; CPU µs/event: %s", res.RPS(), res.P(0.5), res.P(0.99), cpu(res.OK))
	}
	r.res.Set("x_ingest_noloader_rps", Median(rps), "diagnostic: as ingest_rps, to a destination that is down, so no loader work runs")
	r.res.Set("x_ingest_noloader_p99_ms", Median(p99), "diagnostic: as ingest_p99_ms, no loader work")
	if WrkAvailable() != nil {
		return nil // the ingest phase reports wrk missing
	}
	// The same with wrk: whether the wrk rounds' tail comes with the
	// loader or with the ingest path alone.
	rps, p99 = nil, nil
	for range r.o.Sizes.Rounds {
		cpu := r.cpuMeter(nil, svc)
		res, err := RunWrk(ctx, WrkConfig{URL: lc.URL, Token: token, Threads: wrkThreads, Conns: r.o.Sizes.Conns,
			Duration: r.o.Sizes.RoundDuration, Body: Event(0, now), Dir: r.o.WorkDir})
		if err != nil {
			return err
		}
		if res.OK() == 0 {
			return fmt.Errorf("bulker accepted nothing from wrk (%d non-2xx, %d socket errors)", res.StatusErrors, res.SocketErrors)
		}
		use := cpu(res.OK())
		use.Add("generator", res.CPUSeconds*1e6/float64(res.OK()))
		rps, p99 = append(rps, res.RPS()), append(p99, ms(res.P99))
		r.progress("no loader, wrk: %.0f rps p50 %.2f p99 %.2f ms; CPU µs/event: %s", res.RPS(), ms(res.P50), ms(res.P99), use)
	}
	r.res.Set("x_wrk_ingest_noloader_rps", Median(rps), "diagnostic: as wrk_ingest_rps, no loader work")
	r.res.Set("x_wrk_ingest_noloader_p99_ms", Median(p99), "diagnostic: as wrk_ingest_p99_ms, no loader work")
	if len(r.o.BaselineCmd) == 0 {
		return nil // no baseline process whose CPU to read
	}
	baseURL, baseProc, stop, err := r.startBaseline(ctx)
	if err != nil {
		return err
	}
	defer stop()
	Load(ctx, LoadConfig{URL: baseURL + "/", Conns: r.o.Sizes.Conns, Requests: 500, Body: lc.Body})
	return r.sideBySide(ctx, "x_side_noloader_", svc, lc.URL, baseURL, baseProc, Event(0, now), nil)
}

// endToEnd POSTs n events and returns rows per second from the first POST
// to the last row visible.
func (r *runner) endToEnd(ctx context.Context, svc Service, url, table string, n int, c Counter) (float64, error) {
	now := time.Now()
	start := now
	res := Load(ctx, LoadConfig{URL: url, Token: token, Conns: r.o.Sizes.Conns, Requests: n, Body: func(i int) []byte { return Event(i, now) }})
	if res.Failed > 0 {
		return 0, fmt.Errorf("%d of %d POSTs failed: %v", res.Failed, n, res.FirstErr)
	}
	r.progress("%s: %d POSTs in %.1fs (%.0f rps), waiting for rows", table, res.OK, res.Elapsed.Seconds(), res.RPS())
	end, err := WaitRows(ctx, c, table, int64(n), 50*time.Millisecond, 5*time.Minute, alive(svc))
	if err != nil {
		return 0, err
	}
	return float64(n) / end.Sub(start).Seconds(), nil
}

// loadPhase times copyRuns bulker loads of a backlog, each followed by a
// raw COPY of the same rows, so that the two medians sample the same
// stretch of the machine's drift; then the diagnostic COPYs.
func (r *runner) loadPhase(ctx context.Context) error {
	n := r.o.Sizes.LoadEvents
	t0 := time.Now() // the events' timestamps: every run loads the same rows
	var built *LoadRows
	loads := make([]float64, copyRuns)
	copies := make([]float64, copyRuns)
	for i := range copyRuns {
		// Each load has its table, topic and consumer group of its own.
		table := "load"
		if i > 0 {
			table = fmt.Sprintf("load_%d", i+1)
		}
		var err error
		if loads[i], err = r.loadOnce(ctx, table, n, t0); err != nil {
			return err
		}
		if built == nil {
			rowsStart := time.Now()
			if built, err = r.pg.BuildRows(ctx, "load", n, loaderBatch, func(i int) []byte { return Event(i, t0) }, r.o.Log); err != nil {
				return err
			}
			r.progress("built the %d rows of the baselines in %.1fs", n, time.Since(rowsStart).Seconds())
		}
		cpu := r.cpuMeter(nil, nil)
		if copies[i], err = r.pg.CopyRows(ctx, built, Copy{}); err != nil {
			return err
		}
		r.progress("copy %d: %.0f rows/s; CPU µs/row: %s", i+1, copies[i], cpu(n))
	}
	r.res.Set("load_rows_per_s", Median(loads), fmt.Sprintf("median of %d: %d events in the topic, bulker start to last row visible", copyRuns, n))
	r.progress("load_rows_per_s = %.0f (runs: %.0f)", Median(loads), loads)
	// One COPY now and then meets a checkpoint of the server and runs at
	// two thirds of its speed: the median of a few is the baseline.
	r.res.Set("copy_rows_per_s", Median(copies), fmt.Sprintf("median of %d pgx CopyFrom of the same %d rows into a table like the loaded one, its index included, each on a new connection, each right after a load", copyRuns, n))
	r.progress("copy_rows_per_s = %.0f (runs: %.0f)", Median(copies), copies)
	diagnostics := []struct {
		key, how string
		c        Copy
	}{
		{"x_copy_noindex_rows_per_s", "diagnostic: the same COPY into a table without the timestamp index", Copy{NoIndex: true}},
		{"x_copy_batched_rows_per_s", fmt.Sprintf("diagnostic: the same rows in one COPY and transaction per %d, as the loader commits them", loaderBatch), Copy{Batch: loaderBatch}},
		{"x_copy_warm_rows_per_s", "diagnostic: the same COPY on the benchmark's long-lived connection", Copy{Warm: true}},
	}
	for _, c := range diagnostics {
		rate, err := r.copyRows(ctx, c.key, built, c.c)
		if err != nil {
			return err
		}
		r.res.Set(c.key, rate, c.how)
	}
	cpu := r.cpuMeter(nil, nil)
	destRate, err := r.pg.LoadBatches(ctx, built, r.o.Log)
	if err != nil {
		return err
	}
	r.progress("x_dest_load_rows_per_s = %.0f; CPU µs/row: %s", destRate, cpu(n))
	parse := built.ParseRate
	r.res.Set("x_parse_build_rows_per_s", parse, fmt.Sprintf("diagnostic: schema.Parse+Build of the first %d of the same events, one goroutine, batches of %d", min(n, parseTimed), loaderBatch))
	r.res.Set("x_dest_load_rows_per_s", destRate, fmt.Sprintf("diagnostic: postgres destination Write of the same rows, prebuilt, in %d-row batches", loaderBatch))
	r.progress("loader halves: parse+build %.0f rows/s, destination Load %.0f rows/s (sequential bound %.0f)", parse, destRate, 1/(1/parse+1/destRate))
	return nil
}

// loadOnce pre-produces n events (timestamps from t0) into the topic of
// table, starts a bulker with that destination and returns the rows per
// second from its start to the last row visible.
func (r *runner) loadOnce(ctx context.Context, table string, n int, t0 time.Time) (float64, error) {
	topic, err := topics.Incoming("", topics.Name{Destination: "pgload", Mode: destination.Batch, Table: table})
	if err != nil {
		return 0, err
	}
	produced := time.Now()
	if err := PreProduce(ctx, r.kcfg, r.o.Log, topic, n, t0); err != nil {
		return 0, err
	}
	r.progress("pre-produced %d events in %.1fs", n, time.Since(produced).Seconds())
	httpAddr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	dest := r.pgDest("pgload", destination.Batch)
	kc, err := kafka.Connect(ctx, r.kcfg, r.o.Log)
	if err != nil {
		return 0, err
	}
	defer kc.Close()
	// The group of a topic's loader is named after the topic.
	rows := committedFirst{kc: kc, group: topic, topic: topic, n: int64(n), rows: r.pg}
	stopProfile := func() {}
	if r.o.Profile != nil {
		stopProfile = r.o.Profile("load")
	}
	name := "bulker-" + strings.ReplaceAll(table, "_", "-")
	start := time.Now()
	svc, err := r.o.StartBulker(ctx, name, r.bulkerEnv(name, httpAddr, dest))
	if err != nil {
		stopProfile()
		return 0, err
	}
	cpu := r.cpuMeter(nil, svc)
	end, err := WaitRows(ctx, rows, table, int64(n), 50*time.Millisecond, 10*time.Minute, alive(svc))
	stopProfile()
	loadCPU := cpu(n)
	rss, rssErr := svc.PeakRSSMB()
	if serr := svc.Stop(); serr != nil {
		r.o.Log.Warn("stopping bulker", "err", serr)
	}
	if err != nil {
		return 0, err
	}
	rate := float64(n) / end.Sub(start).Seconds()
	peak := ""
	if rssErr == nil {
		peak = fmt.Sprintf(" (bulker peak RSS %.0f MiB while loading)", rss)
	}
	r.progress("load into %s: %.0f rows/s%s; CPU µs/row: %s", table, rate, peak, loadCPU)
	return rate, nil
}

// copyRows is the median rate of copyRuns raw COPYs of the built rows into
// a table like the loaded one (see PG.CopyRows), printed as key.
func (r *runner) copyRows(ctx context.Context, key string, built *LoadRows, c Copy) (float64, error) {
	copies := make([]float64, copyRuns)
	cpu := r.cpuMeter(nil, nil)
	for i := range copies {
		var err error
		if copies[i], err = r.pg.CopyRows(ctx, built, c); err != nil {
			return 0, err
		}
	}
	cps := Median(copies)
	r.progress("%s = %.0f (runs: %.0f)", key, cps, copies)
	r.progress("  CPU µs/row: %s", cpu(len(built.Any)*copyRuns))
	return cps, nil
}

// copyRuns is how many loads and raw COPYs load_rows_per_s and
// copy_rows_per_s are the medians of.
const copyRuns = 3

// PreProduce writes n events (Event(i, at)) to topic as bulker's ingest
// would, with asynchronous produce, and returns once all are acknowledged.
func PreProduce(ctx context.Context, kcfg kafka.Config, log *slog.Logger, topic string, n int, at time.Time) error {
	c, err := kafka.Connect(ctx, kcfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.EnsureTopic(ctx, kafka.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
		return err
	}
	// One header, as bulker's ingest writes it.
	h := []kafka.Header{{Key: topics.HeaderReceivedAt, Value: time.Now().UTC().AppendFormat(nil, time.RFC3339Nano)}}
	errc := make(chan error, 1)
	for i := range n {
		c.ProduceAsync(ctx, kafka.Record{Topic: topic, Value: Event(i, at), Headers: h}, func(err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := c.Flush(ctx); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return fmt.Errorf("pre-producing to %s: %w", topic, err)
	default:
		return nil
	}
}
