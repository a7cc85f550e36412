package bulker

import (
	"context"
	"sync"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
)

// publisher produces accepted events. The first event of a topic creates
// it with bulker's retention and replication settings (a real cluster may
// not auto-create topics) and tells the loaders, so the table's worker
// starts at once instead of at the next topic scan.
type publisher struct {
	client *kafka.Client
	spec   kafka.TopicSpec // Name is filled per topic
	notify func(topic string)

	mu    sync.Mutex
	known map[string]bool
}

func newPublisher(c *kafka.Client, partitions int32, replication int16, retention time.Duration, notify func(string)) *publisher {
	return &publisher{
		client: c,
		spec:   kafka.TopicSpec{Partitions: partitions, ReplicationFactor: replication, Retention: retention},
		notify: notify,
		known:  map[string]bool{},
	}
}

// TryProduce hands the record to the client without waiting for room in
// its buffer; done gets the broker's answer.
func (p *publisher) TryProduce(ctx context.Context, r kafka.Record, done func(error)) {
	p.produce(ctx, r, done, true)
}

// ProduceAsync is TryProduce that waits for room until ctx ends.
func (p *publisher) ProduceAsync(ctx context.Context, r kafka.Record, done func(error)) {
	p.produce(ctx, r, done, false)
}

func (p *publisher) produce(ctx context.Context, r kafka.Record, done func(error), try bool) {
	p.mu.Lock()
	known := p.known[r.Topic]
	p.mu.Unlock()
	if known {
		if try {
			p.client.TryProduce(ctx, r, done)
		} else {
			p.client.ProduceAsync(ctx, r, done)
		}
		return
	}
	// Creating the topic is a round trip to the controller; the caller
	// waits for done, not for this, so that its own deadline holds.
	go func() { done(p.first(ctx, r)) }()
}

// first produces the first record of a topic the publisher has not seen.
func (p *publisher) first(ctx context.Context, r kafka.Record) error {
	spec := p.spec
	spec.Name = r.Topic
	if err := p.client.EnsureTopic(ctx, spec); err != nil {
		return err
	}
	if err := p.client.Produce(ctx, r.Topic, r.Key, r.Value, r.Headers); err != nil {
		return err
	}
	p.mu.Lock()
	p.known[r.Topic] = true
	p.mu.Unlock()
	p.notify(r.Topic)
	return nil
}
