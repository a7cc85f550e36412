package replay_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/replay"
	"github.com/streamforge/streamforge/internal/topics"
)

// Two bulker instances replaying the same table at the same moment
// re-queue each dead event once between them; force re-queues a chosen
// one again.
func TestConcurrentReplaysRequeueEachEventOnce(t *testing.T) {
	k := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	client := k.Client(t)
	const prefix, n = "t.", 20
	incoming := prefix + "in.id.pg.m.batch.t.items"
	for i := range n {
		f := topics.Failure{Destination: "pg", Table: "items", Topic: incoming, Attempt: 6, Error: "rejected"}
		if err := client.ProduceSync(ctx, kafka.Record{Topic: topics.Dead(prefix), Value: fmt.Appendf(nil, `{"id":%d}`, i), Headers: f.Headers()}); err != nil {
			t.Fatal(err)
		}
	}
	other := topics.Failure{Destination: "pg", Table: "other", Topic: prefix + "in.id.pg.m.batch.t.other", Attempt: 1, Error: "x"}
	if err := client.ProduceSync(ctx, kafka.Record{Topic: topics.Dead(prefix), Value: []byte(`{"other":1}`), Headers: other.Headers()}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	newReplayer := func(events *eventslog.Memory, reg prometheus.Registerer) *replay.Replayer {
		r, err := replay.New(prefix, 1000, replay.Deps{
			Reader:   kafka.Reader{Config: k.Kafka, Log: log},
			Producer: client,
			EnsureTopic: func(ctx context.Context, topic string) error {
				return client.EnsureTopic(ctx, kafka.TopicSpec{Name: topic, Partitions: 1})
			},
			Events:     events,
			Registerer: reg,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	logs := []*eventslog.Memory{eventslog.NewMemory(100), eventslog.NewMemory(100)}
	replayers := []*replay.Replayer{newReplayer(logs[0], reg), newReplayer(logs[1], nil)}
	results := make([]replay.Result, 2)
	var wg sync.WaitGroup
	for i, r := range replayers {
		wg.Go(func() {
			res, err := r.Replay(ctx, replay.Request{Destination: "pg", Table: "items"})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	all := append(slices.Clone(results[0].Replayed), results[1].Replayed...)
	slices.Sort(all)
	if len(all) != n || len(slices.Compact(all)) != n {
		t.Fatalf("replayed %d and %d events (%d distinct), want %d in all, each once", len(results[0].Replayed), len(results[1].Replayed), len(slices.Compact(all)), n)
	}
	requeued, err := kafka.ReadAll(ctx, k.Kafka, log, incoming, 0)
	if err != nil || len(requeued) != n {
		t.Fatalf("incoming topic holds %d records (%v), want %d", len(requeued), err, n)
	}
	for _, r := range requeued {
		if f := topics.ParseFailure(r); f.ReplayOf == "" || f.Table != "items" {
			t.Errorf("re-queued record %s: failure %+v; want the replay's id", r.Value, f)
		}
	}
	entries := 0
	for _, l := range logs {
		es, _ := l.List(ctx, eventslog.Filter{Statuses: []eventslog.Status{eventslog.Replayed}})
		entries += len(es)
	}
	if entries != n {
		t.Errorf("%d replayed entries in the events logs, want %d", entries, n)
	}

	if got := replayCounter(t, reg); got != float64(len(results[0].Replayed)) {
		t.Errorf("bulker_events_replayed_total = %v, want the %d of the first replayer", got, len(results[0].Replayed))
	}

	again, err := replayers[0].Replay(ctx, replay.Request{Destination: "pg", Table: "items"})
	if err != nil || len(again.Replayed) != 0 || len(again.AlreadyReplayed) != n {
		t.Errorf("replay again: %+v, %v; want all %d already replayed", again, err, n)
	}
	if _, err := replayers[0].Replay(ctx, replay.Request{Destination: "pg", Table: "items", Force: true}); err == nil {
		t.Error("force without ids accepted")
	}
	forced, err := replayers[0].Replay(ctx, replay.Request{Destination: "pg", IDs: []string{all[0]}, Force: true})
	if err != nil || !slices.Equal(forced.Replayed, []string{all[0]}) {
		t.Errorf("forced replay of %s: %+v, %v", all[0], forced, err)
	}
	marks, err := replay.Replayed(ctx, kafka.Reader{Config: k.Kafka, Log: log}, prefix, 0)
	if err != nil || len(marks) != n {
		t.Errorf("%d dead events marked replayed (%v), want %d", len(marks), err, n)
	}
}

// replayCounter returns the value of bulker_events_replayed_total, whose
// only series, if any, must be destination pg, table items.
func replayCounter(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil || len(fams) > 1 {
		t.Fatalf("metrics %v, %v; want at most bulker_events_replayed_total", fams, err)
	}
	if len(fams) == 0 {
		return 0 // no event replayed yet: no series
	}
	if fams[0].GetName() != "bulker_events_replayed_total" || len(fams[0].GetMetric()) != 1 {
		t.Fatalf("metrics %v; want one series of bulker_events_replayed_total", fams)
	}
	m := fams[0].GetMetric()[0]
	if len(m.GetLabel()) != 2 || m.GetLabel()[0].GetValue() != "pg" || m.GetLabel()[1].GetValue() != "items" {
		t.Errorf("labels %v, want destination pg, table items", m.GetLabel())
	}
	return m.GetCounter().GetValue()
}

// cancelAfterFirst cancels the caller's context once its first produce
// (the markers) is acknowledged, as a client that goes away would.
type cancelAfterFirst struct {
	replay.Producer
	cancel context.CancelFunc
	once   sync.Once
}

func (p *cancelAfterFirst) ProduceSync(ctx context.Context, recs ...kafka.Record) error {
	err := p.Producer.ProduceSync(ctx, recs...)
	p.once.Do(p.cancel)
	return err
}

// A replay whose caller goes away once the events are marked still
// re-queues them all: none is left marked replayed and still dead.
func TestReplayOutlivesItsCaller(t *testing.T) {
	k := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	client := k.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const prefix, n = "gone.", 5
	incoming := prefix + "in.id.pg.m.batch.t.items"
	for i := range n {
		f := topics.Failure{Destination: "pg", Table: "items", Topic: incoming, Attempt: 6, Error: "rejected"}
		if err := client.ProduceSync(ctx, kafka.Record{Topic: topics.Dead(prefix), Value: fmt.Appendf(nil, `{"id":%d}`, i), Headers: f.Headers()}); err != nil {
			t.Fatal(err)
		}
	}
	caller, leave := context.WithCancel(ctx)
	defer leave()
	r, err := replay.New(prefix, 1000, replay.Deps{
		Reader:   kafka.Reader{Config: k.Kafka, Log: slog.New(slog.DiscardHandler)},
		Producer: &cancelAfterFirst{Producer: client, cancel: leave},
		EnsureTopic: func(ctx context.Context, topic string) error {
			return client.EnsureTopic(ctx, kafka.TopicSpec{Name: topic, Partitions: 1})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Replay(caller, replay.Request{Destination: "pg", Table: "items"})
	if err != nil || len(res.Replayed) != n {
		t.Fatalf("replay: %+v, %v; want %d re-queued", res, err, n)
	}
	if requeued, err := kafka.ReadAll(ctx, k.Kafka, slog.New(slog.DiscardHandler), incoming, 0); err != nil || len(requeued) != n {
		t.Fatalf("incoming topic holds %d records (%v), want %d", len(requeued), err, n)
	}
}
