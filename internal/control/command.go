// Package control holds the wire format shared by dummy-service and
// debug-producer: commands read from queue-control and events written to
// queue-events, field for field as the original Python service had them.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Commands a service understands.
const (
	CmdPing            = "ping"
	CmdStop            = "stop"
	CmdSimulateLoading = "simulate-loading"
	CmdFailAfter       = "fail-after"
)

// Wildcard as a queue_id addresses every service.
const Wildcard = "*"

// Command is one record of queue-control, for example
// {"queue_id": "q1", "command": "ping", "sent_at": 1718000000.123}.
type Command struct {
	QueueID string `json:"queue_id"`
	Command string `json:"command"`
	// SentAt is Unix seconds; nil when the sender left it out.
	SentAt *float64 `json:"sent_at,omitempty"`
	// Payload is the optional JSON object with command arguments.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// NewCommand builds a command stamped with now.
func NewCommand(queueID, command string, now time.Time, payload json.RawMessage) Command {
	ts := UnixSeconds(now)
	return Command{QueueID: queueID, Command: command, SentAt: &ts, Payload: payload}
}

// For reports whether a service with queueID must act on c.
func (c Command) For(queueID string) bool {
	return c.QueueID == queueID || c.QueueID == Wildcard
}

// Reason classifies a malformed command. The set is closed so it can label
// a metric.
type Reason string

// Reasons a command is rejected.
const (
	ReasonInvalidJSON    Reason = "invalid_json"
	ReasonWrongType      Reason = "wrong_type"
	ReasonMissingField   Reason = "missing_field"
	ReasonUnknownCommand Reason = "unknown_command"
	ReasonBadPayload     Reason = "bad_payload"
)

// Reasons lists every Reason, to pre-create metric series.
func Reasons() []Reason {
	return []Reason{ReasonInvalidJSON, ReasonWrongType, ReasonMissingField, ReasonUnknownCommand, ReasonBadPayload}
}

// MalformedError says why a command was rejected.
type MalformedError struct {
	Reason Reason
	Detail string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed command (%s): %s", e.Reason, e.Detail)
}

func malformed(r Reason, format string, args ...any) error {
	return &MalformedError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a *MalformedError in err's chain.
func ReasonOf(err error) (Reason, bool) {
	var m *MalformedError
	if errors.As(err, &m) {
		return m.Reason, true
	}
	return "", false
}

// DecodeCommand reads the envelope of a command: a JSON object with string
// queue_id and command, an optional numeric sent_at and an optional object
// payload. It does not judge the command name, because queue-control is
// shared by services that may know other commands; call Validate once the
// command is known to be for this service. On error the returned Command
// still carries the queue_id when it could be read, so a caller can ignore
// another service's malformed command.
func DecodeCommand(b []byte) (Command, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Command{}, malformed(ReasonInvalidJSON, "want a JSON object, got %s", ute.Value)
		}
		return Command{}, malformed(ReasonInvalidJSON, "%v", err)
	}
	if fields == nil {
		return Command{}, malformed(ReasonInvalidJSON, "want a JSON object, got null")
	}
	var c Command
	var err error
	if c.QueueID, err = requiredString(fields, "queue_id"); err != nil {
		return Command{}, err
	}
	if c.Command, err = requiredString(fields, "command"); err != nil {
		return c, err
	}
	if raw, ok := fields["sent_at"]; ok && !isNull(raw) {
		var ts float64
		if err := json.Unmarshal(raw, &ts); err != nil || math.IsNaN(ts) || math.IsInf(ts, 0) {
			return c, malformed(ReasonWrongType, "sent_at must be a number of Unix seconds, got %s", clip(raw))
		}
		c.SentAt = &ts
	}
	if raw, ok := fields["payload"]; ok && !isNull(raw) {
		if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
			return c, malformed(ReasonWrongType, "payload must be an object, got %s", clip(raw))
		}
		c.Payload = raw
	}
	return c, nil
}

// Validate checks that the command is one this package knows and that its
// payload holds what the command needs.
func (c Command) Validate() error {
	switch c.Command {
	case CmdPing, CmdStop, CmdSimulateLoading:
		return nil
	case CmdFailAfter:
		_, err := c.Seconds()
		return err
	}
	return malformed(ReasonUnknownCommand, "unknown command %q (want ping, stop, simulate-loading or fail-after)", clip([]byte(c.Command)))
}

// Seconds reads payload.seconds, the delay of fail-after.
func (c Command) Seconds() (time.Duration, error) {
	var p struct {
		Seconds *json.RawMessage `json:"seconds"`
	}
	if len(c.Payload) > 0 {
		if err := json.Unmarshal(c.Payload, &p); err != nil {
			return 0, malformed(ReasonBadPayload, "%s: payload: %v", c.Command, err)
		}
	}
	if p.Seconds == nil {
		return 0, malformed(ReasonBadPayload, `%s needs payload {"seconds": N}`, c.Command)
	}
	var s float64
	if err := json.Unmarshal(*p.Seconds, &s); err != nil || s < 0 || math.IsInf(s, 0) || s > maxSeconds {
		return 0, malformed(ReasonBadPayload, "%s: payload.seconds must be a number from 0 to %d, got %s", c.Command, maxSeconds, clip(*p.Seconds))
	}
	return time.Duration(s * float64(time.Second)), nil
}

// maxSeconds keeps a delay within time.Duration.
const maxSeconds = 100 * 365 * 24 * 3600

func requiredString(fields map[string]json.RawMessage, key string) (string, error) {
	raw, ok := fields[key]
	if !ok || isNull(raw) {
		return "", malformed(ReasonMissingField, "%s is missing", key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed(ReasonWrongType, "%s must be a string, got %s", key, clip(raw))
	}
	if s == "" {
		return "", malformed(ReasonMissingField, "%s is empty", key)
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// clip keeps log lines short when a sender puts megabytes in a field.
func clip(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// UnixSeconds is t as float Unix seconds, the wire's time format.
func UnixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// FromUnixSeconds is the inverse of UnixSeconds.
func FromUnixSeconds(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}
