package probe

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamforge/streamforge/internal/control"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Options is the debug-producer command line.
type Options struct {
	QueueID    string
	Command    string
	Payload    json.RawMessage
	ExpectPong bool
	Repeat     int
	Interval   time.Duration
	Timeout    time.Duration
	NoWait     bool
	JSON       bool
	Debug      bool
	Topics     Topics
	Kafka      kafka.Config
}

// ErrHelp is returned by ParseArgs for -h / --help.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned by ParseArgs for --version, before the required
// flags are checked: the caller prints the build and exits 0.
var ErrVersion = errors.New("version requested")

// ParseArgs reads the command line and the environment (KEY=value strings).
func ParseArgs(args, environ []string, stderr io.Writer) (Options, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var o Options
	var payload string
	interval, timeout := control.SecondsFlag(time.Second), control.SecondsFlag(10*time.Second)
	var version bool
	fs := flag.NewFlagSet("debug-producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&version, "version", false, "print the version, commit and Go release, then exit")
	fs.StringVar(&o.QueueID, "queue-id", "", `queue to command (required); "*" addresses every service`)
	fs.StringVar(&o.Command, "command", control.CmdPing, "ping, stop, simulate-loading or fail-after")
	fs.StringVar(&payload, "payload", "", `JSON object sent as the command's payload, e.g. '{"seconds": 5}' for fail-after`)
	fs.BoolVar(&o.ExpectPong, "expect-pong", false, "wait for a pong to every ping and print its round-trip time")
	fs.IntVar(&o.Repeat, "repeat", 1, "send the command N times")
	fs.Var(&interval, "interval", "seconds between sends")
	fs.Var(&timeout, "timeout", "seconds to wait for each answer")
	fs.BoolVar(&o.NoWait, "no-wait", false, "after stop, do not wait for the terminal event")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per line instead of text")
	fs.BoolVar(&o.Debug, "debug", false, "log at DEBUG level (logs go to stderr)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if version {
		return o, ErrVersion
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.QueueID == "" {
		return o, errors.New("--queue-id is required")
	}
	if o.Command == "" {
		return o, errors.New("--command must not be empty")
	}
	if o.Repeat < 1 {
		return o, errors.New("--repeat must be at least 1")
	}
	o.Interval, o.Timeout = time.Duration(interval), time.Duration(timeout)
	if o.Timeout <= 0 {
		return o, errors.New("--timeout must be positive")
	}
	if payload != "" {
		o.Payload = json.RawMessage(payload)
	}
	// The command goes through the same decoding as the service's, so a
	// bad --payload is reported here rather than counted there.
	draft := control.Command{QueueID: o.QueueID, Command: o.Command, Payload: o.Payload}
	b, err := json.Marshal(draft)
	if err != nil {
		return o, fmt.Errorf("--payload: %w", err)
	}
	if c, err := control.DecodeCommand(b); err != nil {
		return o, err
	} else if err := c.Validate(); err != nil {
		if r, _ := control.ReasonOf(err); r != control.ReasonUnknownCommand {
			return o, err
		}
	}
	o.Topics = DefaultTopics()
	if v := env["QUEUE_CONTROL_TOPIC"]; v != "" {
		o.Topics.Control = v
	}
	if v := env["QUEUE_EVENTS_TOPIC"]; v != "" {
		o.Topics.Events = v
	}
	kc, err := kafka.EnvConfig(func(k string) string { return env[k] })
	if err != nil {
		return o, err
	}
	kc.ClientID = "debug-producer"
	o.Kafka = kc
	return o, nil
}

// Run carries out the command line with p and prints to out. ok is true
// when every expected answer arrived.
func Run(ctx context.Context, o Options, p *Prober, out io.Writer, log *slog.Logger) (ok bool, err error) {
	pr := printer{w: out, json: o.JSON}
	if o.Command == control.CmdPing && o.ExpectPong {
		rs, err := p.Ping(ctx, PingOptions{QueueID: o.QueueID, Count: o.Repeat, Interval: o.Interval, Timeout: o.Timeout}, func(r Result) {
			pr.result(o.QueueID, r, o.Timeout)
		})
		if err != nil {
			return false, err
		}
		s := Summarize(rs)
		pr.summary(o.QueueID, s)
		return s.Lost == 0, nil
	}

	if err := (control.Command{QueueID: o.QueueID, Command: o.Command, Payload: o.Payload}).Validate(); err != nil {
		log.Warn("sending a command the dummy-service does not know", "command", o.Command)
	}
	for i := range o.Repeat {
		if i > 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(o.Interval):
			}
		}
		c := control.NewCommand(o.QueueID, o.Command, time.Now(), o.Payload)
		if err := p.Send(ctx, c); err != nil {
			return false, err
		}
		pr.sent(c, o.Topics.Control)
	}
	if o.Command != control.CmdStop || o.NoWait {
		return true, nil
	}
	ev, err := p.WaitTerminal(ctx, o.QueueID, o.Timeout)
	if errors.Is(err, ErrNoAnswer) {
		pr.missing(err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	pr.event(ev)
	return true, nil
}

type printer struct {
	w    io.Writer
	json bool
}

func (p printer) line(v map[string]any, text string) {
	if p.json {
		b, _ := json.Marshal(v) // maps of plain values always encode
		fmt.Fprintln(p.w, string(b))
		return
	}
	fmt.Fprintln(p.w, text)
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func (p printer) result(queueID string, r Result, timeout time.Duration) {
	if !r.Answered {
		p.line(map[string]any{"type": "lost", "queue_id": queueID, "seq": r.Seq, "sent_at": r.SentAt, "timeout_s": timeout.Seconds()},
			fmt.Sprintf("no pong for ping seq=%d to %s within %s", r.Seq, queueID, timeout))
		return
	}
	p.line(map[string]any{"type": "pong", "queue_id": r.QueueID, "seq": r.Seq, "sent_at": r.SentAt,
		"rtt_ms": ms(r.RTT), "service_delay_ms": ms(r.ServiceDelay)},
		fmt.Sprintf("pong from %s: seq=%d rtt=%s (ponged_at-sent_at=%s)", r.QueueID, r.Seq, r.RTT.Round(time.Microsecond), r.ServiceDelay.Round(time.Microsecond)))
}

func (p printer) summary(queueID string, s Summary) {
	p.line(map[string]any{"type": "summary", "queue_id": queueID, "sent": s.Sent, "answered": s.Answered, "lost": s.Lost,
		"min_ms": ms(s.Min), "p50_ms": ms(s.P50), "p99_ms": ms(s.P99), "max_ms": ms(s.Max)},
		fmt.Sprintf("--- %s: %d sent, %d answered, %d lost; rtt min/p50/p99/max = %s/%s/%s/%s",
			queueID, s.Sent, s.Answered, s.Lost, s.Min.Round(time.Microsecond), s.P50.Round(time.Microsecond),
			s.P99.Round(time.Microsecond), s.Max.Round(time.Microsecond)))
}

func (p printer) sent(c control.Command, topic string) {
	p.line(map[string]any{"type": "sent", "queue_id": c.QueueID, "command": c.Command, "sent_at": *c.SentAt, "topic": topic},
		fmt.Sprintf("sent %s to %s on %s (sent_at=%s)", c.Command, c.QueueID, topic, strconv.FormatFloat(*c.SentAt, 'f', 6, 64)))
}

func (p printer) event(ev control.Event) {
	if p.json {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(p.w, `{"type":"event","event":%s}`+"\n", b)
		return
	}
	msg := fmt.Sprintf("%s from %s: %s", ev.Event, ev.QueueID, ev.Message)
	if ev.ErrorMessage != "" {
		msg += " (" + ev.ErrorMessage + ")"
	}
	fmt.Fprintln(p.w, msg)
}

func (p printer) missing(err error) {
	p.line(map[string]any{"type": "missing", "error": err.Error()}, err.Error())
}
