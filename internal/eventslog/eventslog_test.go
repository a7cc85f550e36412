package eventslog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("STREAMFORGE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s (STREAMFORGE_TEST_REDIS) unreachable: %v", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "streamforge-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb, prefix
}

// logs returns every implementation holding at most size entries (per list).
func logs(t *testing.T, size int) map[string]Log {
	rdb, prefix := redisClient(t)
	return map[string]Log{
		"memory": NewMemory(size),
		"redis":  NewRedis(rdb, prefix, size),
	}
}

func TestLog(t *testing.T) {
	ctx := context.Background()
	for name, l := range logs(t, 5) {
		t.Run(name, func(t *testing.T) {
			base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			add := func(i int, dest, table string, st Status) {
				t.Helper()
				e := Entry{Time: base.Add(time.Duration(i) * time.Second), Destination: dest, Table: table, Status: st,
					Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
				if st == Failed {
					e.Error = "boom"
				}
				if err := l.Add(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			// More accepted and loaded entries of "pg" than the size: the two
			// oldest go, not its older failure, nor "my"'s entries.
			for i := range 8 {
				st := []Status{Accepted, Loaded}[i%2]
				if i == 1 {
					st = Failed
				}
				add(i, "pg", []string{"a", "b"}[i%2], st)
			}
			add(8, "my", "a", Dead)
			add(-1, "my", "a", Accepted) // older than every "pg" entry

			all, err := l.List(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(all); got != `[{"n":8} {"n":7} {"n":6} {"n":5} {"n":4} {"n":3} {"n":1} {"n":-1}]` {
				t.Errorf("all: %s", got)
			}
			cases := []struct {
				f    Filter
				want string
			}{
				{Filter{Destination: "pg"}, `[{"n":7} {"n":6} {"n":5} {"n":4} {"n":3} {"n":1}]`},
				{Filter{Destination: "pg", Table: "b"}, `[{"n":7} {"n":5} {"n":3} {"n":1}]`},
				{Filter{Destination: "pg", Limit: 2}, `[{"n":7} {"n":6}]`},
				{Filter{Destination: "pg", Statuses: []Status{Accepted}}, `[{"n":6} {"n":4}]`},
				{Filter{Statuses: []Status{Failed, Dead}}, `[{"n":8} {"n":1}]`},
				{Filter{Statuses: []Status{Loaded, Dead}}, `[{"n":8} {"n":7} {"n":5} {"n":3}]`},
				{Filter{Destination: "my"}, `[{"n":8} {"n":-1}]`},
				{Filter{Limit: 3}, `[{"n":8} {"n":7} {"n":6}]`},
				{Filter{Destination: "nope"}, `[]`},
			}
			for _, c := range cases {
				got, err := l.List(ctx, c.f)
				if err != nil {
					t.Fatal(err)
				}
				if s := bodies(got); s != c.want {
					t.Errorf("%+v: got %s, want %s", c.f, s, c.want)
				}
			}
			e := all[0]
			if e.ID == "" || e.Destination != "my" || e.Table != "a" || e.Status != Dead || !e.Time.Equal(base.Add(8*time.Second)) {
				t.Errorf("entry fields lost: %+v", e)
			}
			if all[6].Error != "boom" {
				t.Errorf("error lost: %+v", all[6])
			}
		})
	}
}

// Failures stay listed under heavy traffic: thousands of accepted and
// loaded entries do not push them out, and they are bounded on their own.
func TestFailuresOutliveTraffic(t *testing.T) {
	ctx := context.Background()
	const size = 20
	for name, l := range logs(t, size) {
		t.Run(name, func(t *testing.T) {
			base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			add := func(i int, st Status) {
				t.Helper()
				if err := l.Add(ctx, Entry{Time: base.Add(time.Duration(i) * time.Millisecond), Destination: "d", Table: "t", Status: st,
					Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
					t.Fatal(err)
				}
			}
			add(0, Failed)
			add(1, Dead)
			add(2, Warning)
			for i := range 3000 {
				add(3+i, []Status{Accepted, Loaded}[i%2])
			}
			cases := []struct {
				f    Filter
				want string
			}{
				{Filter{Destination: "d", Statuses: []Status{Failed}}, `[{"n":0}]`},
				{Filter{Statuses: []Status{Failed, Dead, Warning}}, `[{"n":2} {"n":1} {"n":0}]`},
				{Filter{Destination: "d", Statuses: []Status{Loaded, Dead}, Limit: 2}, `[{"n":3002} {"n":3000}]`},
			}
			for _, c := range cases {
				got, err := l.List(ctx, c.f)
				if err != nil {
					t.Fatal(err)
				}
				if s := bodies(got); s != c.want {
					t.Errorf("%+v: got %s, want %s", c.f, s, c.want)
				}
			}
			all, err := l.List(ctx, Filter{Destination: "d"})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != size+3 || string(all[size].Body) != `{"n":2}` {
				t.Errorf("every entry: %d, want the %d newest and the 3 failures after them", len(all), size)
			}

			// Failures are bounded too: the oldest go.
			for i := range size {
				add(5000+i, Failed)
			}
			got, err := l.List(ctx, Filter{Statuses: []Status{Failed, Dead, Warning}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != size || string(got[size-1].Body) != `{"n":5000}` {
				t.Errorf("failures kept: %d, oldest %s; want the %d newest", len(got), got[len(got)-1].Body, size)
			}
		})
	}
}

func bodies(es []Entry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = string(e.Body)
	}
	return fmt.Sprint(s)
}

func TestLogConcurrent(t *testing.T) {
	ctx := context.Background()
	for name, l := range logs(t, 50) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range 25 {
						if err := l.Add(ctx, Entry{Destination: "d", Table: "t", Status: Accepted, Body: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}); err != nil {
							t.Error(err)
						}
						if _, err := l.List(ctx, Filter{Destination: "d", Limit: 3}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			got, err := l.List(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 50 {
				t.Errorf("got %d entries, want the 50 kept per destination", len(got))
			}
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.ID] {
					t.Errorf("duplicate id %s", e.ID)
				}
				seen[e.ID] = true
			}
		})
	}
}

// Jitsu's /log pages with beforeId and bounds time with start and end:
// both implementations page the same way, also once the cursor's entry
// has left the log.
func TestPagingAndTimeRange(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, l := range logs(t, 10) {
		t.Run(name, func(t *testing.T) {
			for i := range 6 {
				e := Entry{ID: fmt.Sprintf("%d-%02d", base.Add(time.Duration(i)*time.Second).UnixMilli(), i),
					Time: base.Add(time.Duration(i) * time.Second), Destination: "d", Status: Accepted}
				if err := l.Add(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
			idOf := func(i int) string { return fmt.Sprintf("%d-%02d", at(i).UnixMilli(), i) }
			cases := []struct {
				name string
				f    Filter
				want string
			}{
				{"first page", Filter{Limit: 2}, "5 4"},
				{"next page", Filter{BeforeID: idOf(4), Limit: 2}, "3 2"},
				{"last page", Filter{BeforeID: idOf(2), Limit: 2}, "1 0"},
				{"past the end", Filter{BeforeID: idOf(0)}, ""},
				{"cursor gone: by its time", Filter{BeforeID: fmt.Sprintf("%d-zz", at(3).UnixMilli())}, "2 1 0"},
				{"since, inclusive", Filter{Since: at(4)}, "5 4"},
				{"until, inclusive", Filter{Until: at(1)}, "1 0"},
				{"range and cursor", Filter{Since: at(1), Until: at(4), BeforeID: idOf(4)}, "3 2 1"},
			}
			for _, c := range cases {
				c.f.Destination = "d"
				es, err := l.List(ctx, c.f)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range es {
					got = append(got, e.ID[len(e.ID)-1:])
				}
				if g := strings.Join(got, " "); g != c.want {
					t.Errorf("%s: got %q, want %q", c.name, g, c.want)
				}
			}
		})
	}
}

// A replay stays in the log with the failures, however busy the table.
func TestReplaysKeptWithFailures(t *testing.T) {
	ctx := context.Background()
	for name, l := range logs(t, 10) {
		t.Run(name, func(t *testing.T) {
			if err := l.Add(ctx, Entry{Destination: "d", Table: "t", Status: Replayed, Body: json.RawMessage(`{"n":0}`)}); err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := l.Add(ctx, Entry{Destination: "d", Table: "t", Status: Loaded, Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i+1))}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := l.List(ctx, Filter{Statuses: []Status{Replayed}})
			if err != nil || bodies(got) != `[{"n":0}]` {
				t.Errorf("replayed entries %s (%v), want the one replay", bodies(got), err)
			}
		})
	}
}

func TestIDTime(t *testing.T) {
	if got, err := IDTime("1767323045000-ab12"); err != nil || !got.Equal(time.UnixMilli(1767323045000)) {
		t.Errorf("IDTime = %v, %v", got, err)
	}
	if _, err := IDTime("abc"); err == nil {
		t.Error("IDTime accepted an ID without a time")
	}
}
