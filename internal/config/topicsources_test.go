package config

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamforge/streamforge/internal/secret"
)

func TestTopicSources(t *testing.T) {
	const doc = `
destinations:
  pg: {type: postgres, credentials: {database: x}}
sources:
  - id: events
    topic: queue-events
    destination: pg
    table: queue_events
  - {id: orders, topic: orders, destination: pg, table: orders, mode: stream, group: g1}
`
	tests := []struct {
		name    string
		environ []string
		doc     string
		want    string // id:topic:dest:table:mode:group; …
		err     string
	}{
		{name: "env", environ: []string{`BULKER_SOURCE_Q={"topic":"queue-events","destination":"pg","table":"queue_events"}`, "BULKER_SOURCE_EMPTY="},
			want: "q:queue-events:pg:queue_events::bulker-source-q;"},
		{name: "env id", environ: []string{`BULKER_SOURCE_Q={"id":"named","topic":"t","destination":"pg","table":"x","mode":"batch"}`},
			want: "named:t:pg:x:batch:bulker-source-named;"},
		{name: "document", doc: doc,
			want: "events:queue-events:pg:queue_events::bulker-source-events;orders:orders:pg:orders:stream:g1;"},
		{name: "document map by id", doc: "sources:\n  q: {topic: t, destination: pg, table: x}\n",
			want: "q:t:pg:x::bulker-source-q;"},
		{name: "destinations only", doc: "destinations:\n  pg: {type: postgres, credentials: {database: x}}\n", want: ""},
		{name: "bare list of destinations", doc: "- {id: pg, type: postgres, credentials: {database: x}}\n", want: ""},
		{name: "unknown key", environ: []string{`BULKER_SOURCE_Q={"topic":"t","destination":"pg","tabel":"x"}`},
			err: `BULKER_SOURCE_Q: source q: json: unknown field "tabel"`},
		{name: "id differs from key", doc: "sources:\n  q: {id: r, topic: t, destination: pg, table: x}\n",
			err: `id "r" differs`},
		{name: "twice", environ: []string{`BULKER_SOURCE_Q={"topic":"t","destination":"pg","table":"x"}`},
			doc: "sources:\n  - {id: q, topic: u, destination: pg, table: y}\n", err: "source q is defined twice"},
		{name: "one group for two sources", doc: "sources:\n  - {id: a, topic: t, destination: pg, table: x, group: g}\n  - {id: b, topic: t, destination: pg, table: y, group: g}\n",
			err: "sources a and b use the same consumer group g"},
		{name: "not a list", doc: "sources: 3\n", err: "sources: want a list or a map by id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := SourceConfig{}
			if tt.doc != "" {
				path := filepath.Join(t.TempDir(), "bulker.yaml")
				if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
					t.Fatal(err)
				}
				c.URL = secret.String("file://" + path)
			}
			s, err := Open(c, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			_, got, err := s.Read(context.Background())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, s := range got {
				fmt.Fprintf(&b, "%s:%s:%s:%s:%s:%s;", s.ID, s.Topic, s.Destination, s.Table, s.Mode, s.GroupName())
			}
			if b.String() != tt.want {
				t.Errorf("sources = %s, want %s", b.String(), tt.want)
			}
		})
	}
}

// An http(s) document lists sources as a file does; one read fetches it
// once, so destinations and sources come from one version of it.
func TestTopicSourcesOverHTTP(t *testing.T) {
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		_, _ = w.Write([]byte(`{"destinations":{"pg":{"type":"postgres","credentials":{"database":"x"}}},"sources":[{"id":"q","topic":"t","destination":"pg","table":"x"}]}`))
	}))
	defer srv.Close()
	s, err := Open(SourceConfig{URL: secret.String(srv.URL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, got, err := s.Read(context.Background())
	if err != nil || len(got) != 1 || got[0].Topic != "t" || len(cs) != 1 || cs[0].ID != "pg" {
		t.Fatalf("destinations %+v, sources %+v, %v", cs, got, err)
	}
	if n := fetched.Load(); n != 1 {
		t.Errorf("the document was fetched %d times for one read", n)
	}
}

func TestUnknownIgnoresSources(t *testing.T) {
	if u := Unknown([]string{`BULKER_SOURCE_Q={}`, "BULKER_SOURCE=1"}); len(u) != 1 || u[0] != "BULKER_SOURCE" {
		t.Errorf("Unknown = %v, want only BULKER_SOURCE", u)
	}
}
