package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// TestPostLandsInKafka posts over real HTTP to the embedded broker with TLS
// and SCRAM-SHA-512 and reads the record back.
func TestPostLandsInKafka(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cl, err := kafka.Connect(ctx, b.Kafka, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e := newEnv(t, true, func(d *setup) {
		d.Producer = cl // *kafka.Client is a Producer as it is
		d.TopicPrefix = "t1."
		d.ProduceTimeout = 3 * time.Second
	})
	srv := httptest.NewServer(e.srv)
	defer srv.Close()

	post := func(body, authz string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/post/pg?tableName=events", strings.NewReader(body))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post(`{"rejected":true}`, "Bearer wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d %s", resp.StatusCode, body)
	}
	event := `{"user_id":123,"action":"test","big":123456789012345678901234567890}`
	if resp, body := post(event, "Bearer "+rawToken); resp.StatusCode != 200 || body != `{"success":true}`+"\n" {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}

	// Acknowledged means readable now: the only record is the accepted one.
	topic := "t1.in.id.pg.m.batch.t.events"
	recs, err := kafka.ReadAll(ctx, b.Kafka, quiet, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records in %s, want 1", len(recs), topic)
	}
	r := recs[0]
	if string(r.Value) != event {
		t.Errorf("record %s, want the event as sent", r.Value)
	}
	if ts, err := time.Parse(time.RFC3339Nano, r.Header(topics.HeaderReceivedAt)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("received_at %q: %v", r.Header(topics.HeaderReceivedAt), err)
	}
	es, _ := e.events.List(ctx, eventslog.Filter{})
	if len(es) != 1 || string(es[0].Body) != event {
		t.Errorf("events log %+v", es)
	}

	// With the broker gone the event is refused, not acknowledged.
	b.Close()
	resp, body := post(`{"a":1}`, "Bearer "+rawToken)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"success":false`) {
		t.Errorf("broker down: %d %s", resp.StatusCode, body)
	}
	if es, _ := e.events.List(ctx, eventslog.Filter{}); len(es) != 1 {
		t.Errorf("an unacknowledged event was logged: %+v", es)
	}
}
