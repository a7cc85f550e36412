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

// Produce returns after the broker acknowledged the record.
func (p *publisher) Produce(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	p.mu.Lock()
	known := p.known[topic]
	p.mu.Unlock()
	if !known {
		spec := p.spec
		spec.Name = topic
		if err := p.client.EnsureTopic(ctx, spec); err != nil {
			return err
		}
	}
	if err := p.client.Produce(ctx, topic, key, value, headers); err != nil {
		return err
	}
	if !known {
		p.mu.Lock()
		p.known[topic] = true
		p.mu.Unlock()
		p.notify(topic)
	}
	return nil
}
