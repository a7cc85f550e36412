package destination

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/streamforge/streamforge/internal/secret"
)

// Config is one destination, in Jitsu Bulker's JSON/YAML shape.
type Config struct {
	ID          string      `json:"id" yaml:"id"`
	Type        string      `json:"type" yaml:"type"`
	Options     Options     `json:"options" yaml:"options"`
	Credentials Credentials `json:"credentials" yaml:"credentials"`

	// Origin says where the destination was configured (a variable, a
	// file), for messages.
	Origin string `json:"-" yaml:"-"`
	// Unknown lists the keys of the document bulker does not know
	// ("options.foo"): they are named in a warning, not dropped silently.
	Unknown []string `json:"-" yaml:"-"`
	// Unsupported lists Jitsu Bulker's keys that StreamForge does not
	// implement ("options.namespace"), for a warning of their own: a
	// migrating user learns what no longer applies, not that it is a typo.
	Unsupported []string `json:"-" yaml:"-"`
}

// Options of a destination, with Jitsu Bulker's names and meaning. As in
// Jitsu, numbers and booleans may be written as strings ("500", "true"),
// and primaryKey as a list.
type Options struct {
	Mode      DeliveryMode `json:"mode" yaml:"mode"`           // batch (default) or stream
	BatchSize int          `json:"batchSize" yaml:"batchSize"` // 0: bulker's default
	Frequency float64      `json:"frequency" yaml:"frequency"` // minutes; 0: bulker's default
	// BatchSizeBytes also closes a batch once its events reach this size;
	// 0: no bound.
	BatchSizeBytes int `json:"batchSizeBytes" yaml:"batchSizeBytes"`
	// PrimaryKey is one column or a comma-separated list.
	PrimaryKey  string `json:"primaryKey" yaml:"primaryKey"`
	Deduplicate bool   `json:"deduplicate" yaml:"deduplicate"`
	// TimestampColumn is the column to index (Jitsu's name); Timestamp is
	// the name earlier versions read.
	TimestampColumn string `json:"timestampColumn" yaml:"timestampColumn"`
	Timestamp       string `json:"timestamp" yaml:"timestamp"`
	// SchemaFreeze adds no column: values of keys without one go to
	// _unmapped_data.
	SchemaFreeze bool `json:"schemaFreeze" yaml:"schemaFreeze"`
	// MaxColumnsCount caps a table's columns below the database's limit;
	// 0: the database's limit.
	MaxColumnsCount int `json:"maxColumnsCount" yaml:"maxColumnsCount"`
	// OmitNils treats a null as a missing key: it neither makes a column
	// nor overwrites a stored value.
	OmitNils bool `json:"omitNils" yaml:"omitNils"`
	// RetryFrequency is the period of the destination's retry runs, in
	// minutes: a rejected event goes back to its topic at the first run
	// after its backoff; 0: bulker's default.
	RetryFrequency float64 `json:"retryFrequency" yaml:"retryFrequency"`
	// RetryBatchSize caps the events of this destination one retry run
	// moves back; the rest wait for the next run. 0: bulker's default.
	RetryBatchSize int `json:"retryBatchSize" yaml:"retryBatchSize"`
	// PartitionID is the partition /bulk?mode=replace_partition replaces
	// when the request names none.
	PartitionID string `json:"partitionId" yaml:"partitionId"`
	// DeduplicateWindow is read so that it is known; see ParseJSON.
	DeduplicateWindow int `json:"deduplicateWindow" yaml:"deduplicateWindow"`
}

// TimestampKey is the key of the column to index, by either name.
func (o Options) TimestampKey() string {
	if o.TimestampColumn != "" {
		return o.TimestampColumn
	}
	return o.Timestamp
}

// UnmarshalJSON reads options as Jitsu writes them: numbers and booleans
// as JSON values or strings, primaryKey as a string or a list.
func (o *Options) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	t := reflect.TypeOf(*o)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		v, ok := raw[name]
		if !ok {
			continue
		}
		var s string
		switch {
		case name == "primaryKey":
			var list []string
			if json.Unmarshal(v, &list) == nil {
				b, _ := json.Marshal(strings.Join(list, ","))
				raw[name] = b
			}
		case f.Type.Kind() != reflect.String && json.Unmarshal(v, &s) == nil:
			// "500" for a number, "true" for a boolean: the literal.
			raw[name] = json.RawMessage(strings.TrimSpace(s))
		}
	}
	fixed, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	type plain Options // without this method
	if err := json.Unmarshal(fixed, (*plain)(o)); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	return nil
}

// Credentials say where the database is. For sqlite, Database is the file.
type Credentials struct {
	Host          string        `json:"host" yaml:"host"`
	Port          int           `json:"port" yaml:"port"`
	Database      string        `json:"database" yaml:"database"`
	DefaultSchema string        `json:"defaultSchema" yaml:"defaultSchema"`
	Username      string        `json:"username" yaml:"username"`
	Password      secret.String `json:"password" yaml:"password"`
	// SSLMode is Jitsu's TLS setting: disable, prefer, require, verify-ca
	// or verify-full, as in libpq; drivers map it to their own.
	SSLMode    string            `json:"sslMode" yaml:"sslMode"`
	Parameters map[string]string `json:"parameters" yaml:"parameters"`
}

// SSL modes, as libpq names them.
var sslModes = []string{"disable", "prefer", "require", "verify-ca", "verify-full"}

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
// the JSON has none (as with BULKER_DESTINATION_<ID>). Keys it does not
// know go to Config.Unknown.
func ParseJSON(data []byte, id string) (Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("destination %s: invalid JSON: %w", id, err)
	}
	if c.ID == "" {
		c.ID = id
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) == nil {
		for _, k := range unknownKeys(raw, reflect.TypeOf(c), "") {
			switch jitsuKey(k) {
			case jitsuUnsupported:
				c.Unsupported = append(c.Unsupported, k)
			case notJitsu:
				c.Unknown = append(c.Unknown, k)
			}
		}
		// Jitsu merges with the stored rows only while deduplicateWindow
		// is positive (its default is 365 days); StreamForge always does.
		var opts map[string]json.RawMessage
		if w, ok := raw["options"]; ok && json.Unmarshal(w, &opts) == nil && c.Options.Deduplicate {
			if _, set := opts["deduplicateWindow"]; set && c.Options.DeduplicateWindow <= 0 {
				c.Unsupported = append(c.Unsupported, "options.deduplicateWindow")
			}
		}
	}
	return c, c.Validate()
}

// What a key StreamForge does not read is to Jitsu Bulker.
const (
	notJitsu         = iota // unknown to Jitsu too: a typo, say
	jitsuUnsupported        // a Jitsu option StreamForge does not implement
	jitsuInert              // accepted and ignored by Jitsu itself
)

// jitsuKey classifies a key bulker does not read.
func jitsuKey(k string) int {
	switch k {
	case "defaultTableName", "logLevel",
		"options.temporaryBatchSize", "options.namespace", "options.toSameCase", "options.spreadTablesSchedule",
		"options.discriminatorField", "options.schema", "options.functionsEnv", "options.columnTypes",
		"options.disableTemporaryTables":
		return jitsuUnsupported
	case "usesBulker", "updatedAt", "special", // the envelope of Jitsu's configuration store
		// settings of Jitsu's console
		"options.functions", "options.streams", "options.dataLayout", "options.events", "options.debugTill",
		"options.hosts", "options.schedule", "options.timezone", "options.storageKey", "options.tableNamePrefix",
		"options.multithreading", "options.threadsCount", "options.keepOriginalNames", "options.addMeta",
		"options.disabled":
		return jitsuInert
	}
	return notJitsu
}

// unknownKeys lists the keys of raw that t's JSON tags do not name,
// looking into objects that map to structs; nested keys are prefixed.
func unknownKeys(raw map[string]json.RawMessage, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		ft, ok := fields[k]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		var inner map[string]json.RawMessage
		if ft.Kind() == reflect.Struct && json.Unmarshal(raw[k], &inner) == nil {
			out = append(out, unknownKeys(inner, ft, prefix+k+".")...)
		}
	}
	return out
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
	if c.Options.BatchSizeBytes < 0 || c.Options.MaxColumnsCount < 0 || c.Options.RetryBatchSize < 0 || c.Options.RetryFrequency < 0 {
		return fmt.Errorf("destination %s: options.batchSizeBytes, maxColumnsCount, retryBatchSize and retryFrequency must not be negative", c.ID)
	}
	if c.Options.Deduplicate && c.Options.PrimaryKey == "" {
		return fmt.Errorf("destination %s: options.deduplicate needs options.primaryKey", c.ID)
	}
	if p := c.Credentials.Port; p < 0 || p > 65535 {
		return fmt.Errorf("destination %s: credentials.port %d out of range", c.ID, p)
	}
	if m := c.Credentials.SSLMode; m != "" && !slices.Contains(sslModes, m) {
		return fmt.Errorf("destination %s: credentials.sslMode %q: want one of %s", c.ID, m, strings.Join(sslModes, ", "))
	}
	return nil
}

// PrimaryKeys returns the primary key columns as written in the config.
// Ingest asks for every event: without a key it allocates nothing.
func (o Options) PrimaryKeys() []string {
	var out []string
	for k := range strings.SplitSeq(o.PrimaryKey, ",") {
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
		a.Password == b.Password && a.SSLMode == b.SSLMode && maps.Equal(a.Parameters, b.Parameters)
}
