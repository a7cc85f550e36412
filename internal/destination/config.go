package destination

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/streamforge/streamforge/internal/secret"
)

// Config is one destination, in Jitsu Bulker's JSON/YAML shape.
type Config struct {
	ID          string      `json:"id" yaml:"id"`
	Type        string      `json:"type" yaml:"type"`
	Options     Options     `json:"options" yaml:"options"`
	Credentials Credentials `json:"credentials" yaml:"credentials"`
}

// Options of a destination (Jitsu names).
type Options struct {
	Mode      DeliveryMode `json:"mode" yaml:"mode"`           // batch (default) or stream
	BatchSize int          `json:"batchSize" yaml:"batchSize"` // 0: bulker's default
	Frequency float64      `json:"frequency" yaml:"frequency"` // minutes; 0: bulker's default
	// PrimaryKey is one column or a comma-separated list.
	PrimaryKey  string `json:"primaryKey" yaml:"primaryKey"`
	Deduplicate bool   `json:"deduplicate" yaml:"deduplicate"`
	Timestamp   string `json:"timestamp" yaml:"timestamp"`
}

// Credentials say where the database is. For sqlite, Database is the file.
type Credentials struct {
	Host          string            `json:"host" yaml:"host"`
	Port          int               `json:"port" yaml:"port"`
	Database      string            `json:"database" yaml:"database"`
	DefaultSchema string            `json:"defaultSchema" yaml:"defaultSchema"`
	Username      string            `json:"username" yaml:"username"`
	Password      secret.String     `json:"password" yaml:"password"`
	Parameters    map[string]string `json:"parameters" yaml:"parameters"`
}

// DeliveryMode is how events reach a destination's tables: collected into
// batches, or streamed as they arrive. It names the incoming topic too.
type DeliveryMode string

// Delivery modes.
const (
	Batch  DeliveryMode = "batch"
	Stream DeliveryMode = "stream"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseJSON reads one destination from JSON; id, when not empty, is used if
// the JSON has none (as with BULKER_DESTINATION_<ID>).
func ParseJSON(data []byte, id string) (Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("destination %s: invalid JSON: %w", id, err)
	}
	if c.ID == "" {
		c.ID = id
	}
	return c, c.Validate()
}

// Validate names the destination and the bad field.
func (c *Config) Validate() error {
	if !idPattern.MatchString(c.ID) {
		return fmt.Errorf("destination %q: id must be 1-64 letters, digits, '_' or '-'", c.ID)
	}
	c.Type = strings.ToLower(c.Type)
	if c.Type == "" {
		return fmt.Errorf("destination %s: type is required", c.ID)
	}
	switch c.Options.Mode {
	case "":
		c.Options.Mode = Batch
	case Batch, Stream:
	default:
		return fmt.Errorf("destination %s: options.mode %q: want batch or stream", c.ID, c.Options.Mode)
	}
	if c.Options.BatchSize < 0 {
		return fmt.Errorf("destination %s: options.batchSize must not be negative", c.ID)
	}
	if c.Options.Frequency < 0 {
		return fmt.Errorf("destination %s: options.frequency must not be negative", c.ID)
	}
	if c.Options.Deduplicate && c.Options.PrimaryKey == "" {
		return fmt.Errorf("destination %s: options.deduplicate needs options.primaryKey", c.ID)
	}
	if p := c.Credentials.Port; p < 0 || p > 65535 {
		return fmt.Errorf("destination %s: credentials.port %d out of range", c.ID, p)
	}
	return nil
}

// PrimaryKeys returns the primary key columns as written in the config.
func (o Options) PrimaryKeys() []string {
	var out []string
	for _, k := range strings.Split(o.PrimaryKey, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// Equal reports whether two configurations describe the same destination
// with the same settings, so a running loader or connection can be kept.
func (c Config) Equal(o Config) bool {
	a, b := c.Credentials, o.Credentials
	return c.ID == o.ID && c.Type == o.Type && c.Options == o.Options &&
		a.Host == b.Host && a.Port == b.Port && a.Database == b.Database &&
		a.DefaultSchema == b.DefaultSchema && a.Username == b.Username &&
		a.Password == b.Password && maps.Equal(a.Parameters, b.Parameters)
}
