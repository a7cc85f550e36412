package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/secret"
)

// parser reads variables and keeps the first error, so Load reads like a
// list of defaults.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(name+": "+format, args...)
	}
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) int(name string, def int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, "%q is not an integer", v)
		return def
	}
	return n
}

func (p *parser) int64(name string, def int64) int64 {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(name, "%q is not an integer number of bytes", v)
		return def
	}
	return n
}

func (p *parser) float(name string, def float64) float64 {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f || f > 1e15 || f < -1e15 { // NaN and absurd values too
		p.fail(name, "%q is not a number", v)
		return def
	}
	return f
}

func (p *parser) seconds(name string, def float64) time.Duration {
	return time.Duration(p.float(name, def) * float64(time.Second))
}

func (p *parser) bool(name string) (value, set bool) {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "%q: want true or false", v)
	}
	return b, true
}

// saslJSON is BULKER_KAFKA_SASL, as in Jitsu.
type saslJSON struct {
	Mechanism string        `json:"mechanism"`
	Username  string        `json:"username"`
	Password  secret.String `json:"password"`
}

func (p *parser) kafka() kafka.Config {
	c := kafka.Config{
		Brokers:          kafka.SplitList(p.getenv("BULKER_KAFKA_BOOTSTRAP_SERVERS")),
		SecurityProtocol: strings.ToUpper(p.str("BULKER_KAFKA_SECURITY_PROTOCOL", "")),
		CAPEM:            strings.TrimSpace(p.getenv("BULKER_KAFKA_SSL_CA")),
		CAPath:           p.str("BULKER_KAFKA_SSL_CA_FILE", ""),
		ConnectTimeout:   p.seconds("BULKER_KAFKA_CONNECT_TIMEOUT_SEC", 30),
	}
	c.SkipVerify, _ = p.bool("BULKER_KAFKA_SSL_SKIP_VERIFY")
	if v := strings.TrimSpace(p.getenv("BULKER_KAFKA_SASL")); v != "" {
		var s saslJSON
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			p.fail("BULKER_KAFKA_SASL", "want a JSON object {\"mechanism\",\"username\",\"password\"}: %s", jsonProblem(err))
		} else if s.Username == "" {
			p.fail("BULKER_KAFKA_SASL", "username is required")
		}
		c.Mechanism, c.User, c.Password = strings.ToUpper(s.Mechanism), s.Username, s.Password
	}
	ssl, sslSet := p.bool("BULKER_KAFKA_SSL")
	if c.SecurityProtocol == "" && sslSet {
		// Jitsu's switch; without it the protocol follows from what is set.
		switch {
		case ssl && c.User != "":
			c.SecurityProtocol = kafka.SASLSSL
		case ssl:
			c.SecurityProtocol = kafka.SSL
		case c.User != "":
			c.SecurityProtocol = kafka.SASLPlaintext
		default:
			c.SecurityProtocol = kafka.Plaintext
		}
	}
	return c
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
