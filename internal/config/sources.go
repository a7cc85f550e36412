package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/loader"
	"github.com/streamforge/streamforge/internal/secret"
)

// Source yields the configured destinations. bulker reads it at start-up
// and every BULKER_CONFIG_RELOAD_SEC, so destinations may appear and
// disappear. An invalid destination fails the whole read, naming the
// destination and the field.
type Source interface {
	Destinations(ctx context.Context) ([]destination.Config, error)
}

// DefaultRedisKey is the Redis hash of a redis:// source: field = id,
// value = the destination's JSON.
const DefaultRedisKey = "bulker:destinations"

// JitsuRedisKey is the hash Jitsu Bulker reads: field = id, value = a
// connection of Jitsu's console, a destination with "usesBulker" and
// "updatedAt" beside it. A redis:// source without ?key= reads it too.
const JitsuRedisKey = "enrichedConnections"

// maxDocument bounds a configuration fetched over HTTP.
const maxDocument = 16 << 20

// EnvSource reads BULKER_DESTINATION_<ID> variables: JSON, or the hjson of
// Jitsu's documentation (`{id: 'postgres', }`) as far as it is YAML. The id
// is <ID> lowercased unless the value has one.
type EnvSource struct{ Environ []string }

// Destinations implements Source.
func (s EnvSource) Destinations(context.Context) ([]destination.Config, error) {
	var out []destination.Config
	for _, kv := range s.Environ {
		k, v, _ := strings.Cut(kv, "=")
		id, ok := strings.CutPrefix(k, DestinationEnvPrefix)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		c, err := destination.ParseJSON(relaxed([]byte(v)), strings.ToLower(id))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		c.Origin = k
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, unique(out)
}

// relaxed turns a value that is not JSON but a YAML mapping — unquoted
// keys, single quotes, trailing commas, # comments, as Jitsu's hjson
// allows — into JSON; anything else is returned as it is, for the JSON
// parser to name the problem.
func relaxed(data []byte) []byte {
	if json.Valid(data) {
		return data
	}
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil || m == nil {
		return data
	}
	j, err := json.Marshal(m)
	if err != nil {
		return data
	}
	return j
}

// FileSource reads a YAML or JSON document (see ParseDocument).
type FileSource struct{ Path string }

// Destinations implements Source.
func (s FileSource) Destinations(ctx context.Context) ([]destination.Config, error) {
	cs, _, err := s.Document(ctx)
	return cs, err
}

// Document implements document: the file is read once.
func (s FileSource) Document(context.Context) ([]destination.Config, []loader.Source, error) {
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading destinations: %w", err)
	}
	return parseDocument(data, s.Path)
}

// HTTPSource GETs a YAML or JSON document (see ParseDocument), with a
// bearer token when Token is set.
type HTTPSource struct {
	URL    string
	Token  secret.String
	Client *http.Client // nil: a client with a 30 s timeout
}

// Destinations implements Source.
func (s HTTPSource) Destinations(ctx context.Context) ([]destination.Config, error) {
	cs, _, err := s.Document(ctx)
	return cs, err
}

// Document implements document: the document is fetched once.
func (s HTTPSource) Document(ctx context.Context) ([]destination.Config, []loader.Source, error) {
	data, err := s.fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	return parseDocument(data, redact(s.URL))
}

// fetch GETs the document.
func (s HTTPSource) fetch(ctx context.Context) ([]byte, error) {
	where := redact(s.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("config source %s: bad URL", where)
	}
	req.Header.Set("Accept", "application/yaml, application/json")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token.Reveal())
	}
	cl := s.Client
	if cl == nil {
		cl = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := cl.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // *url.Error quotes the URL, credentials included
		}
		return nil, fmt.Errorf("fetching destinations from %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching destinations from %s: HTTP %s", where, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("reading destinations from %s: %w", where, err)
	}
	if len(data) > maxDocument {
		return nil, fmt.Errorf("destinations from %s: larger than %d bytes", where, maxDocument)
	}
	return data, nil
}

// RedisSource reads Redis hashes: field = destination id, value = its
// JSON, in StreamForge's shape or as Jitsu's connections.
type RedisSource struct {
	rdb   *redis.Client
	keys  []string
	where string
}

// NewRedisSource connects lazily to redis://[user:password@]host:port/db
// (rediss:// for TLS); the query parameter key names the hash (default:
// DefaultRedisKey and JitsuRedisKey).
func NewRedisSource(rawURL string) (*RedisSource, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("bad redis URL") // the error would quote the password
	}
	q := u.Query()
	keys := []string{DefaultRedisKey, JitsuRedisKey}
	if k := q.Get("key"); k != "" {
		keys = []string{k}
	}
	q.Del("key")
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", u.Redacted(), err)
	}
	return &RedisSource{rdb: redis.NewClient(opts), keys: keys, where: u.Redacted()}, nil
}

// Destinations implements Source. A value with "usesBulker" is one of
// Jitsu's connections: skipped unless it is true, as Jitsu does, and its id
// is its field's.
func (s *RedisSource) Destinations(ctx context.Context) ([]destination.Config, error) {
	var out []destination.Config
	for _, key := range s.keys {
		where := s.where + " key " + key
		m, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return nil, fmt.Errorf("reading destinations from redis %s: %w", where, err)
		}
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			var envelope struct {
				UsesBulker *bool `json:"usesBulker"`
			}
			_ = json.Unmarshal([]byte(m[id]), &envelope) // a bad value fails below, with its reason
			var c destination.Config
			switch {
			case envelope.UsesBulker == nil:
				c, err = parseOne(m[id], id)
			case !*envelope.UsesBulker:
				continue
			default:
				c, err = jitsuConnection(m[id], id)
			}
			if err != nil {
				return nil, fmt.Errorf("redis %s: %w", where, err)
			}
			c.Origin = "redis " + where
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, unique(out)
}

// jitsuConnection reads one of Jitsu's connections: the field is its id,
// whatever id it holds.
func jitsuConnection(value, id string) (destination.Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &raw); err != nil {
		return destination.Config{}, fmt.Errorf("destination %s: invalid JSON: %w", id, err)
	}
	delete(raw, "id")
	b, err := json.Marshal(raw)
	if err != nil {
		return destination.Config{}, fmt.Errorf("destination %s: %w", id, err)
	}
	return destination.ParseJSON(b, id)
}

// withOrigin sets the Origin of each destination.
func withOrigin(cs []destination.Config, origin string) []destination.Config {
	for i := range cs {
		cs[i].Origin = origin
	}
	return cs
}

// Close closes the Redis client.
func (s *RedisSource) Close() error { return s.rdb.Close() }

// Sources is every configured source; ids must be unique across them.
type Sources struct {
	environ []string // for BULKER_SOURCE_* variables
	list    []Source
	closers []io.Closer
	desc    []string
}

// Open builds the sources of c: the BULKER_DESTINATION_* variables of
// environ, then BULKER_CONFIG_SOURCE when set. Close releases them.
func Open(c SourceConfig, environ []string) (*Sources, error) {
	s := &Sources{environ: environ, list: []Source{EnvSource{Environ: environ}}, desc: []string{"env " + DestinationEnvPrefix + "*"}}
	if c.URL == "" {
		return s, nil
	}
	raw, u, err := c.url()
	if err != nil {
		return nil, fmt.Errorf("BULKER_CONFIG_SOURCE: %w", err)
	}
	switch u.Scheme {
	case "file":
		s.list = append(s.list, FileSource{Path: u.Host + u.Path})
	case "http", "https":
		s.list = append(s.list, HTTPSource{URL: raw, Token: c.Token})
	case "redis", "rediss":
		r, err := NewRedisSource(raw)
		if err != nil {
			return nil, fmt.Errorf("BULKER_CONFIG_SOURCE: %w", err)
		}
		s.list = append(s.list, r)
		s.closers = append(s.closers, r)
	}
	s.desc = append(s.desc, redact(raw))
	return s, nil
}

// String describes the sources without credentials, for logs.
func (s *Sources) String() string { return strings.Join(s.desc, ", ") }

// Close releases the sources' connections.
func (s *Sources) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// url is the source's URL: "redis", as in Jitsu, is BULKER_REDIS_URL's.
func (c SourceConfig) url() (raw string, u *url.URL, err error) {
	raw = c.URL.Reveal()
	if raw == "redis" {
		if c.RedisURL == "" {
			return "", nil, errors.New("redis needs BULKER_REDIS_URL")
		}
		raw = c.RedisURL.Reveal()
	}
	u, err = parseSourceURL(raw)
	return raw, u, err
}

// parseSourceURL checks BULKER_CONFIG_SOURCE. A value without a scheme is
// a file path.
func parseSourceURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		return &url.URL{Scheme: "file", Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL") // the error would quote credentials
	}
	switch u.Scheme {
	case "file":
		if u.Host+u.Path == "" {
			return nil, errors.New("file:// needs a path")
		}
	case "http", "https", "redis", "rediss":
		if u.Host == "" {
			return nil, fmt.Errorf("%s:// needs a host", u.Scheme)
		}
	default:
		return nil, fmt.Errorf("scheme %q: want file://, http(s):// or redis(s)://", u.Scheme)
	}
	return u, nil
}

// redact hides the password of a URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery = "" // may carry a token
	return u.Redacted()
}
