// Package replay re-queues dead-lettered events to the topic they came
// from, once the operator fixed what failed them, for POST
// /failed/{destination}/replay.
//
// A dead record is re-queued at most once. Before re-queuing, the replay
// writes a marker keyed by the record's id (topics.DeadID) to the topic
// topics.Replayed, then reads that topic back. The key puts every marker
// of an id in one partition, in the order written: only the replay whose
// marker comes first for an id re-queues the record, so
// two replays at once — by two requests or two bulker instances — cannot
// both re-queue it, and a later replay skips it. The dead record itself
// stays where it is, so nothing is lost: should bulker stop between the
// marker and the re-queue, the record is still listed by GET /failed,
// marked replayed, and a replay of its id with force re-queues it.
//
// A re-queued event carries the replay's id (topics.HeaderReplayOf); if
// it fails again the loader sends it straight back to the dead-letter
// topic with its new reason, as a new record with a new id.
package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/observe"
	"github.com/streamforge/streamforge/internal/topics"
)

// Reader reads the records of a topic up to its current end; limit > 0
// keeps the newest limit. kafka.Reader implements it.
type Reader interface {
	ReadAll(ctx context.Context, topic string, limit int) ([]kafka.Record, error)
}

// Producer writes records and returns once the broker acknowledged them.
type Producer interface {
	ProduceSync(ctx context.Context, recs ...kafka.Record) error
}

// EventsLog records each replayed event.
type EventsLog interface {
	Add(ctx context.Context, e eventslog.Entry) error
}

// Deps are the replayer's collaborators; Events may be nil.
type Deps struct {
	Reader   Reader
	Producer Producer
	// EnsureTopic creates the marker topic unless it exists.
	EnsureTopic func(ctx context.Context, topic string) error
	Events      EventsLog
	Registerer  prometheus.Registerer // nil: metrics are not exported
	Now         func() time.Time      // nil: time.Now
}

// Replayer re-queues dead events; it is safe for concurrent use.
type Replayer struct {
	prefix string
	// scan is how many of the newest records of a dead-letter topic a
	// replay looks at, as GET /failed does.
	scan     int
	d        Deps
	replayed *prometheus.CounterVec

	mu      sync.Mutex // one replay at a time in this process
	ensured bool
}

// New returns a replayer of the dead-letter topics under prefix and
// registers its metric.
func New(prefix string, scan int, d Deps) (*Replayer, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	r := &Replayer{prefix: prefix, scan: scan, d: d,
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulker_events_replayed_total",
			Help: "Dead events re-queued to their topic by a replay, by destination and table.",
		}, []string{"destination", "table"}),
	}
	if d.Registerer == nil {
		return r, nil
	}
	return r, observe.Register(d.Registerer, r.replayed)
}

// Request chooses the dead events of one destination to replay: those of
// Table, or those whose ids are IDs (of Table, if set too).
type Request struct {
	Destination string
	Table       string
	IDs         []string
	// Force re-queues the chosen IDs even if they were replayed before:
	// for a record whose replay was cut short. It needs IDs.
	Force bool
}

// Result lists the ids of the chosen records by what happened to them.
type Result struct {
	Replayed        []string `json:"replayed"`
	AlreadyReplayed []string `json:"alreadyReplayed,omitempty"`
	// NotFound are requested ids not among the newest dead records of
	// the destination (and table).
	NotFound []string `json:"notFound,omitempty"`
	// NoTopic are records that do not name the topic they came from.
	NoTopic []string `json:"noTopic,omitempty"`
	// Unsure are records marked replayed whose re-queue the broker did
	// not acknowledge: some may be re-queued; a replay of their ids with
	// force re-queues them (again).
	Unsure []string `json:"unsure,omitempty"`
}

// ErrBadRequest wraps the errors of a request that cannot be served.
var ErrBadRequest = errors.New("bad replay request")

// marker is the value of a record in the topics.Replayed topic; its key is
// the dead record's id.
type marker struct {
	Destination string    `json:"destination"`
	Table       string    `json:"table"`
	Topic       string    `json:"topic"` // the topic it was re-queued to
	At          time.Time `json:"at"`
	// Claim tells apart the markers of concurrent replays.
	Claim string `json:"claim"`
}

// dead is a chosen dead-letter record.
type dead struct {
	id  string
	rec kafka.Record
	f   topics.Failure
}

// Replay re-queues the dead events req chooses, oldest first.
func (r *Replayer) Replay(ctx context.Context, req Request) (Result, error) {
	res := Result{Replayed: []string{}}
	if req.Table == "" && len(req.IDs) == 0 {
		return res, fmt.Errorf("%w: name a table (tableName) or the ids of events", ErrBadRequest)
	}
	if req.Force && len(req.IDs) == 0 {
		return res, fmt.Errorf("%w: force needs ids", ErrBadRequest)
	}
	for _, id := range req.IDs {
		if _, _, _, err := topics.ParseDeadID(r.prefix, id); err != nil {
			return res, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ensured && r.d.EnsureTopic != nil {
		if err := r.d.EnsureTopic(ctx, topics.Replayed(r.prefix)); err != nil {
			return res, fmt.Errorf("creating the replay topic: %w", err)
		}
		r.ensured = true
	}

	chosen, err := r.chosen(ctx, req, &res)
	if err != nil {
		return res, err
	}
	first, err := r.firstMarkers(ctx)
	if err != nil {
		return res, err
	}
	var candidates []dead
	for _, d := range chosen {
		if _, done := first[d.id]; done && !req.Force {
			res.AlreadyReplayed = append(res.AlreadyReplayed, d.id)
			continue
		}
		candidates = append(candidates, d)
	}
	if len(candidates) == 0 {
		return res, nil
	}

	// From the first marker on, a replay runs to its end even if its caller
	// goes away: cut short, it would leave events marked replayed and
	// still dead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requeueTimeout)
	defer cancel()
	// Claim every candidate, then keep those whose claim came first.
	claim := newClaim()
	now := r.d.Now().UTC()
	marks := make([]kafka.Record, len(candidates))
	for i, d := range candidates {
		v, _ := json.Marshal(marker{Destination: d.f.Destination, Table: d.f.Table, Topic: d.f.Topic, At: now, Claim: claim})
		marks[i] = kafka.Record{Topic: topics.Replayed(r.prefix), Key: []byte(d.id), Value: v}
	}
	if err := r.d.Producer.ProduceSync(ctx, marks...); err != nil {
		return res, fmt.Errorf("writing replay markers: %w", err)
	}
	if !req.Force {
		if first, err = r.firstMarkers(ctx); err != nil {
			return res, err
		}
	}
	var won []dead
	for _, d := range candidates {
		if !req.Force && first[d.id].Claim != claim {
			res.AlreadyReplayed = append(res.AlreadyReplayed, d.id)
			continue
		}
		won = append(won, d)
	}
	for chunk := range slices.Chunk(won, requeueChunk) {
		recs := make([]kafka.Record, len(chunk))
		for i, d := range chunk {
			f := d.f
			f.RetryAfter, f.ReplayOf = time.Time{}, d.id
			recs[i] = kafka.Record{Topic: f.Topic, Key: d.rec.Key, Value: d.rec.Value, Headers: f.Headers()}
		}
		if err := r.d.Producer.ProduceSync(ctx, recs...); err != nil {
			// Marked, and not all re-queued: the rest stay dead.
			for _, d := range won[len(res.Replayed):] {
				res.Unsure = append(res.Unsure, d.id)
			}
			return res, fmt.Errorf("re-queuing dead events (%d re-queued, %d unsure: replay those ids again with force): %w", len(res.Replayed), len(res.Unsure), err)
		}
		for _, d := range chunk {
			res.Replayed = append(res.Replayed, d.id)
			r.replayed.WithLabelValues(d.f.Destination, d.f.Table).Inc()
			if r.d.Events != nil {
				_ = r.d.Events.Add(ctx, eventslog.Entry{Time: now, Destination: d.f.Destination, Table: d.f.Table,
					Status: eventslog.Replayed, Error: "replay of dead event " + d.id + ", dead after: " + d.f.Error,
					Body: eventBody(d.rec.Value)})
			}
		}
	}
	return res, nil
}

const (
	// requeueTimeout bounds a replay from its first marker on.
	requeueTimeout = 2 * time.Minute
	// requeueChunk is how many records one acknowledged produce re-queues.
	requeueChunk = 500
)

// chosen returns the dead records req names, oldest first; requested ids
// not found go to res.NotFound, records without a topic to res.NoTopic.
func (r *Replayer) chosen(ctx context.Context, req Request, res *Result) ([]dead, error) {
	var out []dead
	found := map[string]bool{}
	wanted := make(map[string]bool, len(req.IDs))
	for _, id := range req.IDs {
		wanted[id] = true
	}
	for _, topic := range []string{topics.EarlierDead(r.prefix), topics.Dead(r.prefix)} {
		recs, err := r.d.Reader.ReadAll(ctx, topic, r.scan)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", topic, err)
		}
		for _, rec := range recs {
			f := topics.ParseFailure(rec)
			id := topics.DeadID(r.prefix, rec)
			if f.Destination != req.Destination || req.Table != "" && f.Table != req.Table ||
				len(req.IDs) > 0 && !wanted[id] {
				continue
			}
			found[id] = true
			if f.Topic == "" {
				res.NoTopic = append(res.NoTopic, id)
				continue
			}
			out = append(out, dead{id: id, rec: rec, f: f})
		}
	}
	for _, id := range req.IDs {
		if !found[id] && !slices.Contains(res.NotFound, id) {
			res.NotFound = append(res.NotFound, id)
		}
	}
	// Records of several partitions and both topics, in the order they died.
	slices.SortStableFunc(out, func(a, b dead) int { return a.rec.Time.Compare(b.rec.Time) })
	return out, nil
}

// firstMarkers returns, per dead id, its first marker.
func (r *Replayer) firstMarkers(ctx context.Context) (map[string]marker, error) {
	return readMarkers(ctx, r.d.Reader, r.prefix, 0)
}

// Replayed returns the ids of dead records replayed so far, with when,
// for GET /failed; it reads the newest limit markers (all if limit <= 0).
func Replayed(ctx context.Context, rd Reader, prefix string, limit int) (map[string]time.Time, error) {
	first, err := readMarkers(ctx, rd, prefix, limit)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(first))
	for id, m := range first {
		out[id] = m.At
	}
	return out, nil
}

// readMarkers returns the first of the markers of each dead id among the
// newest limit (all if limit <= 0).
func readMarkers(ctx context.Context, rd Reader, prefix string, limit int) (map[string]marker, error) {
	recs, err := rd.ReadAll(ctx, topics.Replayed(prefix), limit)
	if err != nil {
		return nil, fmt.Errorf("reading replay markers: %w", err)
	}
	first := make(map[string]marker, len(recs))
	for _, rec := range recs {
		id := string(rec.Key)
		if _, ok := first[id]; ok {
			continue
		}
		var m marker
		_ = json.Unmarshal(rec.Value, &m) // a foreign record still marks its id
		first[id] = m
	}
	return first, nil
}

func newClaim() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// eventBody is v as JSON for the events log: an event that is not JSON is
// shown as a string.
func eventBody(v []byte) json.RawMessage {
	if json.Valid(v) {
		return json.RawMessage(v)
	}
	b, _ := json.Marshal(string(v))
	return b
}
