package probe_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/probe"
)

func TestParseArgs(t *testing.T) {
	o, err := probe.ParseArgs([]string{"--queue-id", "q1", "--expect-pong", "--repeat", "5", "--interval", "0.25", "--timeout", "2"},
		[]string{"KAFKA_BOOTSTRAP_SERVERS=b:9092", "QUEUE_EVENTS_TOPIC=ev"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.QueueID != "q1" || o.Command != "ping" || !o.ExpectPong || o.Repeat != 5 || o.Interval != 250*time.Millisecond ||
		o.Timeout != 2*time.Second || o.Topics.Events != "ev" || o.Topics.Control != "queue-control" || o.Kafka.Brokers[0] != "b:9092" {
		t.Fatalf("options %+v", o)
	}
	if d, _ := probe.ParseArgs([]string{"--queue-id", "q"}, nil, io.Discard); d.Interval != time.Second || d.Timeout != 10*time.Second {
		t.Fatalf("defaults: interval %v timeout %v", d.Interval, d.Timeout)
	}
	for _, bad := range [][]string{
		{},
		{"--queue-id", "q", "--repeat", "0"},
		{"--queue-id", "q", "--interval", "soon"},
		{"--queue-id", "q", "--timeout", "0"},
		{"--queue-id", "q", "--command", "fail-after"},
		{"--queue-id", "q", "--command", "fail-after", "--payload", `{"seconds":"x"}`},
		{"--queue-id", "q", "--payload", `[1]`},
		{"--queue-id", "q", "extra"},
	} {
		if _, err := probe.ParseArgs(bad, nil, io.Discard); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
	if _, err := probe.ParseArgs([]string{"--queue-id", "q", "--command", "fail-after", "--payload", `{"seconds":3}`}, nil, io.Discard); err != nil {
		t.Errorf("fail-after with payload: %v", err)
	}
}

func TestParseArgsVersionNeedsNoQueueID(t *testing.T) {
	if _, err := probe.ParseArgs([]string{"--version"}, nil, io.Discard); !errors.Is(err, probe.ErrVersion) {
		t.Errorf("--version: err = %v, want ErrVersion", err)
	}
	if _, err := probe.ParseArgs([]string{"--help"}, nil, io.Discard); !errors.Is(err, probe.ErrHelp) {
		t.Errorf("--help: err = %v, want ErrHelp", err)
	}
}
