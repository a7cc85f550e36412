// Package config reads bulker's configuration: the BULKER_* environment
// variables (Jitsu Bulker's names where Jitsu has one) and the destinations,
// from BULKER_DESTINATION_<ID> variables and BULKER_CONFIG_SOURCE (a YAML
// file, an HTTP(S) URL or a Redis hash). Every variable is one row of the
// table in variables.go, which also gives the list of known variables and
// the README's configuration table.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/auth"
	"github.com/streamforge/streamforge/internal/ingest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/secret"
)

// Config is bulker's process configuration, one part per component.
// Secrets are secret.String, so printing or logging a Config shows "***"
// in their place.
type Config struct {
	HTTP   HTTP
	Ingest ingest.Config
	Loader loader.Config
	// Kafka reaches the cluster; with no BULKER_KAFKA_BOOTSTRAP_SERVERS
	// EmbeddedKafka is true and bulker runs the embedded broker on
	// EmbeddedKafkaAddr (or joins the one already there).
	Kafka             kafka.Config
	EmbeddedKafka     bool
	EmbeddedKafkaAddr string
	// Topics is the spec of the topics bulker creates; Name is per topic.
	Topics      kafka.TopicSpec
	TopicPrefix string
	// RetryTopicRetention and DeadTopicRetention are the retention of the
	// retry and dead-letter topics bulker creates.
	RetryTopicRetention time.Duration
	DeadTopicRetention  time.Duration
	EventsLog           EventsLog
	Auth                Auth
	Sources             SourceConfig

	// RedisURL is BULKER_REDIS_URL: the default Redis of the events log
	// and the Redis of BULKER_CONFIG_SOURCE=redis.
	RedisURL secret.String

	DataDir    string
	InstanceID string
	LogLevel   slog.Level
	LogFormat  string // json or text
	// EnableConsumers runs the loaders; false serves the API only.
	EnableConsumers bool
	// MetricsPort, when not 0, serves /metrics on a port of its own too.
	MetricsPort int
	// ShutdownTimeout bounds the graceful shutdown; ShutdownExtraDelay
	// then keeps the metrics port serving, for a last scrape.
	ShutdownTimeout    time.Duration
	ShutdownExtraDelay time.Duration
	// PprofAddr, when set, serves Go's profiler (net/http/pprof) there,
	// apart from the API: for diagnosis, on a loopback address.
	PprofAddr string
	// GCHeapFloorMB is the least heap goal of the collector, in MiB
	// (package gcfloor); 0 leaves Go's default.
	GCHeapFloorMB int
}

// maxGCHeapFloorMB bounds BULKER_GC_HEAP_FLOOR_MB: a floor of a terabyte
// is a typo, and bytes of a larger one would overflow.
const maxGCHeapFloorMB = 1 << 20

// HTTP is where the API listens, and how long it waits for clients.
type HTTP struct {
	Host string
	Port int
	// ReadHeaderTimeout bounds the headers of a request, ReadTimeout the
	// whole request (a /bulk body has ingest.Config.BulkReadTimeout),
	// IdleTimeout a kept-alive connection between requests.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
}

// Addr is the listen address.
func (h HTTP) Addr() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// EventsLog keeps recent events for GET /events, in memory or in Redis.
type EventsLog struct {
	RedisURL secret.String // empty: in memory
	MaxSize  int           // per destination
}

// Auth holds the API tokens.
type Auth struct {
	RawTokens    []secret.String
	HashedTokens []secret.String // salt.hash, or raw when without a dot
	Secrets      []secret.String
}

// Tokens builds the API token set; Enabled is false when none is set.
func (a Auth) Tokens() (*auth.Tokens, error) {
	return auth.New(reveal(a.RawTokens), reveal(a.HashedTokens), a.Secrets)
}

// SourceConfig says where more destinations come from.
type SourceConfig struct {
	// URL is file://…, http(s)://…, redis://… or "redis" (RedisURL); it
	// may hold credentials, so it is a secret.
	URL          secret.String
	RedisURL     secret.String
	Token        secret.String // bearer token for an http(s) source
	ReloadPeriod time.Duration
}

// DestinationEnvPrefix starts the variables that each hold one destination.
const DestinationEnvPrefix = "BULKER_DESTINATION_"

// Load reads the configuration; getenv is os.Getenv in the program and a
// map in tests. Every variable's default is applied here, once. Errors
// name the variable and never show a secret's value.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	var s settings
	s.getenv = getenv
	for _, v := range variables {
		if v.set == nil {
			continue
		}
		raw, name, err := v.value(getenv)
		if err != nil {
			return c, err
		}
		if err := v.set(&c, &s, raw); err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := c.derive(s); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// value is v's setting and the name it was set under: its own, or an
// alias; else a fallback's; else its default. Two names set to different
// values are an error (the values are not shown: they may be secrets).
func (v variable) value(getenv func(string) string) (raw, name string, err error) {
	raw, name = strings.TrimSpace(getenv(v.name)), v.name
	for _, a := range v.aliases {
		x := strings.TrimSpace(getenv(a))
		switch {
		case x == "":
		case raw == "":
			raw, name = x, a
		case x != raw:
			return "", "", fmt.Errorf("%s and %s name one setting but are set differently: set one", name, a)
		}
	}
	for _, f := range v.fallbacks {
		if x := strings.TrimSpace(getenv(f)); raw == "" && x != "" {
			raw, name = x, f
		}
	}
	if raw == "" {
		raw = v.def
	}
	return raw, name, nil
}

// settings are read from variables that only count with others.
type settings struct {
	kafkaSSL *bool // BULKER_KAFKA_SSL, when set
	getenv   func(string) string
}

// derive fills what follows from several variables or the machine.
func (c *Config) derive(s settings) error {
	if name, ok := strings.CutPrefix(c.InstanceID, "env://"); ok {
		// Jitsu's form: the id is another variable's value, such as a pod name.
		c.InstanceID = strings.TrimSpace(s.getenv(name))
	}
	if c.InstanceID == "" {
		c.InstanceID, _ = os.Hostname()
	}
	if c.EventsLog.RedisURL == "" {
		c.EventsLog.RedisURL = c.RedisURL
	}
	c.Sources.RedisURL = c.RedisURL
	if c.HTTP.Host == "" {
		// An open API only listens locally unless told otherwise.
		c.HTTP.Host = "127.0.0.1"
		if len(c.Auth.RawTokens)+len(c.Auth.HashedTokens) > 0 {
			c.HTTP.Host = "0.0.0.0"
		}
	}
	c.EmbeddedKafka = len(c.Kafka.Brokers) == 0
	c.Kafka.ClientID = "bulker-" + c.InstanceID
	if c.Kafka.SecurityProtocol == "" && s.kafkaSSL != nil {
		// Jitsu's switch; without it the protocol follows from what is set.
		ssl := *s.kafkaSSL
		switch {
		case ssl && c.Kafka.User != "":
			c.Kafka.SecurityProtocol = kafka.SASLSSL
		case ssl:
			c.Kafka.SecurityProtocol = kafka.SSL
		case c.Kafka.User != "":
			c.Kafka.SecurityProtocol = kafka.SASLPlaintext
		default:
			c.Kafka.SecurityProtocol = kafka.Plaintext
		}
	}
	c.Ingest.TopicPrefix = c.TopicPrefix
	c.Loader.TopicPrefix = c.TopicPrefix
	c.Loader.Retry.Unit = time.Minute
	c.Loader.ShutdownTimeout = c.ShutdownTimeout
	c.Loader.EventsLogMax = c.EventsLog.MaxSize
	if n, err := kafka.BatchBytes(c.Ingest.MaxEventSize); err == nil { // else Validate says why
		// Every event /post accepts must fit the producer's batches and
		// the topics' records: both follow the event size.
		c.Kafka.MaxBatchBytes, c.Topics.MaxMessageBytes = n, n
	}
	c.Ingest.FailedScan = failedScan
	c.Ingest.ProduceTimeout = produceTimeout
	return nil
}

// Settings bulker does not expose as variables.
const (
	// failedScan bounds the records GET /failed reads from a topic.
	failedScan = 10000
	// produceTimeout bounds how long /post waits for the broker.
	produceTimeout = 30 * time.Second
)

// Validate names the variable of the first bad value.
func (c Config) Validate() error {
	switch {
	case c.HTTP.Port < 1 || c.HTTP.Port > 65535:
		return fmt.Errorf("BULKER_HTTP_PORT: %d is not a TCP port", c.HTTP.Port)
	case net.ParseIP(c.HTTP.Host) == nil && strings.ContainsAny(c.HTTP.Host, ":/ "):
		return fmt.Errorf("BULKER_HTTP_HOST: %q is not a host name or IP address", c.HTTP.Host)
	case c.HTTP.ReadHeaderTimeout <= 0:
		return errors.New("BULKER_HTTP_READ_HEADER_TIMEOUT_SEC must be positive")
	case c.HTTP.ReadTimeout <= 0:
		return errors.New("BULKER_HTTP_READ_TIMEOUT_SEC must be positive")
	case c.Ingest.BulkReadTimeout <= 0:
		return errors.New("BULKER_HTTP_BULK_READ_TIMEOUT_SEC must be positive")
	case c.HTTP.IdleTimeout <= 0:
		return errors.New("BULKER_HTTP_IDLE_TIMEOUT_SEC must be positive")
	case c.Ingest.MaxEventSize < 1:
		return errors.New("BULKER_MAX_EVENT_SIZE must be positive")
	case c.Ingest.MaxBulkSize < 1:
		return errors.New("BULKER_MAX_BULK_SIZE must be positive")
	case c.Kafka.MaxBatchBytes == 0:
		_, err := kafka.BatchBytes(c.Ingest.MaxEventSize)
		return fmt.Errorf("BULKER_MAX_EVENT_SIZE: %w", err)
	case c.DataDir == "":
		return errors.New("BULKER_DATA_DIR must not be empty")
	case c.ShutdownTimeout <= 0:
		return errors.New("BULKER_SHUTDOWN_TIMEOUT_SEC must be positive")
	case c.Topics.Partitions < 1:
		return errors.New("BULKER_KAFKA_TOPIC_PARTITIONS must be at least 1")
	case c.GCHeapFloorMB < 0 || c.GCHeapFloorMB > maxGCHeapFloorMB:
		return fmt.Errorf("BULKER_GC_HEAP_FLOOR_MB must be between 0 and %d", maxGCHeapFloorMB)
	case c.ShutdownExtraDelay < 0:
		return errors.New("BULKER_SHUTDOWN_EXTRA_DELAY_SEC must not be negative")
	case c.MetricsPort < 0 || c.MetricsPort > 65535:
		return fmt.Errorf("BULKER_METRICS_PORT: %d is not a TCP port", c.MetricsPort)
	case c.MetricsPort != 0 && c.MetricsPort == c.HTTP.Port:
		return errors.New("BULKER_METRICS_PORT: the API already listens on that port (BULKER_HTTP_PORT), and serves /metrics there")
	case c.Loader.RetryPeriod < 0 || c.Loader.RetryBatchSize < 0:
		return errors.New("BULKER_BATCH_RUNNER_DEFAULT_RETRY_PERIOD_SEC and BULKER_RETRY_CONSUMER_BATCH_SIZE must not be negative")
	case c.Topics.Retention <= 0:
		return errors.New("BULKER_KAFKA_TOPIC_RETENTION_HOURS must be positive")
	case c.RetryTopicRetention <= 0 || c.DeadTopicRetention <= 0:
		return errors.New("BULKER_KAFKA_RETRY_TOPIC_RETENTION_HOURS and BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS must be positive")
	case c.Topics.ReplicationFactor < 1:
		return errors.New("BULKER_KAFKA_TOPIC_REPLICATION_FACTOR must be at least 1")
	case c.Loader.BatchPeriod <= 0:
		return errors.New("BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC must be positive")
	case c.Loader.BatchSize < 1:
		return errors.New("BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE must be at least 1")
	case c.Loader.Retry.Attempts < 0:
		return errors.New("BULKER_MESSAGES_RETRY_COUNT must not be negative")
	case c.Loader.Retry.Base < 1:
		return errors.New("BULKER_MESSAGES_RETRY_BACKOFF_BASE must be at least 1")
	case c.Loader.Retry.MaxDelay <= 0:
		return errors.New("BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY must be positive")
	case c.EventsLog.MaxSize < 1:
		return errors.New("BULKER_EVENTS_LOG_MAX_SIZE must be at least 1")
	case c.Kafka.ConnectTimeout <= 0:
		return errors.New("BULKER_KAFKA_CONNECT_TIMEOUT_SEC must be positive")
	case c.Sources.ReloadPeriod <= 0:
		return errors.New("BULKER_CONFIG_RELOAD_SEC must be positive")
	}
	if c.TopicPrefix != "" && !topicSafe(c.TopicPrefix) {
		return fmt.Errorf("BULKER_KAFKA_TOPIC_PREFIX: %q may only hold letters, digits, '.', '_' and '-'", c.TopicPrefix)
	}
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("BULKER_KAFKA_SECURITY_PROTOCOL / BULKER_KAFKA_SASL: %w", err)
	}
	if _, err := c.Kafka.TLSConfig(); err != nil {
		return fmt.Errorf("BULKER_KAFKA_SSL_CA / BULKER_KAFKA_SSL_CA_FILE: %w", err)
	}
	for _, r := range []struct {
		name string
		url  secret.String
	}{{"BULKER_REDIS_URL (or REDIS_URL)", c.RedisURL}, {"BULKER_EVENTS_LOG_REDIS_URL", c.EventsLog.RedisURL}} {
		if r.url == "" {
			continue
		}
		if u, err := url.Parse(r.url.Reveal()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			// url.Parse errors quote the URL, password included.
			return fmt.Errorf("%s: want redis://[user:password@]host:port[/db] or rediss://…", r.name)
		}
	}
	if _, err := c.Auth.Tokens(); err != nil {
		return fmt.Errorf("BULKER_AUTH_TOKENS: %w", err)
	}
	if c.Sources.URL != "" {
		if _, _, err := c.Sources.url(); err != nil {
			return fmt.Errorf("BULKER_CONFIG_SOURCE: %w", err)
		}
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	return nil
}

// Unknown returns the BULKER_* variables of environ that Load does not
// know, so a typo can be reported instead of silently ignored. Jitsu's
// that bulker ignores are not unknown: Ignored names them.
func Unknown(environ []string) []string {
	known := make(map[string]bool, len(variables))
	for _, v := range variables {
		known[v.name] = true
		for _, a := range v.aliases {
			known[a] = true
		}
	}
	var out []string
	for _, k := range names(environ) {
		if strings.HasPrefix(k, "BULKER_") && !known[k] && !strings.HasPrefix(k, DestinationEnvPrefix) && !strings.HasPrefix(k, SourceEnvPrefix) && !jitsuIgnored(k) && !serviceLink(k) {
			out = append(out, k)
		}
	}
	return out
}

// serviceLink reports whether name is one of the variables Kubernetes sets
// in every pod for a Service named bulker (BULKER_PORT,
// BULKER_PORT_3042_TCP_ADDR, BULKER_SERVICE_HOST, …), as Jitsu's manifests
// name theirs: not a setting, so not a typo either.
func serviceLink(name string) bool {
	return name == "BULKER_PORT" || strings.HasPrefix(name, "BULKER_PORT_") || strings.HasPrefix(name, "BULKER_SERVICE_")
}

// Ignored returns the variables of environ that Jitsu Bulker reads and
// StreamForge's bulker has no use for, to name them in a warning.
func Ignored(environ []string) []string {
	var out []string
	for _, k := range names(environ) {
		if jitsuIgnored(k) {
			out = append(out, k)
		}
	}
	return out
}

// jitsuIgnored reports whether name is one of Jitsu Bulker's variables
// that have no meaning here: sharding, librdkafka's consumer and producer
// tuning, the ingest service's topic, metrics relays, ClickHouse events
// logs, the failover logger.
func jitsuIgnored(name string) bool {
	switch name {
	case "BULKER_GLOBAL_HASH_SECRET", "BULKER_CONFIG_SOURCE_SQL_QUERY", "BULKER_CACHE_DIR", "BULKER_REDIS_TLS_CA",
		"BULKER_TOPIC_MANAGER_REFRESH_PERIOD_SEC", "BULKER_BATCH_RUNNER_WAIT_FOR_MESSAGES_SEC",
		"BULKER_BATCH_RUNNER_DEFAULT_RETRY_BATCH_FRACTION", "BULKER_METRICS_RELAY_DESTINATION", "BULKER_METRICS_RELAY_PERIOD_SEC",
		"BULKER_INSTANCE_INDEX", "BULKER_SHARDS", "BULKER_SUSPEND_CONSUMERS", "BULKER_STALE_TOPICS", "BULKER_PROMETHEUS_URL",
		"BULKER_KAFKA_SESSION_TIMEOUT_MS", "BULKER_KAFKA_MAX_POLL_INTERVAL_MS", "BULKER_KAFKA_TOPIC_SEGMENT_HOURS",
		"BULKER_KAFKA_FETCH_MESSAGE_MAX_BYTES", "BULKER_KAFKA_RETRY_TOPIC_SEGMENT_BYTES", "BULKER_KAFKA_ADMIN_METADATA_TIMEOUT_MS",
		"BULKER_KAFKA_CONSUMER_PARTITIONS_ASSIGMENT_STRATEGY", "BULKER_KAFKA_DESTINATIONS_TOPIC_NAME",
		"BULKER_KAFKA_DESTINATIONS_TOPIC_PARTITIONS":
		return true
	}
	for _, prefix := range []string{"BULKER_CLICKHOUSE_", "BULKER_PRODUCER_", "BULKER_FAILOVER_LOGGER_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// names are the variable names of environ.
func names(environ []string) []string {
	out := make([]string, len(environ))
	for i, kv := range environ {
		out[i], _, _ = strings.Cut(kv, "=")
	}
	return out
}

func reveal(ss []secret.String) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Reveal()
	}
	return out
}

func topicSafe(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
