package sink

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
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
	if err := reg.Set([]destination.Config{a, a}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("the same id twice: %v", err)
	}
	if _, ok := reg.Lookup("a"); !ok {
		t.Fatal("a bad Set must keep the configuration in force")
	}
	// Jitsu keeps the case of BULKER_DESTINATION_<ID>; bulker lower-cases
	// it and answers to both.
	if c, ok := reg.Lookup("A"); !ok || c.ID != "a" {
		t.Fatalf("Lookup(A) = %+v, %v; want a", c, ok)
	}
	// A type bulker lacks is set aside; the others run.
	if err := reg.Set([]destination.Config{a, {ID: "b", Type: "clickhouse"}}); err != nil {
		t.Fatalf("a destination of an unsupported type must not fail the others: %v", err)
	}
	if u := reg.Unsupported(); len(u) != 1 || u[0].ID != "b" || u[0].Type != "clickhouse" {
		t.Fatalf("Unsupported = %+v, want b (clickhouse)", u)
	}
	if _, ok := reg.Lookup("b"); ok {
		t.Fatal("an unsupported destination must not be looked up as a working one")
	}
	if err := reg.Set([]destination.Config{a, {ID: "a", Type: "clickhouse"}}); err == nil {
		t.Fatal("an id configured twice, once with an unsupported type, must fail")
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
	if err := reg.Set([]destination.Config{a}); err != nil || closed.Load() != 0 || len(reg.Unsupported()) != 0 {
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

// describingDest answers Describe with err and counts Close calls.
type describingDest struct {
	countingDest
	err error
}

func (d describingDest) Describe(context.Context, string) (schema.Table, bool, error) {
	return schema.Table{}, false, d.err
}

// Test opens a destination apart from the configured ones, reads from its
// database, closes it, and says why it failed.
func TestRegistryTest(t *testing.T) {
	var closed atomic.Int32
	opens := func(context.Context, destination.Config, *slog.Logger) (destination.Driver, error) {
		t.Error("a sqlite destination was opened")
		return nil, errors.New("opened")
	}
	reg := NewRegistry(map[string]destination.Factory{
		"sqlite": opens,
		"fake": func(_ context.Context, c destination.Config, _ *slog.Logger) (destination.Driver, error) {
			if c.Credentials.Host == "refused" {
				return describingDest{countingDest{closed: &closed}, errors.New("connecting to refused:5432: connection refused")}, nil
			}
			return describingDest{countingDest: countingDest{closed: &closed}}, nil
		},
	}, slog.New(slog.DiscardHandler))
	cases := []struct {
		name string
		c    destination.Config
		err  string
	}{
		{"reachable", destination.Config{ID: "t", Type: "fake"}, ""},
		{"refused", destination.Config{ID: "t", Type: "fake", Credentials: destination.Credentials{Host: "refused"}}, "destination t: connecting to refused:5432: connection refused"},
		{"unsupported type", destination.Config{ID: "t", Type: "clickhouse"}, `type "clickhouse" is not supported`},
		{"sqlite: a file, not opened", destination.Config{ID: "t", Type: "sqlite", Credentials: destination.Credentials{Database: "/tmp/x/y.db"}}, "sqlite is a local file"},
	}
	for _, c := range cases {
		closed.Store(0)
		err := reg.Test(context.Background(), c.c)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
		if c.c.Type == "fake" && closed.Load() != 1 {
			t.Errorf("%s: closed %d times, want 1", c.name, closed.Load())
		}
	}
	if _, ok := reg.Lookup("t"); ok {
		t.Error("a tested destination was configured")
	}
}

// A request looks its destination up while a reload opens another one: it
// must get the configuration in force at once, not wait for the opening.
func TestRegistryLookupDuringSet(t *testing.T) {
	opening, release := make(chan struct{}), make(chan struct{})
	reg := NewRegistry(map[string]destination.Factory{
		"fake": func(_ context.Context, c destination.Config, _ *slog.Logger) (destination.Driver, error) {
			if c.ID == "slow" {
				close(opening)
				<-release
			}
			return countingDest{closed: new(atomic.Int32)}, nil
		},
	}, slog.New(slog.DiscardHandler))
	a := destination.Config{ID: "a", Type: "fake"}
	if err := reg.Set([]destination.Config{a}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- reg.Set([]destination.Config{a, {ID: "slow", Type: "fake"}}) }()
	<-opening
	if _, ok := reg.Lookup("a"); !ok {
		t.Fatal("while another destination opens, a must stay configured")
	}
	if _, ok := reg.Lookup("slow"); ok {
		t.Fatal("a destination still opening must not be looked up yet")
	}
	// Nor does a lookup wait for the registry's lock, which the loaders
	// take to open their tables: every request looks its destination up.
	looked := make(chan bool)
	reg.mu.Lock()
	go func() { _, ok := reg.Lookup("a"); looked <- ok }()
	select {
	case ok := <-looked:
		if !ok {
			t.Error("a lookup while the lock is held must still find a")
		}
	case <-time.After(5 * time.Second):
		t.Error("Lookup waited for the registry's lock")
		defer func() { <-looked }()
	}
	reg.mu.Unlock()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Lookup("slow"); !ok {
		t.Fatal("once Set returns, the new destination must be looked up")
	}
	reg.Close()
}
