package dummy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Config is what one run of the service does and how it names itself in
// its events.
type Config struct {
	QueueID      string // QUEUE_ID
	Symbol       string // SYMBOL, e.g. BTCUSDT
	TimeRange    string // TIME_RANGE, e.g. 2024-01-01:2024-01-02
	Type         string // TYPE: api, ws, dummy…
	Interval     string // INTERVAL, reported only
	ProducerID   string // TELEMETRY_PRODUCER_ID, the events' "producer"
	KafkaTopic   string // KAFKA_TOPIC, reported in status events
	EventsTopic  string // QUEUE_EVENTS_TOPIC
	ControlTopic string // QUEUE_CONTROL_TOPIC
	K8sNamespace string // K8S_NAMESPACE
	PodName      string // POD_NAME

	Noop            bool
	ExitOnPing      bool
	SimulateLoading bool
	ExitAfter       time.Duration // 0: never
	FailAfter       time.Duration // 0: never
	LoadingInterval time.Duration
	// ShutdownTimeout bounds the publishing of an event, the terminal one
	// included, so a signal ends the process in bounded time.
	ShutdownTimeout time.Duration
}

// Defaults.
const (
	DefaultQueueID         = "dummy"
	DefaultEventsTopic     = "queue-events"
	DefaultControlTopic    = "queue-control"
	DefaultLoadingInterval = 10 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.QueueID == "" {
		c.QueueID = DefaultQueueID
	}
	if c.Type == "" {
		c.Type = "dummy"
	}
	if c.ProducerID == "" {
		c.ProducerID = c.PodName
	}
	if c.ProducerID == "" {
		c.ProducerID = "dummy-service"
	}
	if c.EventsTopic == "" {
		c.EventsTopic = DefaultEventsTopic
	}
	if c.ControlTopic == "" {
		c.ControlTopic = DefaultControlTopic
	}
	if c.LoadingInterval <= 0 {
		c.LoadingInterval = DefaultLoadingInterval
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// Group is the consumer group of the service's queue.
func (c Config) Group() string { return "consumer-" + c.withDefaults().QueueID }

// Options is everything the dummy-service program is configured with.
type Options struct {
	Service Config
	Kafka   kafka.Config
	Debug   bool
	// MetricsAddr serves /metrics, /healthz and /readyz.
	MetricsAddr string
	// MetricsLinger keeps /metrics up after the run ended, so a scraper
	// sees the final values of a short-lived Job.
	MetricsLinger time.Duration
	// BrokerAddr is where to find, or else start, the embedded broker when
	// KAFKA_BOOTSTRAP_SERVERS is unset; DataDir is where it persists.
	BrokerAddr string
	DataDir    string
	// Arango holds the ARANGO_* variables, reported at start (secrets
	// masked) and not used otherwise.
	Arango map[string]string
}

// ErrHelp is returned by ParseArgs for -h / --help.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned by ParseArgs for --version, before the
// environment is checked: the caller prints the build and exits 0.
var ErrVersion = errors.New("version requested")

// ParseArgs reads the command line and the environment (KEY=value
// strings, as os.Environ returns them). Usage and errors go to stderr.
func ParseArgs(args, environ []string, stderr io.Writer) (Options, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	getenv := func(k string) string { return env[k] }
	or := func(k, def string) string {
		if v := env[k]; v != "" {
			return v
		}
		return def
	}

	var o Options
	var exitAfter, failAfter control.SecondsFlag
	var version bool
	fs := flag.NewFlagSet("dummy-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&version, "version", false, "print the version, commit and Go release, then exit")
	fs.BoolVar(&o.Debug, "debug", false, "log at DEBUG level")
	fs.BoolVar(&o.Service.Noop, "noop", false, "publish started and run no command consumer; without --exit-after or --fail-after the run ends at once with finished")
	fs.BoolVar(&o.Service.ExitOnPing, "exit-on-ping", false, "end the run (finished) after answering the first ping")
	fs.Var(&exitAfter, "exit-after", "end the run (finished) after N seconds")
	fs.BoolVar(&o.Service.SimulateLoading, "simulate-loading", false, "publish a loading event every --loading-interval")
	fs.Var(&failAfter, "fail-after", "publish error and exit non-zero after N seconds")
	fs.DurationVar(&o.Service.LoadingInterval, "loading-interval", DefaultLoadingInterval, "interval of loading events (env LOADING_INTERVAL)")
	fs.DurationVar(&o.Service.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "bound on publishing an event, the terminal one included")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", or("METRICS_ADDR", ":8000"), "address serving /metrics, /healthz and /readyz (env METRICS_ADDR)")
	fs.DurationVar(&o.MetricsLinger, "metrics-linger", 0, "keep serving /metrics this long after the run ended")
	fs.StringVar(&o.BrokerAddr, "broker-addr", or("BROKER_ADDR", kafka.DefaultBootstrap), "without KAFKA_BOOTSTRAP_SERVERS: use the broker at this address, or start the embedded one there (env BROKER_ADDR)")
	fs.StringVar(&o.DataDir, "data-dir", or("BROKER_DATA_DIR", "./data/kafka"), "data directory of the embedded broker (env BROKER_DATA_DIR)")
	if v := env["LOADING_INTERVAL"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("LOADING_INTERVAL: %w", err)
		}
		o.Service.LoadingInterval = d
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if version {
		return o, ErrVersion
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.Service.LoadingInterval <= 0 {
		return o, errors.New("--loading-interval must be positive")
	}
	o.Service.ExitAfter, o.Service.FailAfter = time.Duration(exitAfter), time.Duration(failAfter)

	o.Service.QueueID = getenv("QUEUE_ID")
	o.Service.Symbol = getenv("SYMBOL")
	o.Service.TimeRange = getenv("TIME_RANGE")
	o.Service.Type = getenv("TYPE")
	o.Service.Interval = getenv("INTERVAL")
	o.Service.ProducerID = getenv("TELEMETRY_PRODUCER_ID")
	o.Service.KafkaTopic = getenv("KAFKA_TOPIC")
	o.Service.EventsTopic = getenv("QUEUE_EVENTS_TOPIC")
	o.Service.ControlTopic = getenv("QUEUE_CONTROL_TOPIC")
	o.Service.K8sNamespace = getenv("K8S_NAMESPACE")
	o.Service.PodName = getenv("POD_NAME")
	o.Service = o.Service.withDefaults()
	if o.Service.QueueID == control.Wildcard {
		return o, errors.New(`QUEUE_ID must not be "*": that addresses every service`)
	}

	kc, err := kafka.EnvConfig(getenv)
	if err != nil {
		return o, err
	}
	kc.ClientID = "dummy-service-" + o.Service.QueueID
	o.Kafka = kc

	for k, v := range env {
		if strings.HasPrefix(k, "ARANGO_") {
			if o.Arango == nil {
				o.Arango = map[string]string{}
			}
			o.Arango[k] = redactArango(k, v)
		}
	}
	return o, nil
}

// redactArango hides what may be a credential: values of secret-sounding
// names, and the password and query of a URL (http://root:pw@host/?token=).
func redactArango(k, v string) string {
	for _, s := range []string{"PASS", "TOKEN", "SECRET", "KEY", "JWT", "AUTH", "CRED"} {
		if strings.Contains(k, s) {
			return "***"
		}
	}
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		u.RawQuery = ""
		return u.Redacted()
	}
	return v
}
