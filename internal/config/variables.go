package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/secret"
	"github.com/streamforge/streamforge/internal/topics"
)

// variable is one BULKER_* variable: its name, its default (parsed like a
// value when the variable is unset or empty), what the README says of it,
// and where its value goes. A variable without set is documented here but
// read elsewhere.
type variable struct {
	name string
	def  string
	// docDefault is the README's default when def does not say it, as
	// for defaults computed at start-up.
	docDefault string
	doc        string
	// aliases are other names of the variable, Jitsu Bulker's where they
	// differ from StreamForge's.
	aliases []string
	// fallbacks are variables read when no name of this one is set, as
	// Jitsu Bulker reads PORT and REDIS_URL.
	fallbacks []string
	set       func(c *Config, s *settings, raw string) error
}

// variables is every variable bulker reads, in the README's order.
var variables = []variable{
	{name: "BULKER_HTTP_HOST", docDefault: "`127.0.0.1` without tokens, else `0.0.0.0`", doc: "listen address",
		set: text(func(c *Config) *string { return &c.HTTP.Host })},
	{name: "BULKER_HTTP_PORT", def: "3042", fallbacks: []string{"PORT"}, docDefault: "`PORT`, else `3042`", doc: "listen port",
		set: integer(func(c *Config) *int { return &c.HTTP.Port })},
	{name: "BULKER_HTTP_READ_HEADER_TIMEOUT_SEC", def: "10", doc: "how long a client may take to send a request's headers; a slower one is disconnected",
		set: seconds(func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout })},
	{name: "BULKER_HTTP_READ_TIMEOUT_SEC", def: "60", doc: "how long a client may take to send a whole request, headers and body (but a `/bulk` body); a body not in by then is answered 408 and the connection closed",
		set: seconds(func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout })},
	{name: "BULKER_HTTP_BULK_READ_TIMEOUT_SEC", def: "600", doc: "how long a client may take to send a `/bulk` body, counted from the end of its headers; then 408",
		set: seconds(func(c *Config) *time.Duration { return &c.Ingest.BulkReadTimeout })},
	{name: "BULKER_HTTP_IDLE_TIMEOUT_SEC", def: "120", doc: "how long a kept-alive connection may wait for its next request",
		set: seconds(func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout })},
	{name: "BULKER_METRICS_PORT", def: "0", docDefault: "— (the API port only)", doc: "also serve `/metrics` (with `/healthz` and `/readyz`) on this port of `BULKER_HTTP_HOST`, as Jitsu does (its default is 9091); the API port keeps `/metrics` too; `0`: none",
		set: integer(func(c *Config) *int { return &c.MetricsPort })},
	{name: "BULKER_MAX_EVENT_SIZE", def: "1048576", doc: "max bytes of a `/post` body and of each `/bulk` line; Kafka's record limits follow it (see Sizes)",
		set: byteCount(func(c *Config) *int64 { return &c.Ingest.MaxEventSize })},
	{name: "BULKER_MAX_BULK_SIZE", def: "268435456", doc: "max bytes of a `/bulk` body",
		set: byteCount(func(c *Config) *int64 { return &c.Ingest.MaxBulkSize })},
	{name: "BULKER_DATA_DIR", def: "./data", doc: "embedded broker data (`kafka/`) and the `local` SQLite database (`local.db`)",
		set: text(func(c *Config) *string { return &c.DataDir })},
	{name: "BULKER_EMBEDDED_KAFKA_ADDR", def: kafka.DefaultBootstrap, doc: "without `BULKER_KAFKA_BOOTSTRAP_SERVERS`: join the broker there, or start the embedded one there",
		set: text(func(c *Config) *string { return &c.EmbeddedKafkaAddr })},
	{name: "BULKER_INSTANCE_ID", docDefault: "hostname", doc: "instance name: Kafka client id `bulker-<id>`, and static member id in the consumer groups, so that a restart takes the place of the crashed instance at once; unique per replica",
		set: text(func(c *Config) *string { return &c.InstanceID })},
	{name: "BULKER_LOG_LEVEL", def: "info", doc: "`debug`, `info`, `warn`, `error`",
		set: func(c *Config, _ *settings, raw string) error {
			if err := c.LogLevel.UnmarshalText([]byte(raw)); err != nil {
				return fmt.Errorf("%q: want debug, info, warn or error", raw)
			}
			return nil
		}},
	{name: "BULKER_LOG_FORMAT", def: "json", doc: "`json` (one object per line) or `text` (Jitsu's default)",
		set: func(c *Config, _ *settings, raw string) error {
			if raw != "json" && raw != "text" {
				return fmt.Errorf("%q: want json or text", raw)
			}
			c.LogFormat = raw
			return nil
		}},
	{name: "BULKER_SHUTDOWN_TIMEOUT_SEC", def: "10", doc: "bound on graceful shutdown (stop HTTP, load and commit batches in hand, close)",
		set: seconds(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{name: "BULKER_SHUTDOWN_EXTRA_DELAY_SEC", def: "0", doc: "after that, keep `BULKER_METRICS_PORT` serving this long, for a last scrape (Jitsu's default is 5)",
		set: seconds(func(c *Config) *time.Duration { return &c.ShutdownExtraDelay })},
	{name: "BULKER_PPROF_ADDR", doc: "serve Go's profiler (`/debug/pprof/`) on this address, apart from the API; for diagnosis, on loopback (`127.0.0.1:6060`); heap profiles are sampled only when it is set",
		set: text(func(c *Config) *string { return &c.PprofAddr })},
	{name: "BULKER_GC_HEAP_FLOOR_MB", def: "24", doc: "least heap goal of the Go collector, in MiB: while `GOGC=100` would collect sooner (a live heap of a few MiB), bulker raises GOGC so the heap grows to this first; fewer collections under load, for less CPU and a steadier tail, at up to this much heap (`/metrics`: `go_gc_gogc_percent`, `go_gc_gomemlimit_bytes`); `0` turns it off, and a `GOGC` variable takes precedence",
		set: integer(func(c *Config) *int { return &c.GCHeapFloorMB })},
	{name: "BULKER_KAFKA_BOOTSTRAP_SERVERS", docDefault: "— (embedded broker)", doc: "comma-separated `host:port` list",
		set: func(c *Config, _ *settings, raw string) error { c.Kafka.Brokers = kafka.SplitList(raw); return nil }},
	{name: "BULKER_KAFKA_SSL", doc: "`true`: TLS; `false`: no TLS; unset: TLS when a CA is given",
		set: func(_ *Config, s *settings, raw string) error {
			if raw == "" {
				return nil
			}
			b, err := parseBool(raw)
			s.kafkaSSL = &b
			return err
		}},
	{name: "BULKER_KAFKA_SSL_CA", doc: "CA certificate as PEM text",
		set: text(func(c *Config) *string { return &c.Kafka.CAPEM })},
	{name: "BULKER_KAFKA_SSL_CA_FILE", doc: "CA certificate file (PEM)",
		set: text(func(c *Config) *string { return &c.Kafka.CAPath })},
	{name: "BULKER_KAFKA_SSL_SKIP_VERIFY", def: "false", doc: "skip verifying the broker's certificate",
		set: func(c *Config, _ *settings, raw string) (err error) {
			c.Kafka.SkipVerify, err = parseBool(raw)
			return err
		}},
	{name: "BULKER_KAFKA_SASL", doc: "`{\"mechanism\":\"SCRAM-SHA-512\\|SCRAM-SHA-256\\|PLAIN\",\"username\":\"…\",\"password\":\"…\"}`",
		set: func(c *Config, _ *settings, raw string) error { return saslJSON(&c.Kafka, raw) }},
	{name: "BULKER_KAFKA_SECURITY_PROTOCOL", docDefault: "derived", doc: "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`",
		set: func(c *Config, _ *settings, raw string) error {
			c.Kafka.SecurityProtocol = strings.ToUpper(raw)
			return nil
		}},
	{name: "BULKER_KAFKA_CONNECT_TIMEOUT_SEC", def: "30", doc: "how long start-up retries an unreachable broker",
		set: seconds(func(c *Config) *time.Duration { return &c.Kafka.ConnectTimeout })},
	{name: "BULKER_KAFKA_TOPIC_PREFIX", doc: "prefix of every topic",
		set: text(func(c *Config) *string { return &c.TopicPrefix })},
	{name: "BULKER_KAFKA_TOPIC_PARTITIONS", def: "1", doc: "partitions of the incoming topics bulker creates: up to this many replicas share a table's loading (see [Scaling](#scaling)); existing topics keep theirs",
		set: func(c *Config, _ *settings, raw string) error {
			n, err := parseInt(raw)
			if err == nil && (n < math.MinInt32 || n > math.MaxInt32) {
				err = fmt.Errorf("%q is out of range", raw)
			}
			c.Topics.Partitions = int32(n)
			return err
		}},
	{name: "BULKER_KAFKA_TOPIC_COMPRESSION", def: "snappy", doc: "codec of the records bulker produces: `none`, `gzip`, `snappy`, `lz4`, `zstd`",
		set: text(func(c *Config) *string { return &c.Kafka.Compression })},
	{name: "BULKER_KAFKA_TOPIC_RETENTION_HOURS", def: "48", doc: "retention of created topics",
		set: duration(time.Hour, func(c *Config) *time.Duration { return &c.Topics.Retention })},
	{name: "BULKER_KAFKA_TOPIC_REPLICATION_FACTOR", def: "1", doc: "replication factor of created topics",
		set: func(c *Config, _ *settings, raw string) error {
			n, err := parseInt(raw)
			if err == nil && (n < math.MinInt16 || n > math.MaxInt16) {
				err = fmt.Errorf("%q is out of range", raw)
			}
			c.Topics.ReplicationFactor = int16(n)
			return err
		}},
	{name: "BULKER_KAFKA_RETRY_TOPIC_RETENTION_HOURS", def: "48", doc: "retention of the retry topic, when bulker creates it",
		set: duration(time.Hour, func(c *Config) *time.Duration { return &c.RetryTopicRetention })},
	{name: "BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS", def: "168", doc: "retention of the dead-letter topic, when bulker creates it",
		set: duration(time.Hour, func(c *Config) *time.Duration { return &c.DeadTopicRetention })},
	{name: "BULKER_KAFKA_DESTINATIONS_RETRY_TOPIC_NAME", def: topics.Retry(""), doc: "the retry topic (after `BULKER_KAFKA_TOPIC_PREFIX`); accepted for Jitsu's configurations, with this value only",
		set: fixed(topics.Retry(""))},
	{name: "BULKER_KAFKA_DESTINATIONS_DEAD_LETTER_TOPIC_NAME", def: topics.Dead(""), doc: "the dead-letter topic, likewise",
		set: fixed(topics.Dead(""))},
	{name: "BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC", def: "300", doc: "batch period of destinations without `frequency`",
		set: seconds(func(c *Config) *time.Duration { return &c.Loader.BatchPeriod })},
	{name: "BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE", def: "10000", doc: "batch size of destinations without `batchSize`",
		set: integer(func(c *Config) *int { return &c.Loader.BatchSize })},
	{name: "BULKER_MESSAGES_RETRY_COUNT", def: "5", doc: "retries of a rejected event before the dead-letter topic",
		set: integer(func(c *Config) *int { return &c.Loader.Retry.Attempts })},
	{name: "BULKER_MESSAGES_RETRY_BACKOFF_BASE", def: "5", doc: "retry *n* waits base^n minutes…",
		set: number(func(c *Config) *float64 { return &c.Loader.Retry.Base })},
	{name: "BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY", def: "1440", doc: "…at most this many minutes",
		set: number(func(c *Config) *float64 { return &c.Loader.Retry.MaxDelay })},
	{name: "BULKER_BATCH_RUNNER_DEFAULT_RETRY_PERIOD_SEC", def: "0", docDefault: "— (each event at its own time)", doc: "retry runs of destinations without `retryFrequency` come this often: a rejected event goes back to its topic at the first run after its backoff (Jitsu's default is 300)",
		set: seconds(func(c *Config) *time.Duration { return &c.Loader.RetryPeriod })},
	{name: "BULKER_RETRY_CONSUMER_BATCH_SIZE", def: "0", docDefault: "— (no cap)", doc: "events of one destination a retry run moves back, for destinations without `retryBatchSize`; the rest wait for the next run (with a retry period only)",
		set: integer(func(c *Config) *int { return &c.Loader.RetryBatchSize })},
	{name: "BULKER_REDIS_URL", fallbacks: []string{"REDIS_URL"}, docDefault: "`REDIS_URL`", doc: "`redis://[user:pass@]host:port/db`: the Redis of the events log (unless `BULKER_EVENTS_LOG_REDIS_URL` names another) and of `BULKER_CONFIG_SOURCE=redis`",
		set: secretText(func(c *Config) *secret.String { return &c.RedisURL })},
	{name: "BULKER_EVENTS_LOG_REDIS_URL", docDefault: "`BULKER_REDIS_URL`", doc: "keep the events log in this Redis (shared by instances, persistent); without either, in memory",
		set: secretText(func(c *Config) *secret.String { return &c.EventsLog.RedisURL })},
	{name: "BULKER_EVENTS_LOG_MAX_SIZE", def: "1000", doc: "events kept per destination in the events log, and as many failures (`failed`, `dead`, `warning`, `replayed`) apart",
		set: integer(func(c *Config) *int { return &c.EventsLog.MaxSize })},
	{name: "BULKER_ENABLE_CONSUMERS", def: "true", doc: "`false`: serve the API only, running no loaders and no retry consumer (Jitsu's split of ingest and loading instances)",
		set: func(c *Config, _ *settings, raw string) (err error) {
			c.EnableConsumers, err = parseBool(raw)
			return err
		}},
	{name: "BULKER_RAW_AUTH_TOKENS", doc: "comma-separated raw API tokens",
		set: secrets(func(c *Config) *[]secret.String { return &c.Auth.RawTokens })},
	{name: "BULKER_AUTH_TOKENS", doc: "comma-separated `salt.hash` tokens (raw ones without a dot)",
		set: secrets(func(c *Config) *[]secret.String { return &c.Auth.HashedTokens })},
	{name: "BULKER_TOKEN_SECRET", doc: "secret(s) of the hashed tokens, comma-separated",
		set: secrets(func(c *Config) *[]secret.String { return &c.Auth.Secrets })},
	{name: DestinationEnvPrefix + "<ID>", doc: "one destination as JSON, or as the hjson of Jitsu's documentation (`{id: 'pg', type: 'postgres', }`) as far as it is YAML; its id is `<ID>` lower-cased unless the value has an `id`, and `<ID>` as written (Jitsu keeps its case) finds it too"},
	{name: SourceEnvPrefix + "<ID>", doc: "one Kafka topic to load into a table, as JSON `{\"topic\",\"destination\",\"table\",\"mode\",\"group\"}` ([Sources](#kafka-topics-as-sources)); its id is `<ID>` lower-cased unless the JSON has an `id`"},
	{name: "BULKER_CONFIG_SOURCE", doc: "more destinations: `file://path.yaml`, `http(s)://…` (GET, YAML or JSON), `redis://host:port/db` or `redis` (`BULKER_REDIS_URL`): Jitsu's hash `enrichedConnections` and StreamForge's `bulker:destinations`, or the hash `?key=` names (see [Destinations](#destinations))",
		set: secretText(func(c *Config) *secret.String { return &c.Sources.URL })},
	{name: "BULKER_CONFIG_SOURCE_TOKEN", aliases: []string{"BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN"}, doc: "bearer token sent to an http(s) config source",
		set: secretText(func(c *Config) *secret.String { return &c.Sources.Token })},
	{name: "BULKER_CONFIG_RELOAD_SEC", aliases: []string{"BULKER_CONFIG_REFRESH_PERIOD_SEC"}, def: "60", doc: "how often destinations are re-read; they may appear, change or disappear",
		set: seconds(func(c *Config) *time.Duration { return &c.Sources.ReloadPeriod })},
}

// Setters by the field's type. A setter gets the value or the default,
// trimmed; "" means neither is set.

type setter = func(c *Config, s *settings, raw string) error

func text(field func(*Config) *string) setter {
	return func(c *Config, _ *settings, raw string) error { *field(c) = raw; return nil }
}

func secretText(field func(*Config) *secret.String) setter {
	return func(c *Config, _ *settings, raw string) error { *field(c) = secret.String(raw); return nil }
}

func secrets(field func(*Config) *[]secret.String) setter {
	return func(c *Config, _ *settings, raw string) error {
		var out []secret.String
		for _, p := range kafka.SplitList(raw) {
			out = append(out, secret.String(p))
		}
		*field(c) = out
		return nil
	}
}

// fixed accepts only want: a setting StreamForge does not vary, which a
// Jitsu configuration may still spell out.
func fixed(want string) setter {
	return func(_ *Config, _ *settings, raw string) error {
		if raw != want {
			return fmt.Errorf("%q: StreamForge uses %q only", raw, want)
		}
		return nil
	}
}

func integer(field func(*Config) *int) setter {
	return func(c *Config, _ *settings, raw string) (err error) { *field(c), err = parseInt(raw); return err }
}

func byteCount(field func(*Config) *int64) setter {
	return func(c *Config, _ *settings, raw string) error {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer number of bytes", raw)
		}
		*field(c) = n
		return nil
	}
}

func number(field func(*Config) *float64) setter {
	return func(c *Config, _ *settings, raw string) (err error) { *field(c), err = parseFloat(raw); return err }
}

// duration reads a number of units, such as seconds or hours.
func duration(unit time.Duration, field func(*Config) *time.Duration) setter {
	return func(c *Config, _ *settings, raw string) error {
		f, err := parseFloat(raw)
		*field(c) = time.Duration(f * float64(unit))
		return err
	}
}

func seconds(field func(*Config) *time.Duration) setter { return duration(time.Second, field) }

func parseInt(raw string) (int, error) {
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", raw)
	}
	return n, nil
}

func parseFloat(raw string) (float64, error) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1e15 { // absurd values too
		return 0, fmt.Errorf("%q is not a number", raw)
	}
	return f, nil
}

func parseBool(raw string) (bool, error) {
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%q: want true or false", raw)
	}
	return b, nil
}

// saslJSON reads BULKER_KAFKA_SASL, as in Jitsu.
func saslJSON(k *kafka.Config, raw string) error {
	if raw == "" {
		return nil
	}
	var s struct {
		Mechanism string        `json:"mechanism"`
		Username  string        `json:"username"`
		Password  secret.String `json:"password"`
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return fmt.Errorf("want a JSON object {\"mechanism\",\"username\",\"password\"}: %s", jsonProblem(err))
	}
	if s.Username == "" {
		return errors.New("username is required")
	}
	k.Mechanism, k.User, k.Password = strings.ToUpper(s.Mechanism), s.Username, s.Password
	return nil
}

// jsonProblem describes a JSON error without quoting the input, which may
// hold a password.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type.Kind())
	}
	return "not valid JSON"
}

// Documented returns the README's configuration table for the variables,
// one Markdown row each.
func Documented() []string {
	rows := make([]string, len(variables))
	for i, v := range variables {
		def := v.docDefault
		switch {
		case def != "":
		case v.def != "":
			def = "`" + v.def + "`"
		default:
			def = "—"
		}
		name := "`" + v.name + "`"
		for _, a := range v.aliases {
			name += " or `" + a + "`"
		}
		rows[i] = fmt.Sprintf("| %s | %s | %s |", name, def, v.doc)
	}
	return rows
}
