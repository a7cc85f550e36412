// Package kafka is the only StreamForge package that speaks to Kafka: it
// turns a Config into a franz-go client (TLS, SASL), checks the connection at
// start-up with clear errors, and offers small producer, consumer and topic
// admin wrappers to the rest of the code.
package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/secret"
)

// DefaultBootstrap is where every program looks for a broker when none is
// configured: the embedded broker's default listen address.
const DefaultBootstrap = "127.0.0.1:9092"

// Security protocols, named as in Kafka's security.protocol setting.
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// SASL mechanisms.
const (
	MechPlain       = "PLAIN"
	MechScramSHA256 = "SCRAM-SHA-256"
	MechScramSHA512 = "SCRAM-SHA-512"
)

// Config is everything needed to reach a Kafka cluster.
type Config struct {
	Brokers          []string
	SecurityProtocol string // empty: derived from the other fields
	Mechanism        string // empty: SCRAM-SHA-512 when User is set
	User             string
	Password         secret.String
	CAPath           string // PEM file with the CA that signed the brokers' certificates
	CAPEM            string // PEM text, used instead of CAPath when set
	SkipVerify       bool
	// ConnectTimeout bounds how long Connect keeps retrying an unreachable
	// broker before giving up.
	ConnectTimeout time.Duration
	ClientID       string
	// MaxBatchBytes bounds a record batch the client produces (see
	// BatchBytes); zero keeps franz-go's default of about 1 MB.
	MaxBatchBytes int32
}

// EnvConfig reads the KAFKA_* variables shared by dummy-service and
// debug-producer. getenv is os.Getenv in programs and a map in tests.
func EnvConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Brokers:          SplitList(getenv("KAFKA_BOOTSTRAP_SERVERS")),
		SecurityProtocol: strings.ToUpper(strings.TrimSpace(getenv("KAFKA_SECURITY_PROTOCOL"))),
		Mechanism:        strings.ToUpper(strings.TrimSpace(getenv("KAFKA_SASL_MECHANISM"))),
		User:             getenv("KAFKA_USER"),
		Password:         secret.String(getenv("KAFKA_PASSWORD")),
		CAPath:           getenv("KAFKA_CA_PATH"),
		ConnectTimeout:   30 * time.Second,
	}
	if v := getenv("KAFKA_CONNECT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("KAFKA_CONNECT_TIMEOUT: %w", err)
		}
		c.ConnectTimeout = d
	}
	return c, c.Validate()
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Protocol returns the security protocol in force: the configured one, or
// one derived from what is set (user and CA: SASL_SSL; CA only: SSL; user
// only: SASL_PLAINTEXT; nothing: PLAINTEXT).
func (c Config) Protocol() string {
	if c.SecurityProtocol != "" {
		return c.SecurityProtocol
	}
	tlsSet := c.CAPath != "" || c.CAPEM != "" || c.SkipVerify
	switch {
	case c.User != "" && tlsSet:
		return SASLSSL
	case tlsSet:
		return SSL
	case c.User != "":
		return SASLPlaintext
	}
	return Plaintext
}

// SASLMechanism returns the mechanism in force.
func (c Config) SASLMechanism() string {
	if c.Mechanism != "" {
		return c.Mechanism
	}
	return MechScramSHA512
}

func (c Config) usesTLS() bool {
	p := c.Protocol()
	return p == SSL || p == SASLSSL
}

func (c Config) usesSASL() bool {
	p := c.Protocol()
	return p == SASLPlaintext || p == SASLSSL
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch c.Protocol() {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
	default:
		return fmt.Errorf("kafka security protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.SecurityProtocol)
	}
	if c.usesSASL() {
		switch c.SASLMechanism() {
		case MechPlain, MechScramSHA256, MechScramSHA512:
		default:
			return fmt.Errorf("kafka SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Mechanism)
		}
		if c.User == "" {
			return errors.New("kafka security protocol " + c.Protocol() + " needs a user")
		}
	}
	if c.MaxBatchBytes < 0 || c.MaxBatchBytes > maxBatchBytes {
		return fmt.Errorf("kafka max batch bytes %d: want 0 to %d", c.MaxBatchBytes, maxBatchBytes)
	}
	if c.ConnectTimeout < 0 {
		return errors.New("kafka connect timeout must not be negative")
	}
	return nil
}

// Addrs returns the bootstrap servers, or DefaultBootstrap when none is set.
func (c Config) Addrs() []string {
	if len(c.Brokers) == 0 {
		return []string{DefaultBootstrap}
	}
	return c.Brokers
}

// TLSConfig builds the client TLS configuration, or nil when TLS is off. An
// unreadable or invalid CA file is reported at once, naming the file.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.usesTLS() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.SkipVerify} //nolint:gosec // an explicit user choice
	pem, source := []byte(c.CAPEM), "the inline CA"
	if c.CAPEM == "" && c.CAPath != "" {
		b, err := os.ReadFile(c.CAPath)
		if err != nil {
			return nil, fmt.Errorf("reading kafka CA file %s: %w", c.CAPath, err)
		}
		pem, source = b, "kafka CA file "+c.CAPath
	}
	if len(pem) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", source)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
