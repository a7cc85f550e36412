package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/auth"
	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTPHost", c.HTTP.Host, "127.0.0.1"},
		{"HTTPPort", c.HTTP.Port, 3042},
		{"Addr", c.HTTP.Addr(), "127.0.0.1:3042"},
		{"ReadHeaderTimeout", c.HTTP.ReadHeaderTimeout, 10 * time.Second},
		{"ReadTimeout", c.HTTP.ReadTimeout, time.Minute},
		{"BulkReadTimeout", c.Ingest.BulkReadTimeout, 10 * time.Minute},
		{"IdleTimeout", c.HTTP.IdleTimeout, 2 * time.Minute},
		{"MaxEventSize", c.Ingest.MaxEventSize, int64(1 << 20)},
		{"MaxBulkSize", c.Ingest.MaxBulkSize, int64(256 << 20)},
		{"DataDir", c.DataDir, "./data"},
		{"InstanceID", c.InstanceID, host},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"ShutdownTimeout", c.ShutdownTimeout, 10 * time.Second},
		{"GCHeapFloorMB", c.GCHeapFloorMB, 24},
		{"EmbeddedKafka", c.EmbeddedKafka, true},
		{"Kafka.Protocol", c.Kafka.Protocol(), kafka.Plaintext},
		{"Kafka.Addrs", fmt.Sprint(c.Kafka.Addrs()), "[" + kafka.DefaultBootstrap + "]"},
		{"Kafka.ConnectTimeout", c.Kafka.ConnectTimeout, 30 * time.Second},
		{"TopicPrefix", c.TopicPrefix, ""},
		{"TopicRetention", c.Topics.Retention, 48 * time.Hour},
		{"TopicReplicationFactor", c.Topics.ReplicationFactor, int16(1)},
		{"TopicPartitions", c.Topics.Partitions, int32(1)},
		{"BatchPeriod", c.Loader.BatchPeriod, 300 * time.Second},
		{"BatchSize", c.Loader.BatchSize, 10000},
		{"RetryCount", c.Loader.Retry.Attempts, 5},
		{"RetryBackoffBase", c.Loader.Retry.Base, 5.0},
		{"RetryBackoffMaxDelay", c.Loader.Retry.MaxDelay, 1440.0},
		{"RedisURL", c.EventsLog.RedisURL.Reveal(), ""},
		{"EventsLogMaxSize", c.EventsLog.MaxSize, 1000},
		{"ConfigSource", c.Sources.URL.Reveal(), ""},
		{"ConfigReloadPeriod", c.Sources.ReloadPeriod, time.Minute},
		{"EnableConsumers", c.EnableConsumers, true},
		{"LogFormat", c.LogFormat, "json"},
		{"MetricsPort", c.MetricsPort, 0},
		{"Kafka.Compression", c.Kafka.Compression, "snappy"},
		{"DeadTopicRetention", c.DeadTopicRetention, 168 * time.Hour},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	tok, err := c.Auth.Tokens()
	if err != nil || tok.Enabled() {
		t.Errorf("Tokens: enabled=%v err=%v, want auth off", tok.Enabled(), err)
	}
}

func TestEveryVariable(t *testing.T) {
	dir := t.TempDir()
	caPEM, _ := brokertest.NewCA(t, dir)
	hashed := "salt." + auth.Hash("tok2", "salt", "sec")
	c, err := Load(env(map[string]string{
		"BULKER_HTTP_HOST":                        "10.1.2.3",
		"BULKER_HTTP_PORT":                        "8080",
		"BULKER_HTTP_READ_HEADER_TIMEOUT_SEC":     "2",
		"BULKER_HTTP_READ_TIMEOUT_SEC":            "0.5",
		"BULKER_HTTP_BULK_READ_TIMEOUT_SEC":       "30",
		"BULKER_HTTP_IDLE_TIMEOUT_SEC":            "5",
		"BULKER_MAX_EVENT_SIZE":                   "2048",
		"BULKER_MAX_BULK_SIZE":                    "4096",
		"BULKER_DATA_DIR":                         "/var/lib/bulker",
		"BULKER_EMBEDDED_KAFKA_ADDR":              "127.0.0.1:19092",
		"BULKER_INSTANCE_ID":                      "bulker-1",
		"BULKER_LOG_LEVEL":                        "debug",
		"BULKER_SHUTDOWN_TIMEOUT_SEC":             "2.5",
		"BULKER_KAFKA_BOOTSTRAP_SERVERS":          "k1:9093, k2:9093",
		"BULKER_KAFKA_SSL":                        "true",
		"BULKER_KAFKA_SSL_CA":                     string(caPEM),
		"BULKER_KAFKA_SSL_CA_FILE":                filepath.Join(dir, "server.crt"),
		"BULKER_KAFKA_SSL_SKIP_VERIFY":            "true",
		"BULKER_KAFKA_SASL":                       `{"mechanism":"scram-sha-256","username":"u","password":"kafka-Secret-2"}`,
		"BULKER_KAFKA_CONNECT_TIMEOUT_SEC":        "7",
		"BULKER_KAFKA_TOPIC_PREFIX":               "prod.",
		"BULKER_KAFKA_TOPIC_RETENTION_HOURS":      "24",
		"BULKER_KAFKA_TOPIC_REPLICATION_FACTOR":   "3",
		"BULKER_KAFKA_TOPIC_PARTITIONS":           "6",
		"BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC":  "60",
		"BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE":  "500",
		"BULKER_MESSAGES_RETRY_COUNT":             "0",
		"BULKER_MESSAGES_RETRY_BACKOFF_BASE":      "2",
		"BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY": "30",
		"BULKER_REDIS_URL":                        "redis://:redis-Secret-3@127.0.0.1:6379/0",
		"BULKER_EVENTS_LOG_MAX_SIZE":              "50",
		"BULKER_RAW_AUTH_TOKENS":                  "tok1, tok3",
		"BULKER_AUTH_TOKENS":                      hashed,
		"BULKER_TOKEN_SECRET":                     "sec",
		"BULKER_CONFIG_SOURCE":                    "file://" + filepath.Join(dir, "x.yaml"),
		"BULKER_CONFIG_SOURCE_TOKEN":              "src-Secret-4",
		"BULKER_CONFIG_RELOAD_SEC":                "5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.HTTP.Addr(), "10.1.2.3:8080"},
		{"ReadHeaderTimeout", c.HTTP.ReadHeaderTimeout, 2 * time.Second},
		{"ReadTimeout", c.HTTP.ReadTimeout, 500 * time.Millisecond},
		{"BulkReadTimeout", c.Ingest.BulkReadTimeout, 30 * time.Second},
		{"IdleTimeout", c.HTTP.IdleTimeout, 5 * time.Second},
		{"MaxEventSize", c.Ingest.MaxEventSize, int64(2048)},
		{"KafkaMaxBatchBytes", c.Kafka.MaxBatchBytes, int32(2048 + kafka.RecordOverhead)},
		{"TopicMaxMessageBytes", c.Topics.MaxMessageBytes, int32(2048 + kafka.RecordOverhead)},
		{"MaxBulkSize", c.Ingest.MaxBulkSize, int64(4096)},
		{"DataDir", c.DataDir, "/var/lib/bulker"},
		{"EmbeddedKafkaAddr", c.EmbeddedKafkaAddr, "127.0.0.1:19092"},
		{"InstanceID", c.InstanceID, "bulker-1"},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
		{"ShutdownTimeout", c.ShutdownTimeout, 2500 * time.Millisecond},
		{"EmbeddedKafka", c.EmbeddedKafka, false},
		{"Kafka.Brokers", fmt.Sprint(c.Kafka.Brokers), "[k1:9093 k2:9093]"},
		{"Kafka.Protocol", c.Kafka.Protocol(), kafka.SASLSSL},
		{"Kafka.Mechanism", c.Kafka.SASLMechanism(), kafka.MechScramSHA256},
		{"Kafka.User", c.Kafka.User, "u"},
		{"Kafka.Password", c.Kafka.Password.Reveal(), "kafka-Secret-2"},
		{"Kafka.CAPEM", c.Kafka.CAPEM, strings.TrimSpace(string(caPEM))},
		{"Kafka.CAPath", c.Kafka.CAPath, filepath.Join(dir, "server.crt")},
		{"Kafka.SkipVerify", c.Kafka.SkipVerify, true},
		{"Kafka.ConnectTimeout", c.Kafka.ConnectTimeout, 7 * time.Second},
		{"Kafka.ClientID", c.Kafka.ClientID, "bulker-bulker-1"},
		{"TopicPrefix", c.TopicPrefix, "prod."},
		{"TopicRetention", c.Topics.Retention, 24 * time.Hour},
		{"TopicReplicationFactor", c.Topics.ReplicationFactor, int16(3)},
		{"TopicPartitions", c.Topics.Partitions, int32(6)},
		{"BatchPeriod", c.Loader.BatchPeriod, time.Minute},
		{"BatchSize", c.Loader.BatchSize, 500},
		{"RetryCount", c.Loader.Retry.Attempts, 0},
		{"RetryBackoffBase", c.Loader.Retry.Base, 2.0},
		{"RetryBackoffMaxDelay", c.Loader.Retry.MaxDelay, 30.0},
		{"RedisURL", c.EventsLog.RedisURL.Reveal(), "redis://:redis-Secret-3@127.0.0.1:6379/0"},
		{"EventsLogMaxSize", c.EventsLog.MaxSize, 50},
		{"ConfigSourceToken", c.Sources.Token.Reveal(), "src-Secret-4"},
		{"ConfigReloadPeriod", c.Sources.ReloadPeriod, 5 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	tok, err := c.Auth.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]bool{"tok1": true, "tok2": true, "tok3": true, "tok4": false, hashed: false} {
		if tok.Check(token) != want {
			t.Errorf("Check(%q) = %v, want %v", token, !want, want)
		}
	}
}

func TestHTTPHostFollowsAuth(t *testing.T) {
	for _, v := range []string{"BULKER_RAW_AUTH_TOKENS", "BULKER_AUTH_TOKENS"} {
		c, err := Load(env(map[string]string{v: "t"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTP.Host != "0.0.0.0" {
			t.Errorf("%s set: HTTPHost = %s, want 0.0.0.0", v, c.HTTP.Host)
		}
	}
}

func TestKafkaSSLSwitch(t *testing.T) {
	sasl := `{"mechanism":"PLAIN","username":"u","password":"p"}`
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"BULKER_KAFKA_SSL": "true"}, kafka.SSL},
		{map[string]string{"BULKER_KAFKA_SSL": "false"}, kafka.Plaintext},
		{map[string]string{"BULKER_KAFKA_SASL": sasl}, kafka.SASLPlaintext},
		{map[string]string{"BULKER_KAFKA_SASL": sasl, "BULKER_KAFKA_SSL": "true"}, kafka.SASLSSL},
		{map[string]string{"BULKER_KAFKA_SASL": sasl, "BULKER_KAFKA_SSL": "false"}, kafka.SASLPlaintext},
		{map[string]string{"BULKER_KAFKA_SASL": sasl, "BULKER_KAFKA_SECURITY_PROTOCOL": "sasl_ssl"}, kafka.SASLSSL},
	}
	for _, c := range cases {
		cfg, err := Load(env(c.vars))
		if err != nil {
			t.Fatalf("%v: %v", c.vars, err)
		}
		if got := cfg.Kafka.Protocol(); got != c.want {
			t.Errorf("%v: protocol %s, want %s", c.vars, got, c.want)
		}
	}
}

func TestInvalidNamesVariable(t *testing.T) {
	const pw = "Hidden-Pa55"
	cases := []struct {
		name, value string
	}{
		{"BULKER_HTTP_PORT", "http"},
		{"BULKER_HTTP_PORT", "70000"},
		{"BULKER_HTTP_PORT", "0"},
		{"BULKER_HTTP_HOST", "http://x"},
		{"BULKER_HTTP_READ_HEADER_TIMEOUT_SEC", "0"},
		{"BULKER_HTTP_READ_TIMEOUT_SEC", "-1"},
		{"BULKER_HTTP_BULK_READ_TIMEOUT_SEC", "ten"},
		{"BULKER_HTTP_IDLE_TIMEOUT_SEC", "0"},
		{"BULKER_MAX_EVENT_SIZE", "1MB"},
		{"BULKER_MAX_EVENT_SIZE", "0"},
		{"BULKER_MAX_EVENT_SIZE", "1073741824"}, // no Kafka record holds it
		{"BULKER_MAX_BULK_SIZE", "-1"},
		{"BULKER_LOG_LEVEL", "loud"},
		{"BULKER_SHUTDOWN_TIMEOUT_SEC", "0"},
		{"BULKER_SHUTDOWN_TIMEOUT_SEC", "NaN"},
		{"BULKER_GC_HEAP_FLOOR_MB", "-1"},
		{"BULKER_GC_HEAP_FLOOR_MB", "24MB"},
		{"BULKER_GC_HEAP_FLOOR_MB", "2000000"},
		{"BULKER_KAFKA_SSL", "yes please"},
		{"BULKER_KAFKA_SSL_SKIP_VERIFY", "maybe"},
		{"BULKER_KAFKA_SASL", `{"mechanism":"PLAIN","username":"u","password":"` + pw},
		{"BULKER_KAFKA_SASL", `{"mechanism":"PLAIN","username":"u","password":` + "12345" + `}`},
		{"BULKER_KAFKA_SASL", `{"password":"` + pw + `"}`},
		{"BULKER_KAFKA_SASL", `{"mechanism":"GSSAPI","username":"u","password":"` + pw + `"}`},
		{"BULKER_KAFKA_SECURITY_PROTOCOL", "TLS"},
		{"BULKER_KAFKA_SSL_CA", "not a certificate"},
		{"BULKER_KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem"},
		{"BULKER_KAFKA_CONNECT_TIMEOUT_SEC", "-1"},
		{"BULKER_KAFKA_TOPIC_PREFIX", "bad prefix/"},
		{"BULKER_KAFKA_TOPIC_RETENTION_HOURS", "0"},
		{"BULKER_KAFKA_TOPIC_REPLICATION_FACTOR", "0"},
		{"BULKER_KAFKA_TOPIC_PARTITIONS", "0"},
		{"BULKER_KAFKA_TOPIC_PARTITIONS", "many"},
		{"BULKER_BATCH_RUNNER_DEFAULT_PERIOD_SEC", "-5"},
		{"BULKER_BATCH_RUNNER_DEFAULT_BATCH_SIZE", "0"},
		{"BULKER_MESSAGES_RETRY_COUNT", "-1"},
		{"BULKER_MESSAGES_RETRY_BACKOFF_BASE", "0.5"},
		{"BULKER_MESSAGES_RETRY_BACKOFF_MAX_DELAY", "0"},
		{"BULKER_REDIS_URL", "http://:" + pw + "@host"},
		{"BULKER_REDIS_URL", "redis://:" + pw + "@host:port"},
		{"BULKER_EVENTS_LOG_MAX_SIZE", "0"},
		{"BULKER_AUTH_TOKENS", "salt.not-a-hash-" + pw},
		{"BULKER_CONFIG_SOURCE", "ftp://:" + pw + "@host/x.yaml"},
		{"BULKER_CONFIG_SOURCE", "redis://:" + pw + "@%zz"},
		{"BULKER_CONFIG_RELOAD_SEC", "0"},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{c.name: c.value}))
			if err == nil {
				t.Fatal("want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.name) {
				t.Errorf("error %q does not name %s", msg, c.name)
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "12345") {
				t.Errorf("error %q shows the secret", msg)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"kafka-Pw-1", "redis-Pw-2", "raw-Tok-3", "hash-Tok-4", "tok-Secret-5", "src-Pw-6", "src-Tok-7"}
	c, err := Load(env(map[string]string{
		"BULKER_KAFKA_SASL":          `{"username":"u","password":"` + secrets[0] + `"}`,
		"BULKER_REDIS_URL":           "redis://:" + secrets[1] + "@127.0.0.1:6379",
		"BULKER_RAW_AUTH_TOKENS":     secrets[2],
		"BULKER_AUTH_TOKENS":         secrets[3],
		"BULKER_TOKEN_SECRET":        secrets[4],
		"BULKER_CONFIG_SOURCE":       "redis://:" + secrets[5] + "@127.0.0.1:6379",
		"BULKER_CONFIG_SOURCE_TOKEN": secrets[6],
	}))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Open(c.Sources, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(js), src.String()} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %s printed in %s", s, out)
			}
		}
	}
}

func TestUnknown(t *testing.T) {
	got := Unknown([]string{"BULKER_HTTP_PORT=1", "BULKER_HTTP_PROT=1", "BULKER_DESTINATION_PG={}", "HOME=/root", "BULKER_TOKEN_SECRET=",
		// Kubernetes' links to a Service named bulker.
		"BULKER_PORT=tcp://10.0.0.7:3042", "BULKER_PORT_3042_TCP_ADDR=10.0.0.7", "BULKER_SERVICE_HOST=10.0.0.7", "BULKER_SERVICE_PORT=3042"})
	if fmt.Sprint(got) != "[BULKER_HTTP_PROT]" {
		t.Errorf("Unknown = %v", got)
	}
}

// A Jitsu Bulker environment loads as it is: Jitsu's names of StreamForge's
// settings, its variables StreamForge adds, and the ones without a meaning
// here are named as ignored, not as unknown.
func TestJitsuEnvironment(t *testing.T) {
	jitsu := map[string]string{
		"BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN":             "cfg-token",
		"BULKER_CONFIG_REFRESH_PERIOD_SEC":                 "5",
		"BULKER_CONFIG_SOURCE":                             "redis",
		"BULKER_REDIS_URL":                                 "redis://127.0.0.1:6379/2",
		"BULKER_EVENTS_LOG_REDIS_URL":                      "redis://127.0.0.1:6379/3",
		"BULKER_METRICS_PORT":                              "9091",
		"BULKER_LOG_FORMAT":                                "text",
		"BULKER_SHUTDOWN_EXTRA_DELAY_SEC":                  "5",
		"BULKER_KAFKA_TOPIC_COMPRESSION":                   "zstd",
		"BULKER_BATCH_RUNNER_DEFAULT_RETRY_PERIOD_SEC":     "300",
		"BULKER_RETRY_CONSUMER_BATCH_SIZE":                 "10000",
		"BULKER_KAFKA_DESTINATIONS_DEAD_LETTER_TOPIC_NAME": "destination-messages-dead-letter",
		"BULKER_INSTANCE_ID":                               "env://POD_NAME",
		"POD_NAME":                                         "bulker-7f9",
		"BULKER_SHARDS":                                    "1",
		"BULKER_FAILOVER_LOGGER_ENABLED":                   "false",
		"BULKER_ENABLE_CONSUMERS":                          "false",
		"BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS":          "24",
	}
	c, err := Load(env(jitsu))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct {
		name      string
		got, want any
	}{
		{"Sources.Token", c.Sources.Token.Reveal(), "cfg-token"},
		{"Sources.ReloadPeriod", c.Sources.ReloadPeriod, 5 * time.Second},
		{"Sources.RedisURL", c.Sources.RedisURL.Reveal(), "redis://127.0.0.1:6379/2"},
		{"EventsLog.RedisURL", c.EventsLog.RedisURL.Reveal(), "redis://127.0.0.1:6379/3"},
		{"MetricsPort", c.MetricsPort, 9091},
		{"LogFormat", c.LogFormat, "text"},
		{"ShutdownExtraDelay", c.ShutdownExtraDelay, 5 * time.Second},
		{"Kafka.Compression", c.Kafka.Compression, "zstd"},
		{"Loader.RetryPeriod", c.Loader.RetryPeriod, 5 * time.Minute},
		{"Loader.RetryBatchSize", c.Loader.RetryBatchSize, 10000},
		{"InstanceID", c.InstanceID, "bulker-7f9"},
		{"EnableConsumers", c.EnableConsumers, false},
		{"DeadTopicRetention", c.DeadTopicRetention, 24 * time.Hour},
		{"RetryTopicRetention", c.RetryTopicRetention, 48 * time.Hour},
	} {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	var environ []string
	for k, v := range jitsu {
		environ = append(environ, k+"="+v)
	}
	if u := Unknown(environ); len(u) != 0 {
		t.Errorf("Unknown = %v, want none: Jitsu's names are known or ignored", u)
	}
	if ig := Ignored(environ); len(ig) != 2 || !slices.Contains(ig, "BULKER_SHARDS") || !slices.Contains(ig, "BULKER_FAILOVER_LOGGER_ENABLED") {
		t.Errorf("Ignored = %v, want BULKER_SHARDS and BULKER_FAILOVER_LOGGER_ENABLED", ig)
	}
	// PORT and REDIS_URL count when no BULKER_ name is set, as in Jitsu.
	c, err = Load(env(map[string]string{"PORT": "8080", "REDIS_URL": "redis://127.0.0.1:6379/4"}))
	if err != nil || c.HTTP.Port != 8080 || c.EventsLog.RedisURL.Reveal() != "redis://127.0.0.1:6379/4" {
		t.Errorf("port %d, events log Redis %q (%v); want PORT's and REDIS_URL's", c.HTTP.Port, c.EventsLog.RedisURL.Reveal(), err)
	}
	c, err = Load(env(map[string]string{"PORT": "8080", "BULKER_HTTP_PORT": "9000"}))
	if err != nil || c.HTTP.Port != 9000 {
		t.Errorf("port %d (%v); want BULKER_HTTP_PORT's over PORT's", c.HTTP.Port, err)
	}
	// The events log falls back to BULKER_REDIS_URL, as in Jitsu.
	c, err = Load(env(map[string]string{"BULKER_REDIS_URL": "redis://127.0.0.1:6379/2"}))
	if err != nil || c.EventsLog.RedisURL.Reveal() != "redis://127.0.0.1:6379/2" {
		t.Errorf("events log Redis = %q (%v), want BULKER_REDIS_URL's", c.EventsLog.RedisURL.Reveal(), err)
	}
}

// Both names of a setting may be set when they agree; set differently, the
// error names both and shows neither value.
func TestAliasesAgreeOrFail(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"StreamForge's name", map[string]string{"BULKER_CONFIG_SOURCE_TOKEN": "a"}, ""},
		{"Jitsu's name", map[string]string{"BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN": "a"}, ""},
		{"both, equal", map[string]string{"BULKER_CONFIG_SOURCE_TOKEN": "a", "BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN": "a"}, ""},
		{"both, different", map[string]string{"BULKER_CONFIG_SOURCE_TOKEN": "Hidden-Pa55", "BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN": "b"},
			"BULKER_CONFIG_SOURCE_TOKEN and BULKER_CONFIG_SOURCE_HTTP_AUTH_TOKEN"},
		{"bad value under Jitsu's name", map[string]string{"BULKER_CONFIG_REFRESH_PERIOD_SEC": "soon"}, "BULKER_CONFIG_REFRESH_PERIOD_SEC"},
		{"unknown codec", map[string]string{"BULKER_KAFKA_TOPIC_COMPRESSION": "brotli"}, "compression"},
		{"bad log format", map[string]string{"BULKER_LOG_FORMAT": "xml"}, "BULKER_LOG_FORMAT"},
		{"metrics on the API port", map[string]string{"BULKER_METRICS_PORT": "3042"}, "BULKER_METRICS_PORT"},
		{"another dead-letter topic", map[string]string{"BULKER_KAFKA_DESTINATIONS_DEAD_LETTER_TOPIC_NAME": "dlq"}, "BULKER_KAFKA_DESTINATIONS_DEAD_LETTER_TOPIC_NAME"},
		{"redis source without a Redis", map[string]string{"BULKER_CONFIG_SOURCE": "redis"}, "BULKER_REDIS_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if tt.wantErr == "" {
				if err != nil || c.Sources.Token.Reveal() != "a" {
					t.Fatalf("token %q, err %v; want a", c.Sources.Token.Reveal(), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "Hidden-Pa55") {
				t.Fatalf("err = %v, want one naming %q without the secret", err, tt.wantErr)
			}
		})
	}
}
