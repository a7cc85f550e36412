package topics

import (
	"strings"
	"testing"
)

func TestIncomingRoundTrip(t *testing.T) {
	tests := []struct {
		prefix string
		n      Name
		want   string
	}{
		{"", Name{"pg", "batch", "events"}, "in.id.pg.m.batch.t.events"},
		{"prod.", Name{"pg", "stream", "a.b"}, "prod.in.id.pg.m.stream.t.a.b"},
		{"", Name{"pg", "batch", "événements"}, "in.id.pg.m.batch.h.c3a976c3a96e656d656e7473"},
		{"", Name{"pg", "batch", "with space"}, "in.id.pg.m.batch.h.77697468207370616365"},
	}
	for _, tt := range tests {
		got, err := Incoming(tt.prefix, tt.n)
		if err != nil || got != tt.want {
			t.Fatalf("Incoming(%v) = %q, %v; want %q", tt.n, got, err, tt.want)
		}
		back, err := Parse(tt.prefix, got)
		if err != nil || back != tt.n {
			t.Fatalf("Parse(%q) = %v, %v; want %v", got, back, err, tt.n)
		}
	}
	if _, err := Incoming("", Name{"pg", "batch", strings.Repeat("é", 200)}); err == nil {
		t.Fatal("an over-long table name must be refused")
	}
	for _, bad := range []string{"other", "in.id.pg", "in.id.pg.m.batch", "in.id.pg.m.batch.x.t", "in.id.pg.m.batch.h.zz"} {
		if _, err := Parse("", bad); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

func FuzzIncoming(f *testing.F) {
	f.Add("events")
	f.Add("a.b.c")
	f.Add("日本")
	f.Fuzz(func(t *testing.T, table string) {
		topic, err := Incoming("", Name{"d", "batch", table})
		if err != nil {
			return
		}
		if !legal(topic) {
			t.Fatalf("topic %q has illegal characters", topic)
		}
		back, err := Parse("", topic)
		if err != nil || back.Table != table {
			t.Fatalf("round trip of %q: %v %v", table, back, err)
		}
	})
}
