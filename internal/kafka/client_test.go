package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestProduceConsumeOverTLSAndSCRAM(t *testing.T) {
	b, ctx, p := connected(t)
	if err := p.EnsureTopic(ctx, kafka.TopicSpec{Name: "t1", Partitions: 1, Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx, kafka.TopicSpec{Name: "t1", Partitions: 1}); err != nil {
		t.Fatalf("second EnsureTopic must accept an existing topic: %v", err)
	}
	for i := range 3 {
		if err := p.Produce(ctx, "t1", nil, fmt.Appendf(nil, "v%d", i), []kafka.Header{{Key: "h", Value: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
	}

	all, err := kafka.ReadAll(ctx, b.Kafka, discard(), "t1", 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("ReadAll = %d records, %v; want 3", len(all), err)
	}
	last, err := kafka.ReadAll(ctx, b.Kafka, discard(), "t1", 2)
	if err != nil || len(last) != 2 || string(last[1].Value) != "v2" {
		t.Fatalf("ReadAll with limit 2 = %d records, %v; want the newest 2", len(last), err)
	}

	c, err := kafka.NewConsumer(ctx, b.Kafka, discard(), kafka.ConsumerOptions{Group: "g", Topics: []string{"t1"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []kafka.Record
	for len(got) < 3 {
		recs, err := c.Poll(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, recs...)
	}
	if string(got[0].Value) != "v0" || got[0].Header("h") != "x" {
		t.Fatalf("first record = %q, header h = %q", got[0].Value, got[0].Header("h"))
	}
	if err := c.Commit(ctx, got[:2]); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A new member of the same group resumes after the committed offsets.
	c2, err := kafka.NewConsumer(ctx, b.Kafka, discard(), kafka.ConsumerOptions{Group: "g", Topics: []string{"t1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	recs, err := c2.Poll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || string(recs[0].Value) != "v2" {
		t.Fatalf("after commit of 2, got %d records, first %q", len(recs), recs[0].Value)
	}
	lag, err := c2.Lag(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if lag["t1"] != 1 {
		t.Fatalf("lag = %v, want t1:1", lag)
	}
}

func TestConnectFailuresAreClear(t *testing.T) {
	b := brokertest.Start(t)
	ctx := context.Background()

	wrongPass := b.Kafka
	wrongPass.Password = "not-the-password"
	_, err := kafka.Connect(ctx, wrongPass, discard())
	if !errors.Is(err, kafka.ErrAuth) {
		t.Fatalf("wrong password: err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("error leaks the password: %v", err)
	}

	dir := t.TempDir()
	otherCA, _ := brokertest.NewCA(t, "")
	caPath := filepath.Join(dir, "other.crt")
	if err := os.WriteFile(caPath, otherCA, 0o600); err != nil {
		t.Fatal(err)
	}
	wrongCA := b.Kafka
	wrongCA.CAPath = caPath
	if _, err := kafka.Connect(ctx, wrongCA, discard()); !errors.Is(err, kafka.ErrTLS) {
		t.Fatalf("wrong CA: err = %v, want ErrTLS", err)
	}

	missing := b.Kafka
	missing.CAPath = filepath.Join(dir, "missing.crt")
	if _, err := kafka.Connect(ctx, missing, discard()); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Fatalf("missing CA: err = %v, want the file named", err)
	}

	garbage := filepath.Join(dir, "garbage.crt")
	if err := os.WriteFile(garbage, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := b.Kafka
	bad.CAPath = garbage
	if _, err := kafka.Connect(ctx, bad, discard()); err == nil || !strings.Contains(err.Error(), "garbage.crt") {
		t.Fatalf("invalid CA: err = %v, want the file named", err)
	}

	down := kafka.Config{Brokers: []string{"127.0.0.1:1"}, ConnectTimeout: 700 * time.Millisecond}
	if _, err := kafka.Connect(ctx, down, discard()); !errors.Is(err, kafka.ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable: err = %v, want ErrUnreachable naming the address", err)
	}
}

func TestEnvConfigDerivesProtocol(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
		mech string
	}{
		{map[string]string{}, kafka.Plaintext, kafka.MechScramSHA512},
		{map[string]string{"KAFKA_CA_PATH": "/ca"}, kafka.SSL, kafka.MechScramSHA512},
		{map[string]string{"KAFKA_USER": "u"}, kafka.SASLPlaintext, kafka.MechScramSHA512},
		{map[string]string{"KAFKA_USER": "u", "KAFKA_CA_PATH": "/ca"}, kafka.SASLSSL, kafka.MechScramSHA512},
		{map[string]string{"KAFKA_USER": "u", "KAFKA_SASL_MECHANISM": "plain", "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"}, kafka.SASLPlaintext, kafka.MechPlain},
	}
	for _, tt := range tests {
		c, err := kafka.EnvConfig(func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.Protocol() != tt.want || c.SASLMechanism() != tt.mech {
			t.Errorf("%v: protocol %s mech %s, want %s %s", tt.env, c.Protocol(), c.SASLMechanism(), tt.want, tt.mech)
		}
	}
	for _, bad := range []map[string]string{
		{"KAFKA_SECURITY_PROTOCOL": "carrier-pigeon"},
		{"KAFKA_USER": "u", "KAFKA_SASL_MECHANISM": "GSSAPI"},
		{"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
		{"KAFKA_CONNECT_TIMEOUT": "soon"},
	} {
		if _, err := kafka.EnvConfig(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := kafka.Config{User: "u", Password: "hunter2"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("config prints its password: %s", s)
		}
	}
}

func TestTailReaderAndLatestGroupSeeOnlyNewRecords(t *testing.T) {
	b, ctx, p := connected(t)
	if err := p.Produce(ctx, "tail", nil, []byte("old"), nil); err != nil {
		t.Fatal(err)
	}

	tail, err := kafka.NewTailReader(ctx, b.Kafka, discard(), "tail")
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	group, err := kafka.NewConsumer(ctx, b.Kafka, discard(), kafka.ConsumerOptions{Group: "latest", Topics: []string{"tail"}, FromLatest: true})
	if err != nil {
		t.Fatal(err)
	}
	defer group.Close()
	// Produced right after the readers return, before the group may have
	// joined: both must still read it, and neither the older record.
	if err := p.Produce(ctx, "tail", nil, []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*kafka.Consumer{"tail": tail, "group": group} {
		recs, err := c.Poll(ctx, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(recs) != 1 || string(recs[0].Value) != "new" {
			t.Fatalf("%s read %d records, first %q; want only \"new\"", name, len(recs), recs[0].Value)
		}
	}

	// A never-seen topic is created and tailed from its (empty) start.
	fresh, err := kafka.NewTailReader(ctx, b.Kafka, discard(), "fresh")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := p.Produce(ctx, "fresh", nil, []byte("first"), nil); err != nil {
		t.Fatal(err)
	}
	if recs, err := fresh.Poll(ctx, 0); err != nil || len(recs) != 1 {
		t.Fatalf("fresh topic: %d records, err %v", len(recs), err)
	}
}

func TestCommitted(t *testing.T) {
	b, ctx, p := connected(t)
	if n, err := p.Committed(ctx, "nobody", "done"); err != nil || n != 0 {
		t.Fatalf("Committed of a group that never joined = %d, %v; want 0, nil", n, err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := p.Produce(ctx, "done", nil, []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	c, err := kafka.NewConsumer(ctx, b.Kafka, discard(), kafka.ConsumerOptions{Group: "g", Topics: []string{"done"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var recs []kafka.Record
	for len(recs) < 3 {
		if recs, err = c.PollAppend(ctx, recs, 3-len(recs)); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(recs[0].Value) + string(recs[1].Value) + string(recs[2].Value); len(recs) != 3 || got != "abc" {
		t.Fatalf("polled %d records %q, want abc", len(recs), got)
	}
	if err := c.Commit(ctx, recs[:1]); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Committed(ctx, "g", "done"); err != nil || n != 1 {
		t.Fatalf("Committed after the first record = %d, %v; want 1, nil", n, err)
	}
	// In any order, the highest offset of a partition is what commits.
	if err := c.Commit(ctx, []kafka.Record{recs[1], recs[2], recs[0]}); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Committed(ctx, "g", "done"); err != nil || n != 3 {
		t.Fatalf("Committed after three records = %d, %v; want 3, nil", n, err)
	}
}

// connected starts a test cluster and connects a client to it; both, and
// the 30 s context, end with the test.
func connected(t *testing.T) (*brokertest.Cluster, context.Context, *kafka.Client) {
	t.Helper()
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	p, err := kafka.Connect(ctx, b.Kafka, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return b, ctx, p
}

// Records produced with each codec of BULKER_KAFKA_TOPIC_COMPRESSION come
// back as they were sent; an unknown codec is refused with the list.
func TestCompression(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, codec := range kafka.Compressions {
		t.Run(codec, func(t *testing.T) {
			cfg := b.Kafka
			cfg.Compression = codec
			p, err := kafka.Connect(ctx, cfg, discard())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			value := strings.Repeat("compress me ", 100)
			if err := p.Produce(ctx, "z-"+codec, nil, []byte(value), nil); err != nil {
				t.Fatal(err)
			}
			got, err := kafka.ReadAll(ctx, b.Kafka, discard(), "z-"+codec, 0)
			if err != nil || len(got) != 1 || string(got[0].Value) != value {
				t.Fatalf("read back %d records, %v", len(got), err)
			}
		})
	}
	cfg := b.Kafka
	cfg.Compression = "brotli"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Errorf("Validate with brotli = %v, want an error listing the codecs", err)
	}
}

// Records handed out stay as they were read while later fetches are
// decoded into the arrays franz-go gets back from the consumer's pool.
func TestRecordsSurviveLaterFetches(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := kafka.Connect(ctx, b.Kafka, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := kafka.NewConsumer(ctx, b.Kafka, discard(), kafka.ConsumerOptions{Group: "pooled", Topics: []string{"pooled"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []kafka.Record
	n := 0
	for range 30 {
		// Ten records in one produce call make batches of several
		// records; polls of at most seven split them, and each round's
		// fetch is decoded after the arrays of the round before were
		// recycled, while their records are still held.
		var recs []kafka.Record
		for range 10 {
			recs = append(recs, kafka.Record{Topic: "pooled", Key: fmt.Appendf(nil, "k%d", n), Value: fmt.Appendf(nil, "value %d", n),
				Headers: []kafka.Header{{Key: "h", Value: fmt.Appendf(nil, "header %d", n)}}})
			n++
		}
		if err := p.ProduceSync(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		for len(got) < n {
			if got, err = c.PollAppend(ctx, got, 7); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range got {
		if string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("value %d", i) || r.Header("h") != fmt.Sprintf("header %d", i) || r.Offset != int64(i) {
			t.Fatalf("record %d: key %q value %q header %q offset %d", i, r.Key, r.Value, r.Header("h"), r.Offset)
		}
	}
}
