package eventslog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Redis keeps the newest entries of each destination in Redis lists
// (LPUSH + LTRIM), so every bulker instance sees the same log and it
// survives restarts: accepted and loaded entries in <prefix>dest:<id>,
// failures in <prefix>failures:<id>. The set <prefix>dests names the
// destinations.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	size   int
}

// NewRedis logs into rdb under keys starting with prefix (e.g.
// "bulker:events:"), keeping at most size entries per destination, and as
// many failures.
func NewRedis(rdb redis.UniversalClient, prefix string, size int) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, size: max(size, 1)}
}

func (r *Redis) destsKey() string           { return r.prefix + "dests" }
func (r *Redis) destKey(dest string) string { return r.prefix + "dest:" + dest }

// failuresKey is apart from destKey's namespace: a destination id may hold
// any character.
func (r *Redis) failuresKey(dest string) string { return r.prefix + "failures:" + dest }

func (r *Redis) key(dest string, failures bool) string {
	if failures {
		return r.failuresKey(dest)
	}
	return r.destKey(dest)
}

// Add pushes an entry and trims its list, atomically.
func (r *Redis) Add(ctx context.Context, e Entry) error {
	fill(&e)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding events log entry: %w", err)
	}
	key := r.key(e.Destination, e.Status.failure())
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
		for _, failures := range []bool{false, true} {
			if !f.wants(failures) {
				continue
			}
			key := r.key(d, failures)
			raw, err := r.rdb.LRange(ctx, key, 0, int64(r.size-1)).Result()
			if err != nil {
				return nil, fmt.Errorf("reading events log from redis key %s: %w", key, err)
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
	}
	// Each list is newest added first; the stable sort keeps that order for
	// entries of the same time.
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Compare(b.Time.UnixNano(), a.Time.UnixNano()) })
	return f.page(out), nil
}
