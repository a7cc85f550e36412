// Package config reads bulker's configuration: the BULKER_* environment
// variables (Jitsu Bulker's names where Jitsu has one) and the destinations,
// from BULKER_DESTINATION_<ID> variables and BULKER_CONFIG_SOURCE (a YAML
// file, an HTTP(S) URL or a Redis hash).
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
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/secret"
)

// Config is bulker's process configuration. Secrets are secret.String, so
// printing or logging a Config shows "***" in their place.
type Config struct {
	HTTPHost string // BULKER_HTTP_HOST
	HTTPPort int    // BULKER_HTTP_PORT
	// MaxEventSize bounds the body of /post and each line of /bulk.
	MaxEventSize int64 // BULKER_MAX_EVENT_SIZE, bytes
	MaxBulkSize  int64 // BULKER_MAX_BULK_SIZE, bytes: the whole /bulk body
	DataDir      string
	InstanceID   string
	LogLevel     slog.Level
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
	// PprofAddr, when set, serves Go's profiler (net/http/pprof) there,
	// apart from the API: for diagnosis, on a loopback address.
	PprofAddr string // BULKER_PPROF_ADDR

	// Kafka reaches the cluster; with no BULKER_KAFKA_BOOTSTRAP_SERVERS
	// EmbeddedKafka is true and bulker runs the embedded broker on
	// EmbeddedKafkaAddr (or joins the one already there).
	Kafka                  kafka.Config
	EmbeddedKafka          bool
	EmbeddedKafkaAddr      string // BULKER_EMBEDDED_KAFKA_ADDR
	TopicPrefix            string
	TopicRetention         time.Duration
	TopicReplicationFactor int

	BatchPeriod time.Duration // default for destinations without options.frequency
	BatchSize   int           // default for destinations without options.batchSize
	// A failed event is retried RetryCount times, the n-th retry after
	// min(RetryBackoffBase^n minutes, RetryBackoffMaxDelay), then
	// dead-lettered.
	RetryCount           int
	RetryBackoffBase     float64
	RetryBackoffMaxDelay time.Duration

	// RedisURL, when set, keeps the events log in Redis.
	RedisURL         secret.String
	EventsLogMaxSize int

	RawAuthTokens []secret.String
	AuthTokens    []secret.String // salt.hash, or raw when without a dot
	TokenSecrets  []secret.String

	// ConfigSource is file://…, http(s)://… or redis://…; it may hold
	// credentials, so it is a secret (see SourceDescription).
	ConfigSource       secret.String
	ConfigSourceToken  secret.String // bearer token for an http(s) source
	ConfigReloadPeriod time.Duration
}

// Variables lists every variable Load reads, for the documentation and
// Unknown.
var Variables = []string{
	"BULKER_HTTP_HOST", "BULKER_HTTP_PORT", "BULKER_MAX_EVENT_SIZE", "BULKER_MAX_BULK_SIZE",
	"BULKER_DATA_DIR", "BULKER_EMBEDDED_KAFKA_ADDR", "BULKER_INSTANCE_ID", "BULKER_LOG_LEVEL", "BULKER_SHUTDOWN_TIMEOUT_SEC", "BULKER_PPROF_ADDR",
	"BULKER_KAFKA_BOOTSTRAP_SERVERS", "BULKER_KAFKA_SSL", "BULKER_KAFKA_SSL_CA", "BULKER_KAFKA_SSL_CA_FILE",
	"BULKER_KAFKA_SSL_SKIP_VERIFY", "BULKER_KAFKA_SASL", "BULKER_KAFKA_SECURITY_PROTOCOL",
	"BULKER_KAFKA_CONNECT_TIMEOUT_SEC", "BULKER_KAFKA_TOPIC_PREFIX", "BULKER_KAFKA_TOPIC_RETENTION_HOURS",
	"BULKER_KAFKA_TOPIC_REPLICATION_FACTOR", "BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC",
	"BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE", "BULKER_MESSAGES_RETRY_COUNT",
	"BULKER_MESSAGES_RETRY_BACKOFF_BASE", "BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY",
	"BULKER_REDIS_URL", "BULKER_EVENTS_LOG_MAX_SIZE", "BULKER_RAW_AUTH_TOKENS", "BULKER_AUTH_TOKENS",
	"BULKER_TOKEN_SECRET", "BULKER_CONFIG_SOURCE", "BULKER_CONFIG_SOURCE_TOKEN", "BULKER_CONFIG_RELOAD_SEC",
}

// DestinationEnvPrefix starts the variables that each hold one destination.
const DestinationEnvPrefix = "BULKER_DESTINATION_"

// Load reads the configuration; getenv is os.Getenv in the program and a
// map in tests. Errors name the variable and never show a secret's value.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		HTTPPort:        p.int("BULKER_HTTP_PORT", 3042),
		MaxEventSize:    p.int64("BULKER_MAX_EVENT_SIZE", 1<<20),
		MaxBulkSize:     p.int64("BULKER_MAX_BULK_SIZE", 256<<20),
		DataDir:         p.str("BULKER_DATA_DIR", "./data"),
		InstanceID:      p.str("BULKER_INSTANCE_ID", ""),
		ShutdownTimeout: p.seconds("BULKER_SHUTDOWN_TIMEOUT_SEC", 10),
		PprofAddr:       p.str("BULKER_PPROF_ADDR", ""),

		TopicPrefix:            p.str("BULKER_KAFKA_TOPIC_PREFIX", ""),
		TopicRetention:         time.Duration(p.float("BULKER_KAFKA_TOPIC_RETENTION_HOURS", 48) * float64(time.Hour)),
		TopicReplicationFactor: p.int("BULKER_KAFKA_TOPIC_REPLICATION_FACTOR", 1),

		BatchPeriod:          p.seconds("BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC", 300),
		BatchSize:            p.int("BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE", 10000),
		RetryCount:           p.int("BULKER_MESSAGES_RETRY_COUNT", 5),
		RetryBackoffBase:     p.float("BULKER_MESSAGES_RETRY_BACKOFF_BASE", 5),
		RetryBackoffMaxDelay: time.Duration(p.float("BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY", 1440) * float64(time.Minute)),

		RedisURL:         secret.String(p.str("BULKER_REDIS_URL", "")),
		EventsLogMaxSize: p.int("BULKER_EVENTS_LOG_MAX_SIZE", 1000),

		RawAuthTokens: secretList(getenv("BULKER_RAW_AUTH_TOKENS")),
		AuthTokens:    secretList(getenv("BULKER_AUTH_TOKENS")),
		TokenSecrets:  secretList(getenv("BULKER_TOKEN_SECRET")),

		ConfigSource:       secret.String(strings.TrimSpace(getenv("BULKER_CONFIG_SOURCE"))),
		ConfigSourceToken:  secret.String(strings.TrimSpace(getenv("BULKER_CONFIG_SOURCE_TOKEN"))),
		ConfigReloadPeriod: p.seconds("BULKER_CONFIG_RELOAD_SEC", 60),
	}
	if v := strings.TrimSpace(getenv("BULKER_LOG_LEVEL")); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			p.fail("BULKER_LOG_LEVEL", "%q: want debug, info, warn or error", v)
		}
	}
	if c.InstanceID == "" {
		c.InstanceID, _ = os.Hostname()
	}
	c.Kafka = p.kafka()
	c.EmbeddedKafka = len(c.Kafka.Brokers) == 0
	c.EmbeddedKafkaAddr = p.str("BULKER_EMBEDDED_KAFKA_ADDR", kafka.DefaultBootstrap)
	c.Kafka.ClientID = "bulker-" + c.InstanceID
	c.HTTPHost = p.str("BULKER_HTTP_HOST", "")
	if c.HTTPHost == "" {
		// An open API only listens locally unless told otherwise.
		c.HTTPHost = "127.0.0.1"
		if len(c.RawAuthTokens)+len(c.AuthTokens) > 0 {
			c.HTTPHost = "0.0.0.0"
		}
	}
	if p.err != nil {
		return c, p.err
	}
	return c, c.Validate()
}

// Validate names the variable of the first bad value.
func (c Config) Validate() error {
	switch {
	case c.HTTPPort < 1 || c.HTTPPort > 65535:
		return fmt.Errorf("BULKER_HTTP_PORT: %d is not a TCP port", c.HTTPPort)
	case c.MaxEventSize < 1:
		return errors.New("BULKER_MAX_EVENT_SIZE must be positive")
	case c.MaxBulkSize < 1:
		return errors.New("BULKER_MAX_BULK_SIZE must be positive")
	case c.DataDir == "":
		return errors.New("BULKER_DATA_DIR must not be empty")
	case c.ShutdownTimeout <= 0:
		return errors.New("BULKER_SHUTDOWN_TIMEOUT_SEC must be positive")
	case c.TopicRetention <= 0:
		return errors.New("BULKER_KAFKA_TOPIC_RETENTION_HOURS must be positive")
	case c.TopicReplicationFactor < 1:
		return errors.New("BULKER_KAFKA_TOPIC_REPLICATION_FACTOR must be at least 1")
	case c.BatchPeriod <= 0:
		return errors.New("BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC must be positive")
	case c.BatchSize < 1:
		return errors.New("BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE must be at least 1")
	case c.RetryCount < 0:
		return errors.New("BULKER_MESSAGES_RETRY_COUNT must not be negative")
	case c.RetryBackoffBase < 1:
		return errors.New("BULKER_MESSAGES_RETRY_BACKOFF_BASE must be at least 1")
	case c.RetryBackoffMaxDelay <= 0:
		return errors.New("BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY must be positive")
	case c.EventsLogMaxSize < 1:
		return errors.New("BULKER_EVENTS_LOG_MAX_SIZE must be at least 1")
	case c.Kafka.ConnectTimeout <= 0:
		return errors.New("BULKER_KAFKA_CONNECT_TIMEOUT_SEC must be positive")
	case c.ConfigReloadPeriod <= 0:
		return errors.New("BULKER_CONFIG_RELOAD_SEC must be positive")
	case net.ParseIP(c.HTTPHost) == nil && strings.ContainsAny(c.HTTPHost, ":/ "):
		return fmt.Errorf("BULKER_HTTP_HOST: %q is not a host name or IP address", c.HTTPHost)
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
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL.Reveal()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			// url.Parse errors quote the URL, password included.
			return errors.New("BULKER_REDIS_URL: want redis://[user:password@]host:port[/db] or rediss://…")
		}
	}
	if _, err := c.Tokens(); err != nil {
		return fmt.Errorf("BULKER_AUTH_TOKENS: %w", err)
	}
	if c.ConfigSource != "" {
		if _, err := parseSourceURL(c.ConfigSource.Reveal()); err != nil {
			return fmt.Errorf("BULKER_CONFIG_SOURCE: %w", err)
		}
	}
	return nil
}

// Addr is the HTTP listen address.
func (c Config) Addr() string { return net.JoinHostPort(c.HTTPHost, strconv.Itoa(c.HTTPPort)) }

// Tokens builds the API token set; Enabled is false when none is set.
func (c Config) Tokens() (*auth.Tokens, error) {
	return auth.New(reveal(c.RawAuthTokens), reveal(c.AuthTokens), c.TokenSecrets)
}

// Unknown returns the BULKER_* variables of environ that Load does not
// know, so a typo can be reported instead of silently ignored.
func Unknown(environ []string) []string {
	known := make(map[string]bool, len(Variables))
	for _, v := range Variables {
		known[v] = true
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BULKER_") && !known[k] && !strings.HasPrefix(k, DestinationEnvPrefix) {
			out = append(out, k)
		}
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

func secretList(s string) []secret.String {
	var out []secret.String
	for _, p := range kafka.SplitList(s) {
		out = append(out, secret.String(p))
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
