package kafka

import (
	"context"
	"sync"
)

// Publisher produces records to topics it creates on first use, with its
// spec's partitions, replication and retention: a real cluster may not
// auto-create topics, and auto-created ones would get the broker's
// defaults. Created hears of each topic once its first record is in.
type Publisher struct {
	client  *Client
	spec    TopicSpec // Name is set per topic
	created func(topic string)

	mu    sync.Mutex
	known map[string]bool
}

// NewPublisher returns a Publisher over c; created may be nil.
func NewPublisher(c *Client, spec TopicSpec, created func(topic string)) *Publisher {
	if created == nil {
		created = func(string) {}
	}
	return &Publisher{client: c, spec: spec, created: created, known: map[string]bool{}}
}

// TryProduce is Client.TryProduce, creating the topic first if needed.
func (p *Publisher) TryProduce(ctx context.Context, r Record, done func(error)) {
	if p.isKnown(r.Topic) {
		p.client.TryProduce(ctx, r, done)
		return
	}
	p.produceFirst(ctx, r, done)
}

// ProduceAsync is Client.ProduceAsync, creating the topic first if needed.
func (p *Publisher) ProduceAsync(ctx context.Context, r Record, done func(error)) {
	if p.isKnown(r.Topic) {
		p.client.ProduceAsync(ctx, r, done)
		return
	}
	p.produceFirst(ctx, r, done)
}

// Reachability is Client.Reachability.
func (p *Publisher) Reachability() (<-chan struct{}, error) { return p.client.Reachability() }

func (p *Publisher) isKnown(topic string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[topic]
}

// produceFirst creates the topic and produces its first record. Creating
// is a round trip to the controller; the caller waits for done, not for
// this, so that its own deadline holds.
func (p *Publisher) produceFirst(ctx context.Context, r Record, done func(error)) {
	go func() {
		spec := p.spec
		spec.Name = r.Topic
		if err := p.client.EnsureTopic(ctx, spec); err != nil {
			done(err)
			return
		}
		if err := p.client.Produce(ctx, r.Topic, r.Key, r.Value, r.Headers); err != nil {
			done(err)
			return
		}
		p.mu.Lock()
		p.known[r.Topic] = true
		p.mu.Unlock()
		p.created(r.Topic)
		done(nil)
	}()
}
