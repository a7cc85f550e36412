package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/wait"
)

// A client learns that its only broker is gone from its own failed
// connection attempt, says so without a request, and finds the broker
// again by itself once it is back on the same address.
func TestReachabilityFollowsTheBroker(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kafka.Connect(ctx, b.Kafka, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	produce := func() error {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return c.Produce(pctx, "health-t1", nil, []byte("v"), nil)
	}
	if err := produce(); err != nil {
		t.Fatal(err)
	}
	lost, err := c.Reachability()
	if err != nil {
		t.Fatalf("reachable broker reported down: %v", err)
	}

	b.Close()
	start := time.Now()
	// A record makes the client write, find the connection dead and dial;
	// franz-go keeps it until the broker is back.
	c.ProduceAsync(ctx, kafka.Record{Topic: "health-t1", Value: []byte("w")}, func(error) {})
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not learn within 5s that the broker is gone")
	}
	t.Logf("broker known down after %s", time.Since(start))
	if _, err := c.Reachability(); !errors.Is(err, kafka.ErrUnreachable) {
		t.Fatalf("Reachability = %v, want ErrUnreachable", err)
	}

	brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir, Addr: b.Addr()})
	start = time.Now()
	wait.For(t, 10*time.Second, "the client finds the broker again", func() bool {
		_, err := c.Reachability()
		return err == nil
	})
	t.Logf("broker found again after %s", time.Since(start))
	if err := produce(); err != nil {
		t.Fatalf("producing after the broker came back: %v", err)
	}
}
