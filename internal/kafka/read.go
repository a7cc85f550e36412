package kafka

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadAll returns the records of topic from its start up to the end offsets
// seen when called, without joining a group or committing anything. It is
// for inspecting small topics such as the retry and dead-letter topics; keep
// calls bounded with limit (the newest limit records are kept).
func ReadAll(ctx context.Context, cfg Config, log *slog.Logger, topic string, limit int) ([]Record, error) {
	admin, err := Connect(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admin.cl).ListEndOffsets(ctx, topic)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("reading end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	c, err := Connect(ctx, cfg, log, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []Record
	for len(want) > 0 {
		fs := c.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("reading %s: %w", topic, errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out = append(out, fromKgo(r))
			if limit > 0 && len(out) > limit {
				out = out[1:]
			}
			if r.Offset == end-1 {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}

// Reader reads whole small topics (see ReadAll) with one configuration.
type Reader struct {
	Config Config
	Log    *slog.Logger
}

// ReadAll is the package's ReadAll with r's configuration.
func (r Reader) ReadAll(ctx context.Context, topic string, limit int) ([]Record, error) {
	return ReadAll(ctx, r.Config, r.Log, topic, limit)
}
