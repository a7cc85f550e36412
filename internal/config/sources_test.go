package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/secret"
)

// summary renders destinations compactly for comparisons.
func summary(cs []destination.Config) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s:%s:%s;", c.ID, c.Type, c.Options.Mode)
	}
	return b.String()
}

func TestEnvSource(t *testing.T) {
	ctx := context.Background()
	cs, err := EnvSource{Environ: []string{
		"HOME=/root",
		`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"stream"},"credentials":{"password":"x"}}`,
		`BULKER_DESTINATION_LOCAL_DB={"type":"sqlite"}`,
		`BULKER_DESTINATION_X={"id":"named","type":"MySQL"}`,
		// Jitsu's documented form is hjson: unquoted keys, single quotes, a trailing comma.
		`BULKER_DESTINATION_POSTGRES={id: 'jitsu_pg', type: 'postgres', options: {mode: 'stream', batchSize: '500'}, }`,
		`BULKER_DESTINATION_EMPTY=`,
	}}.Destinations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(cs), "jitsu_pg:postgres:stream;local_db:sqlite:batch;named:mysql:batch;pg:postgres:stream;"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if cs[0].Options.BatchSize != 500 {
		t.Errorf("hjson batchSize = %d, want 500", cs[0].Options.BatchSize)
	}
	if cs[3].Credentials.Password.Reveal() != "x" {
		t.Error("password lost")
	}

	for _, c := range []struct{ kv, want string }{
		{`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"sometimes"}}`, "BULKER_DESTINATION_PG: destination pg: options.mode"},
		{`BULKER_DESTINATION_PG={"options":{}}`, "destination pg: type is required"},
		{`BULKER_DESTINATION_PG={"type":`, "BULKER_DESTINATION_PG: destination pg: invalid JSON"},
		{`BULKER_DESTINATION_BAD$ID={"type":"postgres"}`, `destination "bad$id": id must be`},
	} {
		_, err := EnvSource{Environ: []string{c.kv}}.Destinations(ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.kv, err, c.want)
		}
	}
}

func TestFileSource(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		file, want, wantErr string
	}{
		{"jitsu.yaml", "as_json:sqlite:batch;batch_postgres:postgres:batch;stream_mysql:mysql:stream;", ""},
		{"list.yaml", "local:sqlite:batch;pg:postgres:stream;", ""},
		{"list_under_key.json", "pg:postgres:batch;", ""},
		{"empty.yaml", "", ""},
		{"bad_mode.yaml", "", `destination broken: options.mode "sometimes"`},
		{"bad_port.yaml", "", "destination pg: credentials.port 70000 out of range"},
		{"duplicate.yaml", "", "destination pg is defined twice"},
		{"id_mismatch.yaml", "", `destination pg: id "other" differs from its key`},
		{"no_type.yaml", "", "destination pg: type is required"},
		{"not_destinations.yaml", "", `"destinations" key`},
		{"missing.yaml", "", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			cs, err := FileSource{Path: path}.Destinations(ctx)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), c.file) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(cs); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}

	cs, err := FileSource{Path: "testdata/jitsu.yaml"}.Destinations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pg := cs[1]
	o, cr := pg.Options, pg.Credentials
	if o.BatchSize != 10 || o.Frequency != 0.5 || o.PrimaryKey != "id" || !o.Deduplicate ||
		cr.Host != "localhost" || cr.Port != 5432 || cr.Database != "test" || cr.Username != "test" ||
		cr.Password.Reveal() != "pg-Secret-1" || cr.DefaultSchema != "bulker" || cr.Parameters["sslmode"] != "disable" {
		t.Errorf("fields lost: %+v", pg)
	}
	if cs[0].Credentials.Database != "/tmp/x.db" {
		t.Errorf("JSON string value: %+v", cs[0])
	}
}

func TestHTTPSource(t *testing.T) {
	doc, err := os.ReadFile("testdata/jitsu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/broken":
			http.Error(w, "nope", http.StatusInternalServerError)
		case r.Header.Get("Authorization") != "Bearer src-Tok":
			http.Error(w, "who are you", http.StatusUnauthorized)
		default:
			_, _ = w.Write(doc)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	cs, err := HTTPSource{URL: srv.URL + "/config", Token: "src-Tok"}.Destinations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Errorf("got %s", summary(cs))
	}
	u := strings.Replace(srv.URL, "http://", "http://user:url-Pw@", 1)
	for _, s := range []HTTPSource{
		{URL: u + "/config", Token: "wrong"},
		{URL: u + "/broken", Token: "src-Tok"},
		{URL: "http://user:url-Pw@127.0.0.1:1/config"},
	} {
		_, err := s.Destinations(ctx)
		if err == nil {
			t.Fatalf("%s: want an error", s.URL)
		}
		if strings.Contains(err.Error(), "url-Pw") || strings.Contains(err.Error(), "src-Tok") {
			t.Errorf("error %q leaks a secret", err)
		}
	}
}

func TestRedisSource(t *testing.T) {
	addr := os.Getenv("STREAMFORGE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s (STREAMFORGE_TEST_REDIS) unreachable: %v", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := "streamforge-test:" + hex.EncodeToString(b[:]) + ":destinations"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	rdb.HSet(ctx, key, "pg", `{"type":"postgres","options":{"mode":"stream"}}`, "local", `{"type":"sqlite"}`)

	c, err := Load(env(map[string]string{"BULKER_CONFIG_SOURCE": "redis://" + addr + "/0?key=" + key}))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Open(c.Sources, []string{`BULKER_DESTINATION_MY={"type":"mysql"}`})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cs, _, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(cs), "my:mysql:batch;local:sqlite:batch;pg:postgres:stream;"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	// A destination disappears and another appears on the next read.
	rdb.HDel(ctx, key, "local")
	rdb.HSet(ctx, key, "new", `{"type":"postgres"}`)
	if cs, _, err = src.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := summary(cs), "my:mysql:batch;new:postgres:batch;pg:postgres:stream;"; got != want {
		t.Errorf("after the change: got %s, want %s", got, want)
	}

	// Invalid: named by id and field; the same id twice across sources.
	rdb.HSet(ctx, key, "broken", `{"type":"postgres","options":{"batchSize":-1}}`)
	if _, _, err = src.Read(ctx); err == nil || !strings.Contains(err.Error(), "destination broken: options.batchSize") {
		t.Errorf("error %v, want destination broken named", err)
	}
	rdb.HDel(ctx, key, "broken")
	rdb.HSet(ctx, key, "my", `{"type":"postgres"}`)
	if _, _, err = src.Read(ctx); err == nil || !strings.Contains(err.Error(), "destination my is defined twice") {
		t.Errorf("error %v, want a duplicate", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	abs, err := filepath.Abs("testdata/list.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{"file://" + abs, "file://testdata/list.yaml", "testdata/list.yaml"} {
		src, err := Open(SourceConfig{URL: secret.String(source)}, []string{`BULKER_DESTINATION_PG={"type":"postgres"}`})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = src.Read(ctx)
		if err == nil || !strings.Contains(err.Error(), "destination pg is defined twice") {
			t.Errorf("%s: error %v, want the env and file pg in conflict", source, err)
		}
		src, err = Open(SourceConfig{URL: secret.String(source)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := src.Read(ctx)
		if err != nil || summary(cs) != "local:sqlite:batch;pg:postgres:stream;" {
			t.Errorf("%s: %s %v", source, summary(cs), err)
		}
	}
}

// Jitsu's layout: the hash enrichedConnections holds the connections of
// Jitsu's console; those with usesBulker true are destinations, their id is
// their field, and the envelope's keys are no warning. Without ?key= a
// redis source reads it beside StreamForge's own hash.
func TestRedisSourceReadsJitsuLayout(t *testing.T) {
	addr := os.Getenv("STREAMFORGE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	// A database of its own: Jitsu's key name is fixed, so this test must
	// not share a database with others that use it.
	const db = 14
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s (STREAMFORGE_TEST_REDIS) unreachable: %v", addr, err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), JitsuRedisKey, DefaultRedisKey) })
	rdb.HSet(ctx, JitsuRedisKey,
		"conn-pg", `{"id":"some-other-id","type":"postgres","usesBulker":true,"updatedAt":"2024-05-01T10:00:00Z","special":"",
			"options":{"mode":"stream","functions":[],"primaryKey":"id"},"credentials":{"host":"db","database":"analytics"}}`,
		"conn-webhook", `{"type":"webhook","usesBulker":false,"credentials":{"url":"https://example.com"}}`)
	rdb.HSet(ctx, DefaultRedisKey, "own", `{"type":"sqlite"}`)

	for _, tt := range []struct {
		name, source, want string
	}{
		{"both hashes", fmt.Sprintf("redis://%s/%d", addr, db), "conn-pg:postgres:stream;own:sqlite:batch;"},
		{"Jitsu's hash by name", fmt.Sprintf("redis://%s/%d?key=%s", addr, db, JitsuRedisKey), "conn-pg:postgres:stream;"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewRedisSource(tt.source)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			cs, err := src.Destinations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(cs); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			for _, c := range cs {
				if len(c.Unknown)+len(c.Unsupported) > 0 {
					t.Errorf("%s: unknown %v, unsupported %v; want Jitsu's envelope accepted quietly", c.ID, c.Unknown, c.Unsupported)
				}
			}
		})
	}
}
