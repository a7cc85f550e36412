package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumerOptions chooses what a Consumer reads.
type ConsumerOptions struct {
	Group  string
	Topics []string
	// FromLatest starts a group with no committed offset at the end of the
	// topics (new records only) instead of the beginning. The end is fixed
	// before NewConsumer returns, so a record produced after that is read
	// even when the group join completes later.
	FromLatest bool
	// MaxWait bounds how long a fetch waits for data; zero keeps franz-go's
	// default.
	MaxWait time.Duration
	// MinBytes lets the broker hold a fetch until this much data is there
	// (or MaxWait passed): fewer, larger fetches for a reader that does not
	// need each record at once. Zero answers as soon as there is any.
	MinBytes int32
	// InstanceID makes the consumer a static member of its group: a
	// restart with the same id takes the place, and the partitions, of the
	// member that died at once, without waiting for its session to time
	// out. Two live consumers of a group must not share one.
	InstanceID string
	// RevokeWait is how long a rebalance that takes partitions away waits
	// for the records already read from them to be committed (Poll
	// returns ErrRevoked to say it began), so that their new owner does
	// not read them again. Zero: it does not wait, and what was read from
	// them is left to the new owner.
	RevokeWait time.Duration
}

// Consumer reads records of a consumer group. Offsets are committed only by
// Commit, so a record is read again after a crash until it was committed.
type Consumer struct {
	*Client
	group      *membership
	instanceID string
}

// NewConsumer connects a group consumer (see Connect for the checks done).
func NewConsumer(ctx context.Context, cfg Config, log *slog.Logger, o ConsumerOptions) (*Consumer, error) {
	if o.Group == "" || len(o.Topics) == 0 {
		return nil, errors.New("kafka consumer needs a group and at least one topic")
	}
	reset := kgo.NewOffset().AtStart()
	if o.FromLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	m := newMembership(o.Group, o.RevokeWait, log)
	opts := []kgo.Opt{
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(sessionTimeout),
		kgo.RebalanceTimeout(rebalanceTimeout),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
		// Bound what one fetch buffers ahead of the caller (franz-go's
		// default is 50 MiB): a paused loader holds at most this much.
		kgo.FetchMaxBytes(8 << 20),
		kgo.WithPools(new(recordArrays)),
	}
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	if o.MaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(o.MaxWait))
	}
	if o.MinBytes > 0 {
		opts = append(opts, kgo.FetchMinBytes(o.MinBytes))
	}
	if o.FromLatest {
		admin, err := Connect(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		err = admin.pinAtEnd(ctx, o.Group, o.Topics)
		admin.Close()
		if err != nil {
			// The reset offset still applies; only the start point is less exact.
			log.Warn("could not fix the group's start offsets, starting from the end at join", "group", o.Group, "err", err)
		}
	}
	c, err := Connect(ctx, cfg, log, opts...)
	if err != nil {
		return nil, err
	}
	return &Consumer{Client: c, group: m, instanceID: o.InstanceID}, nil
}

// Poll waits for records (at most max, or all buffered when max <= 0) until
// ctx ends. A done context returns the context's error and no records.
// With RevokeWait set, a revoke that begins returns ErrRevoked, once.
func (c *Consumer) Poll(ctx context.Context, max int) ([]Record, error) {
	return c.PollAppend(ctx, nil, max)
}

// PollAppend is Poll appending to dst, which it returns, unchanged when
// nothing came or on an error: a batch filled over many polls is not
// copied at each. Short of room, dst grows to twice its capacity but not
// beyond len(dst)+max, or to what the records need if that is more.
func (c *Consumer) PollAppend(ctx context.Context, dst []Record, max int) ([]Record, error) {
	pctx, done, err := c.group.pollContext(ctx)
	if err != nil {
		return dst, err
	}
	defer done()
	fs := c.cl.PollRecords(pctx, max)
	if fs.IsClientClosed() {
		return dst, errors.New("kafka consumer closed")
	}
	if err := ctx.Err(); err != nil && fs.NumRecords() == 0 {
		return dst, err
	}
	if fs.NumRecords() == 0 && c.group.revokedDuring(ctx) {
		return dst, ErrRevoked
	}
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ferr != nil {
			return
		}
		ferr = fmt.Errorf("fetching %s[%d]: %w", t, p, err)
		if errors.Is(err, kerr.FencedInstanceID) {
			ferr = fmt.Errorf("another member of group %s has the instance id %q (each replica needs its own): %w", c.group.group, c.instanceID, err)
		}
	})
	n := len(dst)
	dst = c.group.handOut(grow(dst, fs.NumRecords(), max), fs)
	if len(dst) == n && ferr != nil {
		return dst, ferr
	}
	return dst, nil
}

// grow returns s with room for n more records: twice its capacity when
// that is more, but not beyond len(s)+limit when limit > 0.
func grow(s []Record, n, limit int) []Record {
	need := len(s) + n
	if need <= cap(s) {
		return s
	}
	room := 2 * cap(s)
	if limit > 0 {
		room = min(room, len(s)+limit)
	}
	grown := make([]Record, len(s), max(need, room))
	copy(grown, s)
	return grown
}

// Commit marks recs as processed: after a restart the group resumes after
// the highest committed offset of each partition.
func (c *Consumer) Commit(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	// Records of partitions revoked meanwhile are not committed: their
	// new owner may have committed further already.
	krs := c.group.toCommit(recs)
	if len(krs) == 0 {
		return nil
	}
	if err := c.cl.CommitRecords(ctx, krs...); err != nil {
		return fmt.Errorf("committing offsets: %w", err)
	}
	c.group.committed(krs)
	return nil
}

// Owns reports whether the consumer still owns r's partition: false once a
// rebalance began to take it away. A record held for later may then be
// left to the partition's new owner.
func (c *Consumer) Owns(r Record) bool {
	return c.group.owns(topicPartition{r.Topic, r.Partition})
}

// Close commits what was loaded, leaves the group and closes the
// connection.
func (c *Consumer) Close() {
	c.group.close()
	c.cl.Close()
	if c.instanceID != "" {
		c.leave()
	}
}

// leave removes the static member from its group. franz-go keeps a static
// member in the group when it closes, for a restart to take its place; but
// one that closes gracefully may not come back (scaled down, or replaced
// by a pod of another name), and its partitions would wait for the session
// timeout. A restart joins anew, at the cost of one quick rebalance.
func (c *Consumer) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := Connect(ctx, c.cfg, c.log)
	if err == nil {
		var resp kadm.LeaveGroupResponses
		resp, err = kadm.NewClient(admin.cl).LeaveGroup(ctx, kadm.LeaveGroup(c.group.group).InstanceIDs(c.instanceID))
		admin.Close()
		if err == nil {
			err = resp.Error()
		}
	}
	if err != nil && !errors.Is(err, kerr.UnknownMemberID) {
		c.log.Warn("leaving the consumer group failed; its partitions move to the other members when the session times out",
			"group", c.group.group, "instance_id", c.instanceID, "err", err)
	}
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Retention         time.Duration // zero: the broker's default
	MaxMessageBytes   int32         // largest record batch; zero: the broker's default
}

// EnsureTopic creates the topic unless it exists.
func (c *Client) EnsureTopic(ctx context.Context, t TopicSpec) error {
	configs := map[string]*string{}
	if t.Retention > 0 {
		configs["retention.ms"] = kadm.StringPtr(strconv.FormatInt(t.Retention.Milliseconds(), 10))
	}
	if t.MaxMessageBytes > 0 {
		configs[maxMessageBytes] = kadm.StringPtr(strconv.Itoa(int(t.MaxMessageBytes)))
	}
	p, rf := t.Partitions, t.ReplicationFactor
	if p <= 0 {
		p = -1
	}
	if rf <= 0 {
		rf = -1
	}
	_, err := kadm.NewClient(c.cl).CreateTopic(ctx, p, rf, configs, t.Name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", t.Name, err)
	}
	return nil
}

// TopicRetention returns the retention.ms of topic; 0 when the topic has
// none set.
func (c *Client) TopicRetention(ctx context.Context, topic string) (time.Duration, error) {
	rcs, err := kadm.NewClient(c.cl).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, err)
	}
	for _, cfg := range rc.Configs {
		if cfg.Key == "retention.ms" && cfg.Value != nil {
			ms, err := strconv.ParseInt(*cfg.Value, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("topic %s: retention.ms %q: %w", topic, *cfg.Value, err)
			}
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	return 0, nil
}

// Lag returns, per topic, how many records the group has not committed yet.
func (c *Client) Lag(ctx context.Context, group string) (map[string]int64, error) {
	lags, err := kadm.NewClient(c.cl).Lag(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("reading lag of group %s: %w", group, err)
	}
	out := map[string]int64{}
	for _, g := range lags {
		if g.FetchErr != nil {
			return nil, fmt.Errorf("reading lag of group %s: %w", group, g.FetchErr)
		}
		for t, ps := range g.Lag {
			for _, l := range ps {
				if l.Lag > 0 {
					out[t] += l.Lag
				}
			}
		}
	}
	return out, nil
}

// Topics lists the cluster's topics, internal ones excluded.
func (c *Client) Topics(ctx context.Context) ([]string, error) {
	td, err := kadm.NewClient(c.cl).ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	return td.Names(), nil
}

// Committed returns the sum of the offsets group has committed on topic:
// the number of records it is done with, when the topic started at 0.
func (c *Client) Committed(ctx context.Context, group, topic string) (int64, error) {
	offs, err := kadm.NewClient(c.cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil // not joined yet: nothing committed
	}
	if err != nil {
		return 0, fmt.Errorf("reading offsets of group %s: %w", group, err)
	}
	var n int64
	for _, o := range offs[topic] {
		if o.Err != nil {
			return 0, fmt.Errorf("reading offsets of group %s: %w", group, o.Err)
		}
		n += o.At
	}
	return n, nil
}
