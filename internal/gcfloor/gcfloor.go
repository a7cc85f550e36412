// Package gcfloor keeps Go's collector from running more often than every
// few megabytes of allocation while the live heap is small.
//
// With GOGC=100 the collector runs each time the heap doubles. A service
// whose live heap is a few megabytes but which allocates a hundred a
// second then collects twenty times a second, and each cycle's fixed work
// (stacks, globals, two pauses, sweeping) costs more than marking its
// small heap. The floor raises the heap goal to at least Floor bytes;
// once GOGC=100's own goal reaches the floor it is left alone, so the
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
// restores the collector's settings as they were. It returns at once:
// the work is done after each collection, on the runtime's finalizer
// goroutine. The collector's settings belong to the process: only main
// calls Run.
func Run(ctx context.Context, o Options) {
	start(ctx, o)
}

// Metrics read after each collection. The goal of a cycle is
// live + (live + stacks + globals) × GOGC/100.
var names = []string{
	"/gc/heap/live:bytes",
	"/gc/scan/stack:bytes",
	"/gc/scan/globals:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
}

type tuner struct {
	o      Options
	sample []metrics.Sample

	// mu orders a finalizer's settings before the restoring ones.
	mu          sync.Mutex
	stopped     bool
	prevPercent int
	prevLimit   int64
	// adjusted counts the collections seen; last is what the last one
	// set. Tests compare them with the runtime's own figures.
	adjusted int
	last     setting
}

// setting is what the tuner set after a collection, and from what.
type setting struct {
	live, roots uint64
	percent     int
	limit       int64
}

func start(ctx context.Context, o Options) *tuner {
	t := &tuner{o: o, sample: make([]metrics.Sample, len(names))}
	for i, n := range names {
		t.sample[i].Name = n
	}
	t.prevPercent, t.prevLimit = current()
	context.AfterFunc(ctx, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(t.prevPercent)
		if o.Limit {
			debug.SetMemoryLimit(t.prevLimit)
		}
	})
	t.arm()
	return t
}

// current reads GOGC and the memory limit without changing them.
func current() (percent int, limit int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
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
	v := func(i int) uint64 { return t.sample[i].Value.Uint64() }
	live, roots := v(0), v(1)+v(2)
	p := percent(live, roots, t.o.Floor)
	debug.SetGCPercent(p)
	limit := t.prevLimit
	if t.o.Limit {
		if p > 100 {
			// All of Go's memory but the heap's objects, as it is now,
			// plus twice the floor for them.
			limit = limitFor(v(3)-v(4)-v(5), t.o.Floor)
		}
		debug.SetMemoryLimit(limit)
	}
	t.adjusted++
	t.last = setting{live: live, roots: roots, percent: p, limit: limit}
	t.arm()
}

// maxPercent bounds GOGC while the live heap is tiny (at start-up).
const maxPercent = 1000

// percent is the GOGC whose goal for a live heap of live bytes, with
// roots bytes of stacks and globals, is floor: never below 100, never
// above maxPercent.
func percent(live, roots, floor uint64) int {
	scanned := live + roots
	if scanned == 0 || live+scanned >= floor {
		return 100
	}
	return int(min(max((floor-live)*100/scanned, 100), maxPercent))
}

// limitFor is the memory limit kept while GOGC is raised, with other bytes
// of Go's memory besides the heap's objects. GOGC set after a collection
// applies to the next one's live heap until the finalizer runs again; if
// that heap jumped (a batch parsed at once), GOGC=900 would let it grow
// ninefold. The limit caps the heap's objects at twice the floor instead.
// It is lifted as soon as GOGC is 100 again, so a large live heap is
// never held back by it.
func limitFor(other, floor uint64) int64 {
	if other > math.MaxInt64/2 || floor > math.MaxInt64/4 {
		return math.MaxInt64
	}
	return int64(other + 2*floor)
}
