// Package eventslog keeps bulker's recent events — accepted by the HTTP
// API, loaded into a destination, failed or dead-lettered — for the
// /events and /log endpoints. It is a bounded log for people, not a
// delivery guarantee: Kafka holds the events themselves.
package eventslog

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status of an event.
type Status string

// Statuses, in the order an event goes through them.
const (
	Accepted Status = "accepted" // durably in Kafka
	Loaded   Status = "loaded"   // written to the destination
	Failed   Status = "failed"   // a load failed; it will be retried
	Dead     Status = "dead"     // given up: in the dead-letter topic
	Replayed Status = "replayed" // re-queued from the dead-letter topic
	// Warning is not an event's: something a load did not do as asked,
	// such as a type hint the destination refused.
	Warning Status = "warning"
)

// Entry is one logged event.
type Entry struct {
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Destination string          `json:"destination"`
	Table       string          `json:"table"`
	Status      Status          `json:"status"`
	Error       string          `json:"error,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// Filter selects entries; empty fields match everything.
type Filter struct {
	Destination string
	Table       string
	Statuses    []Status
	// Since and Until bound the entries' time, both inclusive; the zero
	// time leaves that end open.
	Since, Until time.Time
	// BeforeID pages: only entries listed after the one with this ID. Once
	// that entry has left the log, those older than the millisecond its
	// ID starts with (see IDTime).
	BeforeID string
	// Limit caps the answer; <= 0 means every stored entry.
	Limit int
}

// IDTime is the time an entry ID starts with, to the millisecond.
func IDTime(id string) (time.Time, error) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("id %q does not start with a Unix time in milliseconds", id)
	}
	return time.UnixMilli(n).UTC(), nil
}

// Log is what bulker needs from an events log; Memory and Redis implement
// it. Each keeps, per destination, a bounded ring of accepted and loaded
// entries and another of failures (failed, dead, warning) and replays.
type Log interface {
	Add(ctx context.Context, e Entry) error
	// List returns matching entries, newest first.
	List(ctx context.Context, f Filter) ([]Entry, error)
}

// failure tells the statuses kept apart from accepted and loaded events,
// so that heavy traffic does not push failures out of the log — nor the
// replays of dead events, which an operator looks for next to them.
func (s Status) failure() bool { return s == Failed || s == Dead || s == Warning || s == Replayed }

// wants reports whether entries kept among failures (failures true) or
// among the others may match f.
func (f Filter) wants(failures bool) bool {
	if len(f.Statuses) == 0 {
		return true
	}
	for _, s := range f.Statuses {
		if s.failure() == failures {
			return true
		}
	}
	return false
}

func (f Filter) match(e *Entry) bool {
	return (f.Destination == "" || f.Destination == e.Destination) &&
		(f.Table == "" || f.Table == e.Table) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.Status)) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || !e.Time.After(f.Until))
}

// page applies BeforeID and Limit to matching entries, newest first.
func (f Filter) page(es []Entry) []Entry {
	if f.BeforeID != "" {
		if i := slices.IndexFunc(es, func(e Entry) bool { return e.ID == f.BeforeID }); i >= 0 {
			es = es[i+1:]
		} else if before, err := IDTime(f.BeforeID); err == nil {
			i := slices.IndexFunc(es, func(e Entry) bool { return e.Time.Before(before) })
			if i < 0 {
				i = len(es)
			}
			es = es[i:]
		}
	}
	if f.Limit > 0 && len(es) > f.Limit {
		es = es[:f.Limit]
	}
	return es
}

// fill sets the ID and time of an entry that has none.
func fill(e *Entry) {
	stamp(e)
	if e.ID == "" {
		e.ID = newID(e.Time, rand.Uint64())
	}
}

// stamp sets the time of an entry that has none, and makes it UTC.
func stamp(e *Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
}

// newID is an entry's ID: the Unix time in milliseconds, like Redis stream
// ids, so IDs sort by time, and six bytes of n, which only tell apart
// entries of the same millisecond.
func newID(t time.Time, n uint64) string {
	var r [8]byte
	binary.LittleEndian.PutUint64(r[:], n)
	b := make([]byte, 0, 20+1+12)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = append(b, '-')
	b = hex.AppendEncode(b, r[:6])
	return string(b)
}
