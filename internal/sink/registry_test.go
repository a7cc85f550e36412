package sink

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
)

// countingDest is a driver that only counts Close calls.
type countingDest struct {
	destination.Driver
	closed *atomic.Int32
}

func (d countingDest) Close() error { d.closed.Add(1); return nil }

func TestRegistryOpensOnceAndClosesChangedDestinations(t *testing.T) {
	var opened, closed atomic.Int32
	reg := NewRegistry(map[string]destination.Factory{
		"fake": func(context.Context, destination.Config, *slog.Logger) (destination.Driver, error) {
			opened.Add(1)
			return countingDest{closed: &closed}, nil
		},
	}, slog.New(slog.DiscardHandler))
	a := destination.Config{ID: "a", Type: "fake", Options: destination.Options{Mode: destination.Batch}}
	if err := reg.Set([]destination.Config{a}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Set([]destination.Config{{ID: "b", Type: "nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown type: %v", err)
	}
	if _, ok := reg.Lookup("a"); !ok {
		t.Fatal("a bad Set must keep the configuration in force")
	}
	first, err := reg.Table("a", "t")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if again, err := reg.Table("a", "t"); err != nil || again != first {
			t.Fatalf("Table again = %p, %v; want the same writer %p", again, err, first)
		}
	}
	if opened.Load() != 1 {
		t.Fatalf("opened %d times, want once", opened.Load())
	}
	if err := reg.Set([]destination.Config{a}); err != nil || closed.Load() != 0 {
		t.Fatalf("the same configuration must keep the connection: %v, closed %d", err, closed.Load())
	}
	changed := a
	changed.Options.BatchSize = 5
	if err := reg.Set([]destination.Config{changed}); err != nil || closed.Load() != 1 {
		t.Fatalf("a changed destination must be closed: %v, closed %d", err, closed.Load())
	}
	if again, err := reg.Table("a", "t"); err != nil || opened.Load() != 2 || again == first {
		t.Fatalf("reopen after change: %v, opened %d, same writer %v", err, opened.Load(), again == first)
	}
	if _, err := reg.Table("gone", "t"); err == nil {
		t.Fatal("opening an unconfigured destination must fail")
	}
	reg.Close()
	if closed.Load() != 2 {
		t.Fatalf("Close closed %d in all, want 2", closed.Load())
	}
}
