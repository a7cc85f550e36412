package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewTailReader reads topic from its current end, without a consumer group:
// every record produced after it returns is read, nothing produced before.
// The end offsets are listed before it returns, so a caller may send a
// request right after and be sure to see the answer. Commit must not be
// called on it.
func NewTailReader(ctx context.Context, cfg Config, log *slog.Logger, topic string) (*Consumer, error) {
	c, err := Connect(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ends, err := c.endOffsets(ctx, topic)
	c.Close()
	if err != nil {
		return nil, err
	}
	c, err = Connect(ctx, cfg, log, kgo.ConsumePartitions(ends.KOffsets()))
	if err != nil {
		return nil, err
	}
	return &Consumer{Client: c, group: newMembership("", 0, log)}, nil
}

// endOffsets creates the topics when missing and lists their end offsets.
func (c *Client) endOffsets(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
	for _, t := range topics {
		if err := c.EnsureTopic(ctx, TopicSpec{Name: t}); err != nil {
			return nil, err
		}
	}
	ends, err := kadm.NewClient(c.cl).ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %v: %w", topics, err)
	}
	return ends, nil
}

// pinAtEnd commits the current end offset for every partition of topics
// the group has no committed offset for yet. A group that starts "from
// latest" then begins at a definite point, before anything produced after
// this call, instead of wherever the end is when the join completes.
func (c *Client) pinAtEnd(ctx context.Context, group string, topics []string) error {
	ends, err := c.endOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(c.cl)
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	var pin kadm.Offsets
	ends.Each(func(lo kadm.ListedOffset) {
		if o, ok := committed.Lookup(lo.Topic, lo.Partition); ok && o.Err == nil && o.At >= 0 {
			return
		}
		pin.Add(kadm.Offset{Topic: lo.Topic, Partition: lo.Partition, At: lo.Offset, LeaderEpoch: -1})
	})
	if len(pin) == 0 {
		return nil
	}
	resp, err := adm.CommitOffsets(ctx, group, pin)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return errors.Join(fmt.Errorf("pinning group %s at the end of %v", group, topics), err)
	}
	return nil
}
