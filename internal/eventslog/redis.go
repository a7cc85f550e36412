package eventslog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps the newest entries of each destination in a Redis list
// (<prefix>dest:<id>, LPUSH + LTRIM), so every bulker instance sees the same
// log and it survives restarts. The set <prefix>dests names the lists.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	size   int
}

// NewRedis logs into rdb under keys starting with prefix (e.g.
// "bulker:events:"), keeping at most size entries per destination.
func NewRedis(rdb redis.UniversalClient, prefix string, size int) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, size: max(size, 1)}
}

func (r *Redis) destsKey() string           { return r.prefix + "dests" }
func (r *Redis) destKey(dest string) string { return r.prefix + "dest:" + dest }

// Add pushes an entry and trims its list, atomically.
func (r *Redis) Add(ctx context.Context, e Entry) error {
	fill(&e, time.Now())
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding events log entry: %w", err)
	}
	key := r.destKey(e.Destination)
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, r.destsKey(), e.Destination)
		p.LPush(ctx, key, b)
		p.LTrim(ctx, key, 0, int64(r.size-1))
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding to events log in redis: %w", err)
	}
	return nil
}

// List returns matching entries, newest first.
func (r *Redis) List(ctx context.Context, f Filter) ([]Entry, error) {
	dests := []string{f.Destination}
	if f.Destination == "" {
		var err error
		if dests, err = r.rdb.SMembers(ctx, r.destsKey()).Result(); err != nil {
			return nil, fmt.Errorf("reading events log destinations from redis: %w", err)
		}
	}
	var out []Entry
	for _, d := range dests {
		key := r.destKey(d)
		raw, err := r.rdb.LRange(ctx, key, 0, int64(r.size-1)).Result()
		if err != nil {
			return nil, fmt.Errorf("reading events log from redis: %w", err)
		}
		for _, s := range raw {
			var e Entry
			if err := json.Unmarshal([]byte(s), &e); err != nil {
				return nil, fmt.Errorf("decoding events log entry from redis key %s: %w", key, err)
			}
			if f.match(&e) {
				out = append(out, e)
			}
		}
	}
	// Each list is newest added first; the stable sort keeps that order for
	// entries of the same time.
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Compare(b.Time.UnixNano(), a.Time.UnixNano()) })
	return f.page(out), nil
}
