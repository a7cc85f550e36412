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
			if err := prepareTopics(ctx, client, cfg, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatal(err)
			}
			for topic, want := range map[string]time.Duration{topics.Retry(cfg.TopicPrefix): 48 * time.Hour, topics.Dead(cfg.TopicPrefix): tt.wantDead} {
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
