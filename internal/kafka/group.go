package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrRevoked is what Poll returns, once per rebalance, when partitions of
// the consumer are being revoked and ConsumerOptions.RevokeWait is set: the
// caller should hand the records it holds on to be loaded and committed at
// once, for the revoke waits for them.
var ErrRevoked = errors.New("kafka: partitions are being revoked")

// Group timing. A member that dies holds its partitions until the session
// timeout (a restart with the same instance id takes them back at once); a
// rebalance waits for every member to rejoin up to the rebalance timeout,
// so a revoke must end well within it.
const (
	sessionTimeout   = 10 * time.Second
	rebalanceTimeout = 30 * time.Second
	// maxRevokeWait bounds ConsumerOptions.RevokeWait.
	maxRevokeWait = rebalanceTimeout * 2 / 3
)

type topicPartition struct {
	topic     string
	partition int32
}

// progress is how far the member got in one partition it owns.
type progress struct {
	revoking, revoked bool
	handed            int64           // offset after the last record Poll handed out
	loaded            kgo.EpochOffset // after the last record given to Commit
	committed         int64           // offset the broker has from this member
}

// membership tracks the partitions a group consumer owns and how far it got
// in each, so that a rebalance hands a partition over without a record
// loaded twice: a revoke waits (up to wait) until every record handed out
// of the partition was given to Commit, commits them, and from then on
// drops commits for that partition — which may meanwhile be another
// member's, whose commits must not be rewound.
type membership struct {
	group string
	wait  time.Duration // zero: revokes do not wait
	log   *slog.Logger

	mu      sync.Mutex
	parts   map[topicPartition]*progress
	changed chan struct{} // closed and replaced when a record is given to Commit
	closing bool          // Close began: nothing more will be loaded
	// revokes counts revokes begun; seen is the count Poll last reported
	// with ErrRevoked; revoking ends when the next revoke begins.
	revokes, seen int
	revoking      context.Context
	revoke        context.CancelFunc
}

func newMembership(group string, wait time.Duration, log *slog.Logger) *membership {
	m := &membership{group: group, wait: min(wait, maxRevokeWait), log: log,
		parts: map[topicPartition]*progress{}, changed: make(chan struct{})}
	m.revoking, m.revoke = context.WithCancel(context.Background())
	return m
}

// part returns the progress of tp, tracking it if it is new: a partition
// the member reads is its own until a revoke says otherwise.
func (m *membership) part(tp topicPartition) *progress {
	p := m.parts[tp]
	if p == nil {
		p = &progress{}
		m.parts[tp] = p
	}
	return p
}

func (m *membership) assigned(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, parts := range ps {
		for _, p := range parts {
			// Fetching starts again from the committed offset.
			m.parts[topicPartition{t, p}] = &progress{}
		}
	}
}

// revoked waits until the records handed out of ps are loaded (or the
// wait ends), commits them, and gives the partitions up.
func (m *membership) revoked(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
	if len(ps) == 0 {
		return // the end of a cooperative session that revokes nothing
	}
	m.mu.Lock()
	for t, parts := range ps {
		for _, p := range parts {
			m.part(topicPartition{t, p}).revoking = true
		}
	}
	m.revokes++
	m.revoke()
	m.revoking, m.revoke = context.WithCancel(context.Background())
	m.mu.Unlock()

	if m.wait > 0 {
		m.awaitLoaded(ctx, ps)
	}
	m.mu.Lock()
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for t, parts := range ps {
		for _, p := range parts {
			pr := m.part(topicPartition{t, p})
			if pr.loaded.Offset > pr.committed {
				if offsets[t] == nil {
					offsets[t] = map[int32]kgo.EpochOffset{}
				}
				offsets[t][p] = pr.loaded
			}
			pr.revoked = true
		}
	}
	m.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err == nil {
			err = commitError(resp)
		}
		if err != nil {
			m.log.Warn("committing revoked partitions failed; their last records may be loaded again by their new owner", "group", m.group, "err", err)
		}
	})
}

// awaitLoaded waits until every record handed out of ps was given to
// Commit, the wait ends, or Close begins.
func (m *membership) awaitLoaded(ctx context.Context, ps map[string][]int32) {
	timer := time.NewTimer(m.wait)
	defer timer.Stop()
	for {
		m.mu.Lock()
		pending := 0
		for t, parts := range ps {
			for _, p := range parts {
				if pr := m.part(topicPartition{t, p}); pr.handed > pr.loaded.Offset {
					pending++
				}
			}
		}
		changed, closing := m.changed, m.closing
		m.mu.Unlock()
		if pending == 0 || closing {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-timer.C:
			m.log.Warn("partitions revoked before the records read from them were loaded; their new owner may load those again",
				"group", m.group, "partitions", pending, "waited", m.wait.String())
			return
		}
	}
}

// lost gives ps up without committing: the member is no longer in the
// group, so a commit would fail, and another member may own them already.
func (m *membership) lost(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, parts := range ps {
		for _, p := range parts {
			m.part(topicPartition{t, p}).revoked = true
		}
	}
}

// handOut appends to recs the records of partitions still owned and notes
// them as handed out. A record of a partition revoked since it was fetched
// is dropped: the partition's new owner reads it from the committed offset.
func (m *membership) handOut(recs []Record, fs kgo.Fetches) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A partition at a time, not a record: a loader polls ten thousand
	// records a batch.
	//
	// Each record is copied, then recycled: the array franz-go decoded
	// its fetched batch into goes back to the consumer's recordArrays once
	// all the records it kept of that batch are (for a reader without the
	// pool, Recycle does nothing).
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		p := m.part(topicPartition{fp.Topic, fp.Partition})
		for _, kr := range fp.Records {
			if !p.revoked {
				p.handed = max(p.handed, kr.Offset+1)
				recs = append(recs, fromKgo(kr))
			}
			kr.Recycle()
		}
	})
	return recs
}

// pollContext returns the context of one poll, which ends when a revoke
// begins, and ErrRevoked if one began since the last was reported.
func (m *membership) pollContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if m.wait <= 0 {
		return ctx, func() {}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen != m.revokes {
		m.seen = m.revokes
		return nil, nil, ErrRevoked
	}
	pctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(m.revoking, cancel)
	return pctx, func() { stop(); cancel() }, nil
}

// revokedDuring reports whether a revoke began during a poll that ended
// without records, and notes it as reported.
func (m *membership) revokedDuring(ctx context.Context) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.wait <= 0 || ctx.Err() != nil || m.seen == m.revokes {
		return false
	}
	m.seen = m.revokes
	return true
}

// owns reports whether the member still owns tp: not once a revoke of it
// began.
func (m *membership) owns(tp topicPartition) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.parts[tp]
	return p == nil || !p.revoking && !p.revoked
}

// toCommit returns, for each partition of recs the member still owns,
// a record of the highest offset in recs, noting them as loaded: what
// franz-go's CommitRecords commits.
func (m *membership) toCommit(recs []Record) []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	// As CommitRecords picks: the latest epoch, then the highest offset.
	highest := map[topicPartition]kgo.EpochOffset{}
	// A batch holds runs of records of one partition: a run's partition is
	// looked up once, not each record's.
	for run := recs; len(run) > 0; {
		tp := topicPartition{run[0].Topic, run[0].Partition}
		n := 1
		for n < len(run) && run[n].Partition == tp.partition && run[n].Topic == tp.topic {
			n++
		}
		var p *progress // looked up at the run's first consumed record
		h, seen := highest[tp]
		for i := range run[:n] {
			r := &run[i]
			if !r.consumed {
				continue
			}
			if p == nil {
				p = m.part(tp)
			}
			if p.revoked {
				break
			}
			next := kgo.EpochOffset{Epoch: r.epoch, Offset: r.Offset + 1}
			if next.Offset > p.loaded.Offset {
				p.loaded = next
			}
			if !seen || h.Less(next) {
				h, seen = next, true
			}
		}
		if seen {
			highest[tp] = h
		}
		run = run[n:]
	}
	krs := make([]*kgo.Record, 0, len(highest))
	for tp, eo := range highest {
		krs = append(krs, &kgo.Record{Topic: tp.topic, Partition: tp.partition, Offset: eo.Offset - 1, LeaderEpoch: eo.Epoch})
	}
	close(m.changed)
	m.changed = make(chan struct{})
	return krs
}

// committed notes that krs are committed.
func (m *membership) committed(krs []*kgo.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range krs {
		p := m.part(topicPartition{r.Topic, r.Partition})
		p.committed = max(p.committed, r.Offset+1)
	}
}

// close notes that nothing more will be loaded: the revoke that closing
// the client runs commits what was loaded without waiting.
func (m *membership) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closing = true
	close(m.changed)
	m.changed = make(chan struct{})
}

// commitError is the first partition error of an offset commit.
func commitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}
