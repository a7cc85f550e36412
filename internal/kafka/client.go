package kafka

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Errors that Connect classifies, for callers that choose an exit path.
var (
	ErrUnreachable = errors.New("kafka broker unreachable")
	ErrAuth        = errors.New("kafka authentication failed")
	ErrTLS         = errors.New("kafka TLS handshake failed")
	// ErrBufferFull is TryProduce's answer when the client already holds
	// as many unacknowledged records as it may.
	ErrBufferFull = kgo.ErrMaxBuffered
)

// Record is a Kafka record as the rest of StreamForge sees it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	// Value of a consumed record is never reused: franz-go is given no
	// pool of decompression buffers (only of record arrays, see
	// recordArrays), so it allocates every fetch anew, and a reader may
	// keep pointers into it for as long as it holds the record.
	Value   []byte
	Headers []Header // Header finds one by key
	Time    time.Time

	// Of a consumed record: the leader epoch its offset is committed
	// with. Not the *kgo.Record: franz-go allocates a fetch's records
	// together, and a pointer to one would keep them all alive while the
	// batch is held.
	epoch    int32
	consumed bool
}

// Header is a record header, a string key and bytes: franz-go's own type,
// so that headers pass to and from the client as they are, without a
// copy for every record (a loader holds ten thousand records at a time).
type Header = kgo.RecordHeader

// Client is a connected franz-go client.
type Client struct {
	cl     *kgo.Client
	cfg    Config
	log    *slog.Logger
	health *health
}

// codec is franz-go's codec of Config.Compression; ok is false when none
// is configured.
func codec(name string) (c kgo.CompressionCodec, ok bool) {
	switch name {
	case "none":
		return kgo.NoCompression(), true
	case "gzip":
		return kgo.GzipCompression(), true
	case "snappy":
		return kgo.SnappyCompression(), true
	case "lz4":
		return kgo.Lz4Compression(), true
	case "zstd":
		return kgo.ZstdCompression(), true
	}
	return c, false
}

// options turns the config into franz-go options.
func (c Config) options() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.DialTimeout(5 * time.Second),
		kgo.AllowAutoTopicCreation(),
		// Records go out at once, as ProduceSync sends them anyway: bulker's
		// HTTP path waits for each acknowledgement of an asynchronous
		// produce, and the default 10 ms linger would add to it. Records
		// still batch while a request is in flight.
		kgo.ProducerLinger(0),
	}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	if c.MaxBatchBytes > 0 {
		// A batch this large must also fit in one request and, read back,
		// in one response.
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.MaxBatchBytes),
			kgo.BrokerMaxWriteBytes(brokerIOBytes(c.MaxBatchBytes)), kgo.BrokerMaxReadBytes(brokerIOBytes(c.MaxBatchBytes)))
	}
	if cc, ok := codec(c.Compression); ok {
		opts = append(opts, kgo.ProducerBatchCompression(cc))
	}
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.usesSASL() {
		opts = append(opts, kgo.SASL(c.mechanism()))
	}
	return opts, nil
}

func (c Config) mechanism() sasl.Mechanism {
	switch c.SASLMechanism() {
	case MechPlain:
		return plain.Auth{User: c.User, Pass: c.Password.Reveal()}.AsMechanism()
	case MechScramSHA256:
		return scram.Auth{User: c.User, Pass: c.Password.Reveal()}.AsSha256Mechanism()
	default:
		return scram.Auth{User: c.User, Pass: c.Password.Reveal()}.AsSha512Mechanism()
	}
}

// Connect builds a client and checks, with a bounded request, that a broker
// answers and accepts the credentials. An unreachable broker is retried with
// backoff until cfg.ConnectTimeout; TLS and authentication failures end at
// once. extra options (consumer groups, producer tuning) are appended.
func Connect(ctx context.Context, cfg Config, log *slog.Logger, extra ...kgo.Opt) (*Client, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	h := newHealth(log)
	cl, err := kgo.NewClient(append(append(opts, kgo.WithHooks(h)), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	ping := cl.Ping
	h.ping.Store(&ping)
	c := &Client{cl: cl, cfg: cfg, log: log, health: h}
	if err := c.waitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	backoff := 200 * time.Millisecond
	addrs := strings.Join(c.cfg.Addrs(), ",")
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.cl.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = c.classify(err)
		if !errors.Is(err, ErrUnreachable) {
			return err
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("%w at %s after %d attempts in %s", ErrUnreachable, addrs, attempt, c.cfg.ConnectTimeout)
		}
		c.log.Warn("kafka broker not reachable yet, retrying", "addr", addrs, "attempt", attempt, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// classify maps a connection error to one of the sentinel errors with a
// message a user can act on. It never includes the password.
func (c *Client) classify(err error) error {
	addrs := strings.Join(c.cfg.Addrs(), ",")
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr *x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr),
		strings.Contains(err.Error(), "tls:"):
		return fmt.Errorf("%w with %s: %v (check KAFKA_CA_PATH and the broker's certificate)", ErrTLS, addrs, err)
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("%w for user %q at %s: %v", ErrAuth, c.cfg.User, addrs, err)
	case c.cfg.usesSASL() && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)):
		// Some brokers (kfake among them) close the connection instead of
		// answering SASL_AUTHENTICATION_FAILED.
		return fmt.Errorf("%w for user %q with %s at %s: the broker closed the connection during login (wrong user, password or mechanism?)",
			ErrAuth, c.cfg.User, c.cfg.SASLMechanism(), addrs)
	case c.cfg.usesTLS() && errors.Is(err, io.EOF):
		return fmt.Errorf("%w with %s: the broker closed the connection (is it a TLS listener?)", ErrTLS, addrs)
	}
	return fmt.Errorf("%w at %s: %v", ErrUnreachable, addrs, err)
}

// Produce writes one record and returns once the broker acknowledged it.
func (c *Client) Produce(ctx context.Context, topic string, key, value []byte, headers []Header) error {
	return c.ProduceSync(ctx, Record{Topic: topic, Key: key, Value: value, Headers: headers})
}

// ProduceSync writes records and returns once the broker acknowledged all
// of them, or the first error.
func (c *Client) ProduceSync(ctx context.Context, recs ...Record) error {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(r)
	}
	if err := c.cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("producing to %s: %w", recs[0].Topic, err)
	}
	return nil
}

// ProduceAsync hands a record to the client; done is called once the broker
// acknowledged it or the write failed. It waits for room while the client's
// buffer is full, until ctx ends. done must not block.
func (c *Client) ProduceAsync(ctx context.Context, r Record, done func(error)) {
	c.cl.Produce(ctx, toKgo(r), func(_ *kgo.Record, err error) { done(err) })
}

// TryProduce is ProduceAsync that never waits for room: with the client's
// buffer full, done gets ErrBufferFull.
func (c *Client) TryProduce(ctx context.Context, r Record, done func(error)) {
	c.cl.TryProduce(ctx, toKgo(r), func(_ *kgo.Record, err error) { done(err) })
}

// Flush waits until every buffered record is acknowledged.
func (c *Client) Flush(ctx context.Context) error { return c.cl.Flush(ctx) }

// Close flushes nothing: call Flush first when records must not be lost.
func (c *Client) Close() {
	c.health.close()
	c.cl.Close()
}

// Reachability returns why the client cannot reach any broker — known once
// its last connection attempt to every broker failed — or, while it can,
// nil and a channel closed when it learns that it cannot. It costs no
// request: callers may fail fast on it rather than wait for a produce
// timeout. The client probes a lost broker and finds it again by itself.
func (c *Client) Reachability() (lost <-chan struct{}, err error) { return c.health.state() }

func toKgo(r Record) *kgo.Record {
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
}

func fromKgo(kr *kgo.Record) Record {
	return Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value, Time: kr.Timestamp,
		Headers: kr.Headers, epoch: kr.LeaderEpoch, consumed: true}
}

// Header returns the value of header key, or "" without it. A search, not
// a map: building a map for every record costs more than the few look-ups
// a loader makes.
func (r Record) Header(key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Ping checks that a broker answers; while the client knows that none
// does, it says so at once.
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.health.state(); err != nil {
		return err
	}
	if err := c.cl.Ping(ctx); err != nil {
		return fmt.Errorf("pinging kafka at %s: %w", strings.Join(c.cfg.Addrs(), ","), err)
	}
	return nil
}
