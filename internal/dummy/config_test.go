package dummy_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/dummy"
)

func TestParseArgs(t *testing.T) {
	o, err := dummy.ParseArgs(
		[]string{"--simulate-loading", "--exit-after", "30", "--fail-after", "1.5", "--debug", "--noop", "--exit-on-ping"},
		[]string{"QUEUE_ID=loader-btc", "SYMBOL=BTCUSDT", "TIME_RANGE=2024-01-01:2024-01-02", "TYPE=api", "INTERVAL=1m",
			"TELEMETRY_PRODUCER_ID=p1", "KAFKA_TOPIC=trades", "QUEUE_EVENTS_TOPIC=ev", "QUEUE_CONTROL_TOPIC=ctl",
			"K8S_NAMESPACE=ns", "POD_NAME=pod-1", "KAFKA_BOOTSTRAP_SERVERS=k1:9093,k2:9093", "KAFKA_USER=u",
			"KAFKA_PASSWORD=hunter2", "KAFKA_CA_PATH=/ca.crt", "ARANGO_URL=http://a:8529", "ARANGO_PASSWORD=hunter3",
			"METRICS_ADDR=:9100", "LOADING_INTERVAL=250ms"},
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Service
	if s.QueueID != "loader-btc" || s.Symbol != "BTCUSDT" || s.TimeRange != "2024-01-01:2024-01-02" || s.Type != "api" ||
		s.Interval != "1m" || s.ProducerID != "p1" || s.KafkaTopic != "trades" || s.EventsTopic != "ev" || s.ControlTopic != "ctl" ||
		s.K8sNamespace != "ns" || s.PodName != "pod-1" {
		t.Fatalf("service config %+v", s)
	}
	if !s.SimulateLoading || !s.Noop || !s.ExitOnPing || !o.Debug || s.ExitAfter != 30*time.Second ||
		s.FailAfter != 1500*time.Millisecond || s.LoadingInterval != 250*time.Millisecond || o.MetricsAddr != ":9100" {
		t.Fatalf("flags %+v", o)
	}
	if o.Kafka.Protocol() != "SASL_SSL" || len(o.Kafka.Brokers) != 2 || o.Kafka.Password.Reveal() != "hunter2" {
		t.Fatalf("kafka %+v", o.Kafka)
	}
	if o.Arango["ARANGO_URL"] != "http://a:8529" || o.Arango["ARANGO_PASSWORD"] != "***" {
		t.Fatalf("arango %v", o.Arango)
	}
	if s.Group() != "consumer-loader-btc" {
		t.Fatalf("group %s", s.Group())
	}
}

func TestParseArgsDefaults(t *testing.T) {
	o, err := dummy.ParseArgs(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Service
	if s.QueueID != "dummy" || s.EventsTopic != "queue-events" || s.ControlTopic != "queue-control" || s.LoadingInterval != 10*time.Second ||
		o.MetricsAddr != ":8000" || o.BrokerAddr != "127.0.0.1:9092" || o.DataDir != "./data/kafka" || len(o.Kafka.Brokers) != 0 ||
		s.ExitAfter != 0 || s.FailAfter != 0 || s.ProducerID != "dummy-service" {
		t.Fatalf("defaults %+v", o)
	}
}

func TestParseArgsRejects(t *testing.T) {
	for _, tt := range []struct {
		args, env []string
		want      string
	}{
		{[]string{"--exit-after", "soon"}, nil, "exit-after"},
		{[]string{"--fail-after", "-1"}, nil, "fail-after"},
		{[]string{"--loading-interval", "0s"}, nil, "loading-interval"},
		{[]string{"stray"}, nil, "unexpected"},
		{nil, []string{"QUEUE_ID=*"}, "QUEUE_ID"},
		{nil, []string{"LOADING_INTERVAL=often"}, "LOADING_INTERVAL"},
		{nil, []string{"KAFKA_SECURITY_PROTOCOL=SASL_SSL"}, "needs a user"},
	} {
		_, err := dummy.ParseArgs(tt.args, tt.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: err = %v, want it to mention %q", tt.args, tt.env, err, tt.want)
		}
	}
}

func TestArangoSettingsAreRedacted(t *testing.T) {
	want := map[string]string{
		"ARANGO_URL":      "http://root:xxxxx@db:8529/",
		"ARANGO_JWT":      "***",
		"ARANGO_AUTH":     "***",
		"ARANGO_DATABASE": "streamforge",
		"ARANGO_HOST":     "db:8529",
	}
	o, err := dummy.ParseArgs(nil, []string{"ARANGO_URL=http://root:pw@db:8529/?token=abc", "ARANGO_JWT=eyJhbGciOi",
		"ARANGO_AUTH=basic", "ARANGO_DATABASE=streamforge", "ARANGO_HOST=db:8529"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if o.Arango[k] != v {
			t.Errorf("%s shown as %q, want %q", k, o.Arango[k], v)
		}
	}
}

func TestParseArgsVersionAndHelpStopBeforeTheEnvironment(t *testing.T) {
	// A Kafka setting dummy-service would reject: --version and --help
	// answer without reading it.
	env := []string{"KAFKA_SASL_MECHANISM=GSSAPI", "KAFKA_USER=u"}
	if _, err := dummy.ParseArgs([]string{"--version"}, env, io.Discard); !errors.Is(err, dummy.ErrVersion) {
		t.Errorf("--version: err = %v, want ErrVersion", err)
	}
	if _, err := dummy.ParseArgs([]string{"--help"}, env, io.Discard); !errors.Is(err, dummy.ErrHelp) {
		t.Errorf("--help: err = %v, want ErrHelp", err)
	}
	if _, err := dummy.ParseArgs(nil, env, io.Discard); err == nil {
		t.Error("the environment above must be rejected when the service would start")
	}
}
