package gcfloor

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	tests := []struct {
		name        string
		live, floor uint64
		want        int
	}{
		{"a quarter of the floor collects at the floor", 6 * mib, 24 * mib, 300},
		{"half the floor is GOGC=100", 12 * mib, 24 * mib, 100},
		{"above half the floor too", 40 * mib, 24 * mib, 100},
		{"a tiny heap is bounded", 100 << 10, 24 * mib, maxPercent},
		{"nothing live yet", 0, 24 * mib, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.live, tt.floor); got != tt.want {
				t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
			}
		})
	}
}

func TestLimitFor(t *testing.T) {
	tests := []struct {
		live, floor uint64
		want        int64
	}{
		{0, 24 * mib, 48 * mib},
		{4 * mib, 24 * mib, 60 * mib},
		{30 * mib, 24 * mib, 138 * mib},
		{math.MaxUint64 / 2, 24 * mib, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := limitFor(tt.live, tt.floor); got != tt.want {
			t.Errorf("limitFor(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
		}
	}
}

var sink []byte

// churn allocates n bytes of garbage in 4 KiB pieces and returns how many
// collections ran meanwhile.
func churn(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / 4096 {
		sink = make([]byte, 4096)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A process with a small live heap collects far less often with the floor,
// and gets Go's defaults back when the floor stops.
func TestFloorCutsCollections(t *testing.T) {
	runtime.GC()
	without := churn(256 * mib)

	ctx, cancel := context.WithCancel(context.Background())
	const floor = 32 * mib // several times the test binary's live heap
	Run(ctx, Options{Floor: floor, Limit: true})
	runtime.GC() // the first cycle sets the percent
	waitFor(t, "the floor to be applied", func() bool { return gcPercent() > 100 })
	with := churn(256 * mib)
	want := min(floor, liveHeap()*(100+maxPercent)/100)
	if goal := heapGoal(); goal < want*3/4 {
		t.Errorf("heap goal %d MiB with a %d MiB floor and %d MiB live", goal/mib, floor/mib, liveHeap()/mib)
	}
	if with*2 > without {
		t.Errorf("%d collections with the floor against %d without: want half or fewer", with, without)
	}
	if got, live := debug.SetMemoryLimit(-1), liveHeap(); got < 2*floor || got > int64(2*floor+3*(live+4*mib)) {
		t.Errorf("memory limit %d MiB with %d MiB live, want twice the floor plus three times the live heap", got/mib, live/mib)
	}

	cancel()
	waitFor(t, "GOGC=100", func() bool { return gcPercent() == 100 })
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d after the floor stopped, want none", got)
	}
	runtime.GC()
	runtime.GC()
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC = %d after the floor stopped and two collections, want 100", p)
	}
}

// When the live heap grows past half the floor, the collector is back to
// GOGC=100, and the backstop rises above what it needs.
func TestFloorStepsAsideForALargeHeap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	Run(ctx, Options{Floor: 16 * mib, Limit: true})
	live := make([][]byte, 0, 40)
	for range 40 {
		live = append(live, make([]byte, mib))
	}
	runtime.GC()
	runtime.GC()
	waitFor(t, "the limit to follow the live heap", func() bool { return debug.SetMemoryLimit(-1) >= 2*16*mib+3*40*mib })
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC = %d with 40 MiB live and a 16 MiB floor, want 100", p)
	}
	runtime.KeepAlive(live)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
