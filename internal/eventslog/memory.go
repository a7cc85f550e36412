package eventslog

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// Memory keeps the newest entries of each destination in process memory,
// failures in a ring of their own. Safe for concurrent use; entries are
// lost on restart.
type Memory struct {
	size int
	mu   sync.Mutex
	seq  uint64
	logs map[ringKey]*ring
}

type ringKey struct {
	dest     string
	failures bool
}

type ring struct {
	buf  []memEntry
	next int // where the next entry goes
	full bool
}

type memEntry struct {
	Entry
	seq uint64 // orders entries of the same time
}

// NewMemory keeps at most size entries (at least one) per destination, and
// as many failures.
func NewMemory(size int) *Memory {
	return &Memory{size: max(size, 1), logs: map[ringKey]*ring{}}
}

// Add stores an entry, dropping the oldest of its ring when full.
func (m *Memory) Add(_ context.Context, e Entry) error {
	// The ID is made when the entry is listed, from its sequence number:
	// most entries are dropped from the ring unread.
	stamp(&e)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ringKey{e.Destination, e.Status.failure()}
	r := m.logs[k]
	if r == nil {
		r = &ring{buf: make([]memEntry, m.size)}
		m.logs[k] = r
	}
	m.seq++
	r.buf[r.next] = memEntry{Entry: e, seq: m.seq}
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	return nil
}

// List returns matching entries, newest first.
func (m *Memory) List(_ context.Context, f Filter) ([]Entry, error) {
	m.mu.Lock()
	var found []memEntry
	for k, r := range m.logs {
		if f.Destination != "" && k.dest != f.Destination || !f.wants(k.failures) {
			continue
		}
		n := r.next
		if r.full {
			n = len(r.buf)
		}
		for i := range n {
			if e := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]; f.match(&e.Entry) {
				found = append(found, e)
			}
		}
	}
	m.mu.Unlock()
	slices.SortFunc(found, func(a, b memEntry) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	out := make([]Entry, len(found))
	for i, e := range found {
		out[i] = e.Entry
		if out[i].ID == "" {
			out[i].ID = newID(e.Time, e.seq)
		}
	}
	return f.page(out), nil
}
