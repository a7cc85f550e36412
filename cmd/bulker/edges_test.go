package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/wait"
)

// An event of exactly BULKER_MAX_EVENT_SIZE bytes is accepted, stored and
// loaded into PostgreSQL; one byte more is 413 at once. On an external
// broker the incoming topic exists beforehand with Kafka's default record
// limit, as one made by an earlier version would: bulker raises it at
// start-up. The embedded broker bulker starts takes the limit too.
func TestEventOfTheMaximumSizeLoads(t *testing.T) {
	pg, u := postgresServer(t)
	const maxEvent = 1 << 20 // the default
	event := func(size int) string {
		const head, tail = `{"id":1,"blob":"`, `"}`
		return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	}
	for _, setup := range []struct {
		name  string
		kafka func(t *testing.T) []string
	}{
		{"external broker, topic made earlier", func(t *testing.T) []string {
			k := brokertest.Start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			admin, err := kafka.Connect(ctx, k.Kafka, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			if err := admin.EnsureTopic(ctx, kafka.TopicSpec{Name: "in.id.pg.m.batch.t.big"}); err != nil {
				t.Fatal(err)
			}
			return []string{"BULKER_KAFKA_BOOTSTRAP_SERVERS=" + k.Addr(), "BULKER_KAFKA_SSL=true", "BULKER_KAFKA_SSL_CA_FILE=" + k.CAPath,
				fmt.Sprintf(`BULKER_KAFKA_SASL={"mechanism":"SCRAM-SHA-512","username":%q,"password":%q}`, brokertest.User, brokertest.Password)}
		}},
		{"embedded broker", func(t *testing.T) []string {
			return []string{"BULKER_EMBEDDED_KAFKA_ADDR=" + freeAddr(t)}
		}},
	} {
		t.Run(setup.name, func(t *testing.T) {
			schema := randomName("e2e_size_")
			t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
			creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
			b := start(t, append(setup.kafka(t), "BULKER_RAW_AUTH_TOKENS="+apiToken, "BULKER_DATA_DIR="+t.TempDir(),
				`BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"batch","frequency":0.01},"credentials":`+creds+`}`)...)
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(b.output())
				}
			})
			for _, tc := range []struct {
				size int
				want int
			}{
				{maxEvent + 1, http.StatusRequestEntityTooLarge},
				{maxEvent, http.StatusOK},
			} {
				start := time.Now()
				code, body := postExpectingContinue(t, b, "/post/pg?tableName=big", event(tc.size))
				if code != tc.want {
					t.Fatalf("POST of %d bytes: %d %s, want %d", tc.size, code, body, tc.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("POST of %d bytes answered after %s", tc.size, d)
				}
			}
			table := schema + ".big"
			wait.For(t, 30*time.Second, "the largest event loaded", func() bool { return count(pg, table) == 1 })
			if rows := queryRows(t, pg, "SELECT length(blob) FROM "+table); rows[0][0] != fmt.Sprint(maxEvent-len(`{"id":1,"blob":""}`)) {
				t.Errorf("blob of %s bytes loaded", rows[0][0])
			}
		})
	}
}

// postExpectingContinue posts body with "Expect: 100-continue", as curl
// does for large bodies: bulker refuses an oversized body before it is
// sent, and closes the connection, so a client writing it all at once may
// see a reset instead of the answer.
func postExpectingContinue(t *testing.T, b *proc, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", b.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Expect", "100-continue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// While the broker is down /post answers 503 within seconds rather than at
// the 30 s produce timeout, and /ready agrees; once the broker is back on
// the same address bulker accepts events again by itself.
func TestPostFailsFastWhileTheBrokerIsDown(t *testing.T) {
	dir := t.TempDir()
	k := brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir})
	b := start(t, "BULKER_KAFKA_BOOTSTRAP_SERVERS="+k.Addr(), "BULKER_DATA_DIR="+t.TempDir())
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	b.mustPost("local", "ff", `{"n":1}`, "")

	k.Close()
	for i := range 3 {
		start := time.Now()
		code, body := b.post("local", "ff", fmt.Sprintf(`{"n":%d}`, i+2), "")
		if d := time.Since(start); code != http.StatusServiceUnavailable || d > 5*time.Second {
			t.Fatalf("POST %d with the broker down: %d %s after %s, want 503 within 5s", i, code, body, d)
		}
	}
	if code, body := b.do("GET", "/ready", "", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, k.Addr()) {
		t.Errorf("/ready with the broker down: %d %s, want 503 naming the broker", code, body)
	}

	brokertest.StartWith(t, brokertest.Options{Plaintext: true, DataDir: dir, Addr: k.Addr()})
	wait.For(t, 20*time.Second, "/post accepts events again", func() bool {
		code, _ := b.post("local", "ff", `{"n":9}`, "")
		return code == http.StatusOK
	})
	if code, body := b.do("GET", "/ready", "", ""); code != http.StatusOK {
		t.Errorf("/ready with the broker back: %d %s", code, body)
	}
}
