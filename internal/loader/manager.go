package loader

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/sink"
	"github.com/streamforge/streamforge/internal/topics"
)

// Admin is the cluster metadata the manager reads.
type Admin interface {
	Topics(ctx context.Context) ([]string, error)
	Lag(ctx context.Context, group string) (map[string]int64, error)
}

// ConsumerFactory connects a consumer as o says.
type ConsumerFactory func(ctx context.Context, o kafka.ConsumerOptions) (Consumer, error)

// Deps are the manager's collaborators.
type Deps struct {
	Destinations Destinations
	Admin        Admin
	NewConsumer  ConsumerFactory
	Producer     Producer
	Events       EventsLog // may be nil
	Log          *slog.Logger
	Metrics      *Metrics
	Now          func() time.Time // nil: time.Now
	// Sources are topics loaded into a table named by configuration; nil:
	// none.
	Sources SourceList
	// EnsureTopic creates a topic unless it exists: a source's rejected
	// events return to its table's incoming topic, which may not exist
	// yet. nil: the broker creates topics on first use.
	EnsureTopic func(ctx context.Context, topic string) error
}

// Manager runs one worker per incoming topic of a configured destination,
// one per source, and the retry requeuer. It starts workers as topics appear (Notify, or the
// periodic topic scan) and stops those whose destination went away.
type Manager struct {
	cfg    Config
	deps   Deps
	notify chan string

	mu      sync.Mutex
	workers map[string]*running
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	target
	// stopping: canceled after its destination or source changed, and
	// still loading the batches in hand.
	stopping bool
}

// target is what one worker reads and where it loads.
type target struct {
	topic string // read
	group string
	name  topics.Name
	dest  destination.Config
	// requeue is the topic a rejected event returns to from the retry
	// topic: the incoming topic itself, or for a source the incoming topic
	// of its table, so that bulker never writes to a topic it does not own.
	requeue string
	// source is the source read, nil for an incoming topic: a source's
	// records' headers are not bulker's.
	source *Source
}

// defaultDiscover is how often the topic list is read when Config.Discover
// is not set: a new table's worker starts at once on Notify, so the scan
// only catches topics created by other instances.
const defaultDiscover = 5 * time.Second

// NewManager builds a manager; Run starts it.
func NewManager(cfg Config, deps Deps) *Manager {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.Discover <= 0 {
		cfg.Discover = defaultDiscover
	}
	return &Manager{cfg: cfg, deps: deps, notify: make(chan string, 64), workers: map[string]*running{}}
}

// Notify tells the manager a topic received events, so its worker starts
// without waiting for the next scan. It never blocks.
func (m *Manager) Notify(topic string) {
	select {
	case m.notify <- topic:
	default:
	}
}

// Run manages workers until ctx ends, then stops them: each loads the batch
// it holds within the shutdown timeout and commits.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		m.mu.Lock()
		for _, r := range m.workers {
			r.cancel()
		}
		m.mu.Unlock()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.runRequeuer(ctx)
	}()

	tick := time.NewTicker(m.cfg.Discover)
	defer tick.Stop()
	m.scan(ctx, &wg)
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-m.notify:
			m.ensure(ctx, &wg, t)
		case <-tick.C:
			m.scan(ctx, &wg)
			m.updateLag(ctx)
		}
	}
}

func (m *Manager) runRequeuer(ctx context.Context) {
	retryTopic := topics.Retry(m.cfg.TopicPrefix)
	for ctx.Err() == nil {
		// No RevokeWait: the requeuer holds no batch to hand over (each
		// record is committed as it is re-queued), and waiting would stall
		// every rebalance for the records it holds that are not due yet.
		c, err := m.deps.NewConsumer(ctx, kafka.ConsumerOptions{Group: retryTopic, Topics: []string{retryTopic}})
		if err != nil {
			m.deps.Log.Warn("starting the retry consumer failed", "err", err)
			sleep(ctx, restartPause)
			continue
		}
		q := &requeuer{consumer: c, producer: m.deps.Producer, log: m.deps.Log, metrics: m.deps.Metrics,
			now: m.deps.Now, deadTopic: topics.Dead(m.cfg.TopicPrefix), retryTopic: retryTopic, runs: m.retryRuns}
		if err := q.run(ctx); err != nil {
			m.deps.Log.Warn("retry consumer stopped", "err", err)
		}
	}
}

// retryPeriod is how often dest's retry runs come.
func (m *Manager) retryPeriod(dest destination.Config) time.Duration {
	if f := dest.Options.RetryFrequency; f > 0 {
		return time.Duration(f * float64(time.Minute))
	}
	return m.cfg.RetryPeriod
}

// retryRuns gives the requeuer a destination's retry runs: how many events
// one run moves back, and how often runs come.
func (m *Manager) retryRuns(id string) (size int, period time.Duration) {
	dest, ok := m.deps.Destinations.Lookup(id)
	if !ok {
		return 0, 0
	}
	size = m.cfg.RetryBatchSize
	if dest.Options.RetryBatchSize > 0 {
		size = dest.Options.RetryBatchSize
	}
	return size, m.retryPeriod(dest)
}

// scan starts workers for new incoming topics and stops those whose
// destination was removed or changed.
func (m *Manager) scan(ctx context.Context, wg *sync.WaitGroup) {
	m.mu.Lock()
	for topic, r := range m.workers {
		select {
		case <-r.done:
			delete(m.workers, topic) // ended on an error: started again below
			continue
		default:
		}
		if r.stopping {
			continue
		}
		// A stopped worker is kept until it ended: its successor, with the
		// same group instance id, would take its partitions while it loads.
		if cur, ok := m.deps.Destinations.Lookup(r.dest.ID); !ok || !cur.Equal(r.dest) {
			m.deps.Log.Info("destination removed or changed, stopping its loader", "destination", r.dest.ID, "topic", r.topic)
			r.cancel()
			r.stopping = true
			continue
		}
		if r.source != nil && !slices.Contains(m.sources(), *r.source) {
			m.deps.Log.Info("source removed or changed, stopping its loader", "source", r.source.ID, "topic", r.topic)
			r.cancel()
			r.stopping = true
		}
	}
	m.mu.Unlock()
	for _, src := range m.sources() {
		m.ensureSource(ctx, wg, src)
	}
	ts, err := m.deps.Admin.Topics(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.deps.Log.Warn("listing topics failed", "err", err)
		}
		return
	}
	for _, t := range ts {
		m.ensure(ctx, wg, t)
	}
}

// ensure starts the worker of topic if it is an incoming topic of a
// configured destination and none runs yet.
func (m *Manager) ensure(ctx context.Context, wg *sync.WaitGroup, topic string) {
	name, err := topics.Parse(m.cfg.TopicPrefix, topic)
	if err != nil {
		return
	}
	// A topic of the destination's other mode still gets a worker: after
	// the mode changed, what it holds must be loaded too.
	dest, ok := m.deps.Destinations.Lookup(name.Destination)
	if !ok {
		return
	}
	m.start(ctx, wg, topic, &running{target: target{topic: topic, group: topic, name: name, dest: dest, requeue: topic}})
}

// ensureSource starts the worker of a source whose destination is
// configured, unless one runs.
func (m *Manager) ensureSource(ctx context.Context, wg *sync.WaitGroup, src Source) {
	dest, ok := m.deps.Destinations.Lookup(src.Destination)
	if !ok {
		return
	}
	name := topics.Name{Destination: dest.ID, Mode: src.Mode, Table: src.Table}
	if name.Mode == "" {
		name.Mode = modeOf(dest)
	}
	requeue, err := topics.Incoming(m.cfg.TopicPrefix, name)
	if err != nil {
		return // refused by Source.Validate when configured
	}
	m.start(ctx, wg, sourceKey(src.ID), &running{
		target: target{topic: src.Topic, group: src.GroupName(), name: name, dest: dest, requeue: requeue, source: &src},
	})
}

// sourceKey is a source worker's key in Manager.workers: no topic name
// holds a space, so it never equals one.
func sourceKey(id string) string { return "source " + id }

func (m *Manager) sources() []Source {
	if m.deps.Sources == nil {
		return nil
	}
	return m.deps.Sources.Sources()
}

// start runs r's worker under key unless one runs.
func (m *Manager) start(ctx context.Context, wg *sync.WaitGroup, key string, r *running) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.workers[key]; ok {
		select {
		case <-r.done:
		default:
			return
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	r.cancel, r.done = cancel, make(chan struct{})
	m.workers[key] = r
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(r.done)
		defer cancel()
		if err := m.runWorker(wctx, r.target); err != nil && !errors.Is(err, context.Canceled) {
			m.deps.Log.Error("loader stopped", "topic", r.topic, "err", err)
		}
	}()
}

func (m *Manager) runWorker(ctx context.Context, t target) error {
	dest, name := t.dest, t.name
	if t.source != nil && m.deps.EnsureTopic != nil {
		if err := m.deps.EnsureTopic(ctx, t.requeue); err != nil {
			return err
		}
	}
	// Every topic loads in its own mode: a source's, which may differ
	// from its destination's; Jitsu's modeOverride; or the mode its
	// events were queued in before the destination's mode changed.
	dest.Options.Mode = name.Mode
	// A rebalance gives the batches in hand as long to load as a shutdown.
	o := kafka.ConsumerOptions{Group: t.group, Topics: []string{t.topic}, RevokeWait: m.cfg.ShutdownTimeout}
	o.MinBytes, o.MaxWait = fetchWait(dest.Options.Mode)
	c, err := m.deps.NewConsumer(ctx, o)
	if err != nil {
		return err
	}
	batchSize, period := m.cfg.BatchSize, m.cfg.BatchPeriod
	if dest.Options.BatchSize > 0 {
		batchSize = dest.Options.BatchSize
	}
	if dest.Options.Frequency > 0 {
		period = time.Duration(dest.Options.Frequency * float64(time.Minute))
	}
	log := m.deps.Log.With("destination", dest.ID, "table", name.Table, "mode", name.Mode)
	w := &worker{
		cfg: workerConfig{Topic: t.topic, Requeue: t.requeue, Source: t.source != nil, Name: name, Dest: dest, BatchSize: max(batchSize, 1), Period: period,
			Retry: m.cfg.Retry, RetryPeriod: m.retryPeriod(dest), Prefix: m.cfg.TopicPrefix, LogLimit: m.cfg.EventsLogMax},
		consumer: c,
		producer: m.deps.Producer,
		table: func() (*sink.Table, error) {
			return m.deps.Destinations.Table(dest.ID, name.Table)
		},
		log:     log,
		metrics: m.deps.Metrics,
		events:  m.deps.Events,
		now:     m.deps.Now,
	}
	m.deps.Metrics.startWorker(dest.ID, name.Table)
	log.Info("loader started", "topic", t.topic, "group", t.group, "batch_size", w.cfg.BatchSize, "period", period.String())
	return w.run(ctx, m.cfg.ShutdownTimeout)
}

func (m *Manager) updateLag(ctx context.Context) {
	m.mu.Lock()
	rs := make([]*running, 0, len(m.workers))
	for _, r := range m.workers {
		rs = append(rs, r)
	}
	m.mu.Unlock()
	// A table may be loaded from several topics (its batch and stream
	// topics, sources): its lag is their sum, and unknown if any is.
	type table struct{ dest, name string }
	totals, unknown := map[table]int64{}, map[table]bool{}
	for _, r := range rs {
		t := table{r.dest.ID, r.name.Table}
		lag, err := m.deps.Admin.Lag(ctx, r.group)
		if err != nil {
			unknown[t] = true
			continue
		}
		var sum int64
		for _, l := range lag {
			sum += l
		}
		totals[t] += sum
	}
	for t, total := range totals {
		if !unknown[t] {
			m.deps.Metrics.lag.WithLabelValues(t.dest, t.name).Set(float64(total))
		}
	}
}

// modeOf is d's delivery mode, batch unless set.
func modeOf(d destination.Config) destination.DeliveryMode {
	if d.Options.Mode == "" {
		return destination.Batch
	}
	return d.Options.Mode
}

// fetchWait is how long the broker may hold a loader's fetch for data to
// pile up, and how much is enough. Fetches answered at the first record
// cost the broker and bulker a round trip per handful of events. A batch
// waits for its period anyway; a stream trades 20 ms of latency for
// loading tens of events per transaction instead of a few.
func fetchWait(mode destination.DeliveryMode) (minBytes int32, maxWait time.Duration) {
	if mode == destination.Stream {
		return 256 << 10, 20 * time.Millisecond
	}
	return 1 << 20, 100 * time.Millisecond
}
