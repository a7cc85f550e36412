package gcfloor

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	tests := []struct {
		name               string
		live, roots, floor uint64
		want               int
	}{
		{"a quarter of the floor collects at the floor", 6 * mib, 0, 24 * mib, 300},
		{"stacks and globals are scanned too", 4 * mib, 4 * mib, 24 * mib, 250},
		{"GOGC=100 reaches the floor", 12 * mib, 0, 24 * mib, 100},
		{"large stacks reach it too", 3 * mib, 30 * mib, 24 * mib, 100},
		{"a heap above the floor", 40 * mib, 1 * mib, 24 * mib, 100},
		{"a tiny heap is bounded", 100 << 10, 0, 24 * mib, maxPercent},
		{"nothing live yet", 0, 0, 24 * mib, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percent(tt.live, tt.roots, tt.floor); got != tt.want {
				t.Errorf("percent(%d, %d, %d) = %d, want %d", tt.live, tt.roots, tt.floor, got, tt.want)
			}
		})
	}
}

func TestLimitFor(t *testing.T) {
	tests := []struct {
		other, floor uint64
		want         int64
	}{
		{10 * mib, 24 * mib, 58 * mib},
		{0, 24 * mib, 48 * mib},
		{math.MaxUint64 / 2, 24 * mib, math.MaxInt64},
		{10 * mib, math.MaxUint64 / 2, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := limitFor(tt.other, tt.floor); got != tt.want {
			t.Errorf("limitFor(%d, %d) = %d, want %d", tt.other, tt.floor, got, tt.want)
		}
	}
}

var garbage []byte

// churn allocates n bytes of garbage in 4 KiB pieces and returns how many
// collections ran meanwhile.
func churn(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / 4096 {
		garbage = make([]byte, 4096)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// run starts a tuner for the test and, when the test ends, stops it and
// waits until the settings it found are back.
func run(t *testing.T, o Options) *tuner {
	t.Helper()
	percent, limit := current()
	ctx, cancel := context.WithCancel(context.Background())
	tu := start(ctx, o)
	t.Cleanup(func() {
		cancel()
		waitFor(t, "the settings to be restored", func() bool {
			p, l := current()
			return p == percent && l == limit
		})
	})
	return tu
}

// settle collects twice and returns what the tuner set after the second
// collection, which nothing has changed since.
func settle(t *testing.T, tu *tuner) setting {
	t.Helper()
	adjusted := func() int {
		tu.mu.Lock()
		defer tu.mu.Unlock()
		return tu.adjusted
	}
	for range 2 {
		// The sentinel armed after the last adjustment is collected by
		// this cycle, so the next adjustment reads the runtime after it.
		n := adjusted()
		runtime.GC()
		waitFor(t, "the tuner to run after a collection", func() bool { return adjusted() > n })
	}
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return tu.last
}

// A process with a small live heap collects far less often with the floor,
// at a heap goal of the floor, and gets its settings back when it stops.
func TestFloorCutsCollections(t *testing.T) {
	live := make([][]byte, 0, 8) // the live heap of a small service
	for range 8 {
		live = append(live, make([]byte, mib))
	}
	runtime.GC()
	// Six times what GOGC=100 scans: about a fifth as many collections.
	floor := 6 * (read("/gc/heap/live:bytes") + read("/gc/scan/stack:bytes") + read("/gc/scan/globals:bytes"))
	without := churn(256 * mib)
	tu := run(t, Options{Floor: floor, Limit: true})
	s := settle(t, tu)
	if s.percent <= 100 || s.percent >= maxPercent {
		t.Fatalf("GOGC %d with %d MiB live and %d MiB of stacks and globals: the test needs a live heap well under the floor (%d MiB)", s.percent, s.live/mib, s.roots/mib, floor/mib)
	}
	if p, limit := current(); p != s.percent || limit != s.limit {
		t.Errorf("runtime has GOGC %d and limit %d, the tuner set %d and %d", p, limit, s.percent, s.limit)
	}
	if goal := read("/gc/heap/goal:bytes"); goal < floor*97/100 || goal > floor*103/100 {
		t.Errorf("heap goal %.1f MiB, want the floor (%d MiB)", float64(goal)/mib, floor/mib)
	}
	if s.limit < int64(2*floor) || s.limit == math.MaxInt64 {
		t.Errorf("memory limit %d, want the backstop: twice the floor plus the rest of Go's memory", s.limit)
	}
	// A collection at most every floor-live bytes, give or take the
	// pacer's early start: with GOGC=100 it came every live+roots.
	room := floor - s.live
	if with, most := churn(256*mib), uint32(256*mib/room*3/2+1); with > most {
		t.Errorf("%d collections of 256 MiB with a %d MiB floor, want at most %d (%d without it)", with, floor/mib, most, without)
	}
	runtime.KeepAlive(live)
}

// Once GOGC=100 reaches the floor by itself, the tuner leaves the
// collector as it found it: no raised GOGC, no limit.
func TestFloorStepsAsideForALargeHeap(t *testing.T) {
	tu := run(t, Options{Floor: 16 * mib, Limit: true})
	live := make([][]byte, 0, 40)
	for range 40 {
		live = append(live, make([]byte, mib))
	}
	s := settle(t, tu)
	if s.percent != 100 || s.limit != math.MaxInt64 {
		t.Errorf("GOGC %d, limit %d with %d MiB live and a 16 MiB floor, want 100 and none", s.percent, s.limit, s.live/mib)
	}
	runtime.KeepAlive(live)
}

// The settings found are back after the tuner stops, and no collection
// after that changes them again.
func TestStopRestores(t *testing.T) {
	percent, limit := current()
	ctx, cancel := context.WithCancel(context.Background())
	tu := start(ctx, Options{Floor: 64 * mib, Limit: true})
	settle(t, tu)
	cancel()
	waitFor(t, "the settings to be restored", func() bool {
		p, l := current()
		return p == percent && l == limit
	})
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // for a finalizer that would still run
	if p, l := current(); p != percent || l != limit {
		t.Errorf("GOGC %d, limit %d after the tuner stopped and two collections, want %d and %d", p, l, percent, limit)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
