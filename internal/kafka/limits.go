package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// RecordOverhead is what a record batch holding one value adds to the
// value's bytes: batch and record framing, the key, and the headers
// StreamForge writes — those of the retry and dead-letter topics
// included, whose error text topics.Failure bounds. Generous on purpose:
// a record that a limit stops is a refused event.
const RecordOverhead = 16 << 10

// maxBatchBytes is the largest record batch franz-go produces.
const maxBatchBytes = 1 << 30

// BatchBytes returns the record batch size needed for values of up to
// maxValue bytes: the producer's batch limit and the max.message.bytes of
// the topics that carry them.
func BatchBytes(maxValue int64) (int32, error) {
	if maxValue < 1 || maxValue > maxBatchBytes-RecordOverhead {
		return 0, fmt.Errorf("%d bytes: Kafka records are limited to %d bytes of value", maxValue, maxBatchBytes-RecordOverhead)
	}
	return int32(maxValue + RecordOverhead), nil
}

// defaultBrokerIOBytes is franz-go's default bound on one request written
// or one response read.
const defaultBrokerIOBytes = 100 << 20

// brokerIOBytes bounds a request or response that carries a batch of
// batchBytes: franz-go's default, or more for batches that would not fit.
func brokerIOBytes(batchBytes int32) int32 {
	return max(defaultBrokerIOBytes, batchBytes+(1<<20))
}

// maxMessageBytes is the topic setting that bounds a record batch.
const maxMessageBytes = "max.message.bytes"

// FitTopics makes every existing topic of names accept record batches of
// batchBytes, raising max.message.bytes where it is lower, so that an event
// accepted by the API can be stored. Names that do not exist are skipped:
// they are created with the right limit. It returns the largest batch every
// topic accepts: batchBytes, or less where a limit could not be raised (no
// permission, say), with the reason as err; 0 and err when the limits could
// not be read.
func (c *Client) FitTopics(ctx context.Context, batchBytes int32, names ...string) (int32, error) {
	adm := kadm.NewClient(c.cl)
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return 0, fmt.Errorf("reading the max.message.bytes of topics: %w", err)
	}
	low := map[string]int32{}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue // most likely not created yet
		}
		for _, cfg := range rc.Configs {
			if cfg.Key != maxMessageBytes || cfg.Value == nil {
				continue
			}
			if n, err := strconv.ParseInt(*cfg.Value, 10, 32); err == nil && n < int64(batchBytes) {
				low[rc.Name] = int32(n)
				c.log.Info("raising a topic's max.message.bytes to fit the largest event", "topic", rc.Name, "from", n, "to", batchBytes)
			}
		}
	}
	if len(low) == 0 {
		return batchBytes, nil
	}
	v := strconv.Itoa(int(batchBytes))
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: maxMessageBytes, Value: &v}}, slices.Collect(maps.Keys(low))...)
	if err != nil {
		return slices.Min(slices.Collect(maps.Values(low))), fmt.Errorf("raising max.message.bytes of topics: %w", err)
	}
	fits, errs := batchBytes, []error(nil)
	for _, r := range resps {
		if r.Err != nil {
			fits = min(fits, low[r.Name])
			errs = append(errs, fmt.Errorf("topic %s: %w %s", r.Name, r.Err, r.ErrMessage))
		}
	}
	return fits, errors.Join(errs...)
}
