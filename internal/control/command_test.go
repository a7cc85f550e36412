package control_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/control"
)

func TestDecodeCommand(t *testing.T) {
	ts := 1718000000.123
	tests := []struct {
		name    string
		in      string
		want    control.Command
		reason  control.Reason // empty: valid
		queueID string         // queue_id still readable on error
	}{
		{name: "ping", in: `{"queue_id":"q1","command":"ping","sent_at":1718000000.123}`,
			want: control.Command{QueueID: "q1", Command: "ping", SentAt: &ts}},
		{name: "no sent_at", in: `{"queue_id":"q1","command":"stop"}`,
			want: control.Command{QueueID: "q1", Command: "stop"}},
		{name: "null sent_at and payload", in: `{"queue_id":"*","command":"ping","sent_at":null,"payload":null}`,
			want: control.Command{QueueID: "*", Command: "ping"}},
		{name: "payload", in: `{"queue_id":"q1","command":"fail-after","payload":{"seconds":5}}`,
			want: control.Command{QueueID: "q1", Command: "fail-after", Payload: json.RawMessage(`{"seconds":5}`)}},
		{name: "unknown command passes the envelope", in: `{"queue_id":"q1","command":"dance"}`,
			want: control.Command{QueueID: "q1", Command: "dance"}},
		{name: "not json", in: `ping please`, reason: control.ReasonInvalidJSON},
		{name: "truncated", in: `{"queue_id":"q1","command":"pi`, reason: control.ReasonInvalidJSON},
		{name: "array", in: `["ping"]`, reason: control.ReasonInvalidJSON},
		{name: "null", in: `null`, reason: control.ReasonInvalidJSON},
		{name: "empty", in: ``, reason: control.ReasonInvalidJSON},
		{name: "no queue_id", in: `{"command":"ping"}`, reason: control.ReasonMissingField},
		{name: "empty queue_id", in: `{"queue_id":"","command":"ping"}`, reason: control.ReasonMissingField},
		{name: "numeric queue_id", in: `{"queue_id":7,"command":"ping"}`, reason: control.ReasonWrongType},
		{name: "no command", in: `{"queue_id":"q1"}`, reason: control.ReasonMissingField, queueID: "q1"},
		{name: "command object", in: `{"queue_id":"q1","command":{"name":"ping"}}`, reason: control.ReasonWrongType, queueID: "q1"},
		{name: "sent_at string", in: `{"queue_id":"q1","command":"ping","sent_at":"yesterday"}`, reason: control.ReasonWrongType, queueID: "q1"},
		{name: "payload string", in: `{"queue_id":"q1","command":"ping","payload":"x"}`, reason: control.ReasonWrongType, queueID: "q1"},
		{name: "payload array", in: `{"queue_id":"q1","command":"ping","payload":[1]}`, reason: control.ReasonWrongType, queueID: "q1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := control.DecodeCommand([]byte(tt.in))
			if tt.reason != "" {
				r, ok := control.ReasonOf(err)
				if !ok || r != tt.reason {
					t.Fatalf("err = %v, want reason %s", err, tt.reason)
				}
				if got.QueueID != tt.queueID {
					t.Fatalf("queue_id on error = %q, want %q", got.QueueID, tt.queueID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.QueueID != tt.want.QueueID || got.Command != tt.want.Command ||
				string(got.Payload) != string(tt.want.Payload) ||
				(got.SentAt == nil) != (tt.want.SentAt == nil) || (got.SentAt != nil && *got.SentAt != *tt.want.SentAt) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		in      string
		reason  control.Reason
		seconds time.Duration
	}{
		{in: `{"queue_id":"q","command":"ping"}`},
		{in: `{"queue_id":"q","command":"stop"}`},
		{in: `{"queue_id":"q","command":"simulate-loading"}`},
		{in: `{"queue_id":"q","command":"fail-after","payload":{"seconds":2.5}}`, seconds: 2500 * time.Millisecond},
		{in: `{"queue_id":"q","command":"fail-after","payload":{"seconds":0}}`},
		{in: `{"queue_id":"q","command":"fail-after"}`, reason: control.ReasonBadPayload},
		{in: `{"queue_id":"q","command":"fail-after","payload":{}}`, reason: control.ReasonBadPayload},
		{in: `{"queue_id":"q","command":"fail-after","payload":{"seconds":"5"}}`, reason: control.ReasonBadPayload},
		{in: `{"queue_id":"q","command":"fail-after","payload":{"seconds":-1}}`, reason: control.ReasonBadPayload},
		{in: `{"queue_id":"q","command":"fail-after","payload":{"seconds":1e300}}`, reason: control.ReasonBadPayload},
		{in: `{"queue_id":"q","command":"PING"}`, reason: control.ReasonUnknownCommand},
		{in: `{"queue_id":"q","command":"reboot"}`, reason: control.ReasonUnknownCommand},
	}
	for _, tt := range tests {
		c, err := control.DecodeCommand([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		err = c.Validate()
		if tt.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			if c.Command == control.CmdFailAfter {
				if d, _ := c.Seconds(); d != tt.seconds {
					t.Errorf("%s: seconds = %v, want %v", tt.in, d, tt.seconds)
				}
			}
			continue
		}
		if r, _ := control.ReasonOf(err); r != tt.reason {
			t.Errorf("%s: err = %v, want reason %s", tt.in, err, tt.reason)
		}
	}
}

func TestForMatchesQueueAndWildcard(t *testing.T) {
	for _, tt := range []struct {
		target, self string
		want         bool
	}{{"q1", "q1", true}, {"*", "q1", true}, {"q2", "q1", false}, {"Q1", "q1", false}} {
		if got := (control.Command{QueueID: tt.target}).For(tt.self); got != tt.want {
			t.Errorf("command for %q, service %q: %v, want %v", tt.target, tt.self, got, tt.want)
		}
	}
}

func TestNewCommandRoundTrips(t *testing.T) {
	now := time.Unix(1718000000, 123456000)
	c := control.NewCommand("q1", control.CmdFailAfter, now, json.RawMessage(`{"seconds":3}`))
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"queue_id":"q1","command":"fail-after","sent_at":1718000000.123456,"payload":{"seconds":3}}`; string(b) != want {
		t.Fatalf("wire = %s\nwant   %s", b, want)
	}
	back, err := control.DecodeCommand(b)
	if err != nil || back.Validate() != nil || *back.SentAt != *c.SentAt {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if d := control.FromUnixSeconds(*c.SentAt).Sub(now); d > time.Microsecond || d < -time.Microsecond {
		t.Fatalf("FromUnixSeconds off by %v", d)
	}
}

func TestMalformedErrorDetailIsShort(t *testing.T) {
	_, err := control.DecodeCommand([]byte(`{"queue_id":"` + strings.Repeat("x", 10) + `","command":"ping","sent_at":"` + strings.Repeat("y", 10000) + `"}`))
	var m *control.MalformedError
	if !errors.As(err, &m) || len(m.Error()) > 200 {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"queue_id":"q1","command":"ping","sent_at":1718000000.123}`,
		`{"queue_id":"*","command":"fail-after","payload":{"seconds":1}}`,
		`{"queue_id":1}`, `[]`, `null`, `{"queue_id":"q","command":"x","payload":{"seconds":"1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := control.DecodeCommand(b)
		if err != nil {
			if _, ok := control.ReasonOf(err); !ok {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if c.QueueID == "" || c.Command == "" {
			t.Fatalf("accepted without queue_id or command: %q", b)
		}
		if err := c.Validate(); err != nil {
			if _, ok := control.ReasonOf(err); !ok {
				t.Fatalf("validate error without a reason: %v", err)
			}
		}
	})
}
