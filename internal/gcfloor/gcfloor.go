// Package gcfloor keeps Go's collector from running more often than every
// few megabytes of allocation while the live heap is small.
//
// With GOGC=100 the collector runs each time the heap doubles. A service
// whose live heap is a few megabytes but which allocates a hundred a
// second then collects twenty times a second, and each cycle's fixed work
// (stacks, globals, two pauses, sweeping) costs more than marking its
// small heap. The floor raises the heap goal to at least Floor bytes;
// from a live heap of Floor/2 on, the goal is GOGC=100's again, so the
// peak heap of a busy process does not grow.
package gcfloor

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Options says what Run may change.
type Options struct {
	// Floor is the least heap goal, in bytes.
	Floor uint64
	// Limit lets Run set a soft memory limit as a backstop (see
	// limitFor); false when the operator set GOMEMLIMIT.
	Limit bool
}

// Run holds the heap goal at or above o.Floor until ctx ends, then
// restores GOGC=100 (and no memory limit). It returns at once: the work is
// done after each collection, on the runtime's finalizer goroutine.
// The collector's settings belong to the process: only main calls Run.
func Run(ctx context.Context, o Options) {
	t := &tuner{o: o, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	context.AfterFunc(ctx, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(100)
		if o.Limit {
			debug.SetMemoryLimit(math.MaxInt64)
		}
	})
	t.arm()
}

type tuner struct {
	o      Options
	sample []metrics.Sample
	// mu orders a finalizer's settings before the restoring ones.
	mu      sync.Mutex
	stopped bool
}

// sentinel is garbage the moment it is armed, so its finalizer runs after
// the next collection. It holds a pointer: the tiny allocator, whose
// blocks are finalized late, takes only pointer-free objects.
type sentinel struct{ t *tuner }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) { s.t.collected() })
}

func (t *tuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	live := t.sample[0].Value.Uint64()
	debug.SetGCPercent(Percent(live, t.o.Floor))
	if t.o.Limit {
		debug.SetMemoryLimit(limitFor(live, t.o.Floor))
	}
	t.arm()
}

// maxPercent bounds GOGC while the live heap is tiny (at start-up).
const maxPercent = 1000

// Percent is the GOGC that makes a live heap of live bytes collect at
// floor: never below 100, never above maxPercent.
func Percent(live, floor uint64) int {
	if live == 0 || floor <= 2*live {
		return 100
	}
	return int(min(floor*100/live-100, maxPercent))
}

// limitFor is the memory limit kept while the live heap is live bytes.
// The percent set after a collection applies to the next one's live heap
// until the finalizer runs again; if that heap jumped (a batch parsed at
// once), GOGC=900 would let it grow ninefold. The limit caps that at
// twice the floor plus three times the last live heap: more than GOGC=100
// needs with the runtime's own memory, so it never holds a steady heap
// back, and it rises after each collection.
func limitFor(live, floor uint64) int64 {
	if live > math.MaxInt64/6 || floor > math.MaxInt64/4 {
		return math.MaxInt64
	}
	return int64(2*floor + 3*live)
}
