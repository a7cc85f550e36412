package bulker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/topics"
)

// The retry and dead-letter topics get their own retention when bulker
// creates them (a week for dead letters, as in Jitsu); one that exists
// keeps its own, and the log says so.
func TestFailureTopicsRetention(t *testing.T) {
	k := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := k.Client(t)
	for _, tt := range []struct {
		name           string
		existing       time.Duration // retention of a dead-letter topic made before; 0: none
		wantDead       time.Duration
		wantLogMention string
	}{
		{"created by bulker", 0, 168 * time.Hour, ""},
		{"made by Jitsu before", 24 * time.Hour, 24 * time.Hour, "BULKER_KAFKA_DEAD_TOPIC_RETENTION_HOURS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) string {
				return map[string]string{"BULKER_KAFKA_TOPIC_PREFIX": "ft-" + strings.ReplaceAll(tt.name, " ", "-") + "."}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.existing > 0 {
				if err := client.EnsureTopic(ctx, kafka.TopicSpec{Name: topics.Dead(cfg.TopicPrefix), Retention: tt.existing}); err != nil {
					t.Fatal(err)
				}
			}
			var logs strings.Builder
			maxEvent, err := prepareTopics(ctx, client, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if maxEvent != cfg.Ingest.MaxEventSize {
				t.Errorf("largest event %d, want BULKER_MAX_EVENT_SIZE's %d: the test broker lets bulker raise topic limits", maxEvent, cfg.Ingest.MaxEventSize)
			}
			// Replay markers live as long as the dead letters they mark.
			for topic, want := range map[string]time.Duration{topics.Retry(cfg.TopicPrefix): 48 * time.Hour, topics.Dead(cfg.TopicPrefix): tt.wantDead,
				topics.Replayed(cfg.TopicPrefix): 168 * time.Hour} {
				if got, err := client.TopicRetention(ctx, topic); err != nil || got != want {
					t.Errorf("%s: retention %s (%v), want %s", topic, got, err, want)
				}
			}
			if tt.wantLogMention != "" && !strings.Contains(logs.String(), tt.wantLogMention) {
				t.Errorf("log does not name %s:\n%s", tt.wantLogMention, logs.String())
			}
			if tt.wantLogMention == "" && logs.Len() != 0 {
				t.Errorf("unexpected log:\n%s", logs.String())
			}
		})
	}
}

// Where a topic's limit cannot be raised, the largest event accepted
// shrinks to what the topic stores, so that /post answers 413 rather than
// a 503 that a client would retry forever.
func TestFittingEvent(t *testing.T) {
	for _, tt := range []struct {
		configured int64
		fits       int32
		want       int64
	}{
		{1 << 20, 1<<20 + kafka.RecordOverhead, 1 << 20},       // raised: as configured
		{1 << 20, 1_048_588, 1_048_588 - kafka.RecordOverhead}, // Kafka's default kept
		{1 << 20, 0, 1 << 20},                                  // limits unknown
		{1000, 1 << 20, 1000},
	} {
		if got := fittingEvent(tt.configured, tt.fits); got != tt.want {
			t.Errorf("fittingEvent(%d, %d) = %d, want %d", tt.configured, tt.fits, got, tt.want)
		}
	}
}
