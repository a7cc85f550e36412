package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/wait"
)

// member polls a consumer in the background and keeps what it read,
// committing it only when told to, as a loader commits after its load.
type member struct {
	c *kafka.Consumer

	mu      sync.Mutex
	held    []kafka.Record // read, not committed yet
	read    []kafka.Record // everything read
	revokes int            // ErrRevoked seen

	close func() // stops polling and closes the consumer
}

func join(t *testing.T, ctx context.Context, cfg kafka.Config, o kafka.ConsumerOptions) *member {
	t.Helper()
	c, err := kafka.NewConsumer(ctx, cfg, discard(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{c: c}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	// Polls append to one slice, as a loader fills its batch: whatever a
	// poll answers (records, ErrRevoked, the end of pctx), what the slice
	// held before must come back intact.
	var kept []kafka.Record
	var broken error
	go func() {
		defer close(done)
		for pctx.Err() == nil {
			n := len(kept)
			var last kafka.Record
			if n > 0 {
				last = kept[n-1]
			}
			var err error
			kept, err = c.PollAppend(pctx, kept, 0)
			if len(kept) < n || n > 0 && (kept[n-1].Offset != last.Offset || string(kept[n-1].Value) != string(last.Value)) {
				broken = fmt.Errorf("a poll answering %v lost or changed the %d records held before it", err, n)
				return
			}
			m.mu.Lock()
			if errors.Is(err, kafka.ErrRevoked) {
				m.revokes++
			}
			m.held = append(m.held, kept[n:]...)
			m.read = append(m.read, kept[n:]...)
			m.mu.Unlock()
		}
	}()
	var once sync.Once
	m.close = func() {
		once.Do(func() {
			stop()
			<-done
			c.Close()
			if broken != nil {
				t.Error(broken)
			}
		})
	}
	t.Cleanup(m.close)
	return m
}

// commit commits what m holds.
func (m *member) commit(t *testing.T, ctx context.Context) {
	t.Helper()
	m.mu.Lock()
	held := m.held
	m.held = nil
	m.mu.Unlock()
	if err := m.c.Commit(ctx, held); err != nil {
		t.Fatal(err)
	}
}

func (m *member) counts() (read, revokes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.read), m.revokes
}

// distinct counts the records the members read, by value.
func distinct(ms ...*member) map[string]int {
	seen := map[string]int{}
	for _, m := range ms {
		m.mu.Lock()
		for _, r := range m.read {
			seen[string(r.Value)]++
		}
		m.mu.Unlock()
	}
	return seen
}

// produceKeyed writes n records with keys spread over the partitions.
func produceKeyed(t *testing.T, ctx context.Context, p *kafka.Client, topic, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := p.Produce(ctx, topic, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "%s%d", prefix, i), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A second member joins while the first holds records it has read but not
// loaded: the rebalance tells the first (ErrRevoked), waits until it
// committed them, and only then hands a partition over, so no record is
// read twice — even when the member commits after the partition left.
func TestRebalanceHandsPartitionsOverWithoutDuplicates(t *testing.T) {
	b, ctx, p := connected(t)
	if err := p.EnsureTopic(ctx, kafka.TopicSpec{Name: "shared", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	produceKeyed(t, ctx, p, "shared", "a", 40)
	o := kafka.ConsumerOptions{Group: "loaders", Topics: []string{"shared"}, RevokeWait: 10 * time.Second}

	first := join(t, ctx, b.Kafka, o)
	wait.For(t, 15*time.Second, "the first member reads all 40 records", func() bool { n, _ := first.counts(); return n == 40 })

	second := join(t, ctx, b.Kafka, o)
	wait.For(t, 15*time.Second, "the first member hears of the revoke", func() bool { _, r := first.counts(); return r > 0 })
	time.Sleep(200 * time.Millisecond) // the revoke is waiting for the held records
	if n, _ := second.counts(); n != 0 {
		t.Fatalf("the second member read %d records before the first committed them", n)
	}
	first.commit(t, ctx)

	produceKeyed(t, ctx, p, "shared", "b", 40)
	wait.For(t, 20*time.Second, "the 40 new records read", func() bool {
		n1, _ := first.counts()
		n2, _ := second.counts()
		return n1+n2 >= 80
	})
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	n1, _ := first.counts()
	n2, _ := second.counts()
	if n2 == 0 || n1 == 40 {
		t.Fatalf("first read %d, second %d: both must read the new records", n1, n2)
	}
	seen := distinct(first, second)
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s read %d times", v, n)
		}
	}
	if len(seen) != 80 {
		t.Errorf("%d distinct records read, want 80", len(seen))
	}
}

// When the revoke stops waiting, the partition goes to the new member,
// which reads the records again (at least once); a late commit of the old
// member must then not rewind the new owner's offsets.
func TestLateCommitOfARevokedPartitionIsDropped(t *testing.T) {
	b, ctx, p := connected(t)
	if err := p.EnsureTopic(ctx, kafka.TopicSpec{Name: "late", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	produceKeyed(t, ctx, p, "late", "a", 20)
	o := kafka.ConsumerOptions{Group: "slow", Topics: []string{"late"}, RevokeWait: time.Second}
	first := join(t, ctx, b.Kafka, o)
	wait.For(t, 15*time.Second, "the first member reads all 20 records", func() bool { n, _ := first.counts(); return n == 20 })

	second := join(t, ctx, b.Kafka, o)
	wait.For(t, 20*time.Second, "the second member reads the partition it took over", func() bool { n, _ := second.counts(); return n > 0 })
	produceKeyed(t, ctx, p, "late", "b", 20)
	wait.For(t, 20*time.Second, "the new records read", func() bool { return len(distinct(first, second)) == 40 })
	first.mu.Lock()
	lost := 0
	for _, r := range first.held {
		if !first.c.Owns(r) {
			lost++
		}
	}
	first.mu.Unlock()
	if lost == 0 {
		t.Error("Owns: the first member owns every record it holds, though a partition moved")
	}
	second.commit(t, ctx)
	first.commit(t, ctx) // late: it still holds records of the second's partition
	committed, err := p.Committed(ctx, "slow", "late")
	if err != nil {
		t.Fatal(err)
	}
	if committed != 40 {
		t.Fatalf("committed offsets add up to %d, want 40: the late commit rewound the new owner's", committed)
	}
}

// A static member that closes gracefully leaves the group: the others take
// its partitions over at once, not after its session timed out.
func TestClosedStaticMemberLeavesAtOnce(t *testing.T) {
	b, ctx, p := connected(t)
	if err := p.EnsureTopic(ctx, kafka.TopicSpec{Name: "static", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	o := kafka.ConsumerOptions{Group: "statics", Topics: []string{"static"}, RevokeWait: time.Second, MaxWait: 100 * time.Millisecond}
	o.InstanceID = "one"
	leaves := join(t, ctx, b.Kafka, o)
	o.InstanceID = "two"
	stays := join(t, ctx, b.Kafka, o)
	produceKeyed(t, ctx, p, "static", "a", 20)
	wait.For(t, 15*time.Second, "both members read a share", func() bool {
		n1, _ := leaves.counts()
		n2, _ := stays.counts()
		return n1 > 0 && n2 > 0 && len(distinct(leaves, stays)) == 20
	})
	leaves.commit(t, ctx)
	leaves.close()
	closed := time.Now()
	produceKeyed(t, ctx, p, "static", "b", 20)
	// Its session would time out only after 10 s.
	wait.For(t, 8*time.Second, "the remaining member reads every new record", func() bool {
		seen := distinct(stays)
		for i := range 20 {
			if seen[fmt.Sprintf("b%d", i)] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("taken over %s after the close", time.Since(closed).Round(100*time.Millisecond))
}
