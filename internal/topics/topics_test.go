package topics

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/streamforge/streamforge/internal/kafka"
)

func TestIncomingRoundTrip(t *testing.T) {
	tests := []struct {
		prefix string
		n      Name
		want   string
	}{
		{"", Name{"pg", "batch", "events"}, "in.id.pg.m.batch.t.events"},
		{"prod.", Name{"pg", "stream", "a.b"}, "prod.in.id.pg.m.stream.t.a.b"},
		{"", Name{"pg", "batch", "événements"}, "in.id.pg.m.batch.b64.w6l2w6luZW1lbnRz"},
		{"", Name{"pg", "batch", "with space"}, "in.id.pg.m.batch.b64.d2l0aCBzcGFjZQ"},
		{"", Name{"pg", "batch", "a.p.1"}, "in.id.pg.m.batch.b64.YS5wLjE"},
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
	// Jitsu's topics, and the hex names of earlier versions.
	for topic, want := range map[string]Name{
		"in.id.d1.m.batch.b64.QWNjb3VudCBEZWFjdGl2YXRlZCBVc2Vy": {"d1", "batch", "Account Deactivated User"},
		"in.id.d1.m.stream.t.events.p.3":                        {"d1", "stream", "events"},
		"in.id.d1.m.batch.t.a.p.b":                              {"d1", "batch", "a.p.b"},
		"in.id.pg.m.batch.h.77697468207370616365":               {"pg", "batch", "with space"},
	} {
		if got, err := Parse("", topic); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", topic, got, err, want)
		}
	}
	for _, bad := range []string{"other", "in.id.pg", "in.id.pg.m.batch", "in.id.pg.m.batch.x.t", "in.id.pg.m.batch.h.zz",
		"in.id.pg.m.retry.t._all_", "in.id.pg.m.batch.b64.!!"} {
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

func TestDeadIDRoundTrip(t *testing.T) {
	tests := []struct {
		rec  kafka.Record
		want string
	}{
		{kafka.Record{Topic: "p.destination-messages-dead-letter", Partition: 0, Offset: 12}, "0:12"},
		{kafka.Record{Topic: "p.destination-messages-dead", Partition: 3, Offset: 0}, "old:3:0"},
	}
	for _, tt := range tests {
		id := DeadID("p.", tt.rec)
		if id != tt.want {
			t.Errorf("DeadID(%v) = %q, want %q", tt.rec, id, tt.want)
		}
		topic, p, o, err := ParseDeadID("p.", id)
		if err != nil || topic != tt.rec.Topic || p != tt.rec.Partition || o != tt.rec.Offset {
			t.Errorf("ParseDeadID(%q) = %s %d %d %v", id, topic, p, o, err)
		}
	}
	for _, bad := range []string{"", "12", "a:1", "0:-1", "old:", "0:1:2"} {
		if _, _, _, err := ParseDeadID("", bad); err == nil {
			t.Errorf("ParseDeadID(%q) accepted", bad)
		}
	}
}

// The error header is bounded, so that a retry or dead-letter record stays
// within kafka.RecordOverhead of its event, and cut at a rune boundary.
func TestFailureErrorIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name, err string
		want      func(string) bool
	}{
		{"short", "duplicate key", func(h string) bool { return h == "duplicate key" }},
		{"exactly the bound", strings.Repeat("e", maxErrorBytes), func(h string) bool { return len(h) == maxErrorBytes }},
		{"long", strings.Repeat("é", maxErrorBytes), func(h string) bool {
			return len(h) <= maxErrorBytes && utf8.ValidString(h) && strings.HasSuffix(h, "é…")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			for _, h := range (Failure{Error: tc.err}).Headers() {
				if h.Key == HeaderError {
					got = string(h.Value)
				}
			}
			if !tc.want(got) {
				t.Errorf("error header of %d bytes: %.40q…", len(got), got)
			}
		})
	}
}
