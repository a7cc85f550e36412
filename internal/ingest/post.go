package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/eventslog"
	"github.com/streamforge/streamforge/internal/kafka"
	"github.com/streamforge/streamforge/internal/schema"
	"github.com/streamforge/streamforge/internal/topics"
)

// successBody is the answer of an accepted event, encoded once.
const successBody = `{"success":true}` + "\n"

// maxTableName bounds tableName in bytes; every database's limit is lower,
// the schema package shortens names per dialect.
const maxTableName = 128

// ValidateEvent checks that b is exactly one JSON object in valid UTF-8
// and says precisely what is wrong otherwise.
func ValidateEvent(b []byte) error {
	if schema.ValidObject(b) {
		return nil
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return errors.New("empty body: want one JSON object")
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("invalid UTF-8 at byte %d", invalidUTF8At(b))
	}
	if !json.Valid(b) {
		var raw json.RawMessage
		err := json.Unmarshal(b, &raw)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	switch c := t[0]; {
	case c == '{':
		return nil
	case c == '[':
		return errors.New("want one JSON object, got an array (send many events to /bulk as NDJSON)")
	case c == '"':
		return errors.New("want one JSON object, got a string")
	case c == 't' || c == 'f':
		return errors.New("want one JSON object, got a boolean")
	case c == 'n':
		return errors.New("want one JSON object, got null")
	default:
		return errors.New("want one JSON object, got a number")
	}
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// checkTable validates the tableName parameter.
func checkTable(table string) error {
	switch {
	case table == "":
		return errors.New("tableName query parameter is required")
	case len(table) > maxTableName:
		return fmt.Errorf("tableName is longer than %d bytes", maxTableName)
	case !utf8.ValidString(table):
		return errors.New("tableName is not valid UTF-8")
	}
	for _, r := range table {
		if unicode.IsControl(r) {
			return errors.New("tableName must not hold control characters")
		}
	}
	return nil
}

// target resolves the destination and table of a request, answering the
// error itself; ok is false when it did.
func (s *Server) target(w http.ResponseWriter, r *http.Request, id string) (dest destination.Config, table, reason string, ok bool) {
	dest, found := s.d.Destinations.Lookup(id)
	if !found {
		if c, ok := s.d.Destinations.LookupUnsupported(id); ok {
			// Not the client's fault, and no retry helps until the
			// configuration changes: 501.
			fail(w, http.StatusNotImplemented, unsupportedError(c))
			return dest, "", reasonUnsupported, false
		}
		fail(w, http.StatusNotFound, fmt.Sprintf("destination %q not found", truncate(id, 64)))
		return dest, "", reasonNoDestination, false
	}
	table = queryValue(r.URL, "tableName")
	if err := checkTable(table); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return dest, "", reasonBadTable, false
	}
	return dest, table, "", true
}

// queryValue is u.Query().Get(name) without building the map of every
// parameter. A long query goes the standard way, which also applies
// net/url's limit on the number of parameters.
func queryValue(u *url.URL, name string) string {
	q := u.RawQuery
	if strings.Count(q, "&") >= 100 {
		return u.Query().Get(name)
	}
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" || strings.Contains(kv, ";") {
			continue // as url.ParseQuery does
		}
		k, v, _ := strings.Cut(kv, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != name {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
	}
	return ""
}

// post stores one event for destination id in its Kafka topic and
// answers once Kafka has acknowledged it.
func (s *Server) post(w http.ResponseWriter, r *http.Request, id string) {
	destLabel := unknownLabel
	var tbl *tableLabel
	reason := reasonOK
	defer func() {
		if reason == reasonOK {
			if tbl != nil { // nil only when a panic unwinds
				tbl.accept()
			}
			return
		}
		tableLabel := unknownLabel
		if tbl != nil {
			tableLabel = tbl.name
		}
		s.events.WithLabelValues(destLabel, tableLabel, "rejected", reason).Inc()
	}()
	log := s.d.Logger

	dest, table, why, ok := s.target(w, r, id)
	if !ok {
		reason = why
		if reason == reasonBadTable {
			destLabel = dest.ID
		}
		log.Info("event rejected", "reason", reason, "destination", destLabel)
		return
	}
	destLabel, tbl = dest.ID, s.tables.table(dest.ID, table)
	// Fields built per message, not log.With: With costs allocations on
	// every request, and the happy path logs nothing.
	at := func(kv ...any) []any { return append([]any{"destination", dest.ID, "table", table}, kv...) }

	mode := dest.Options.Mode
	// Jitsu's modeOverride sends this event to the other mode's topic.
	switch o := destination.DeliveryMode(queryValue(r.URL, "modeOverride")); o {
	case "":
	case destination.Batch, destination.Stream:
		mode = o
	default:
		reason = reasonBadRequest
		fail(w, http.StatusBadRequest, fmt.Sprintf("modeOverride %q: want batch or stream", truncate(string(o), 32)))
		log.Info("event rejected", at("reason", reason)...)
		return
	}
	if mode == "" {
		mode = destination.Batch
	}
	topic, err := topics.Incoming(s.cfg.TopicPrefix, topics.Name{Destination: dest.ID, Mode: mode, Table: table})
	if err != nil {
		reason = reasonBadTable
		fail(w, http.StatusBadRequest, "tableName: "+err.Error())
		log.Info("event rejected", at("reason", reason, "err", err)...)
		return
	}

	body, code, err := readBody(w, r, s.cfg.MaxEventSize, "BULKER_MAX_EVENT_SIZE", "BULKER_HTTP_READ_TIMEOUT_SEC")
	if err != nil {
		reason = bodyReason(code)
		fail(w, code, err.Error())
		log.Info("event rejected", at("reason", reason, "err", err)...)
		return
	}
	if err := ValidateEvent(body); err != nil {
		reason = reasonBadEvent
		fail(w, http.StatusBadRequest, err.Error())
		log.Info("event rejected", at("reason", reason, "err", err)...)
		return
	}

	var lost <-chan struct{}
	if s.d.Kafka != nil {
		if lost, err = s.d.Kafka.Reachability(); err != nil {
			// Known down: waiting ProduceTimeout would only hold the client.
			reason = reasonKafka
			fail(w, http.StatusServiceUnavailable, "the event was not stored: Kafka is unreachable; retry later")
			if log.Enabled(r.Context(), slog.LevelDebug) {
				log.Debug("event refused while kafka is unreachable", at("err", err)...)
			}
			return
		}
	}

	now := s.d.Now().UTC()
	// The topic names the destination and table; a header for each would
	// be produced, stored and fetched again for every event.
	headers := []kafka.Header{{Key: topics.HeaderReceivedAt, Value: now.AppendFormat(make([]byte, 0, len(time.RFC3339Nano)), time.RFC3339Nano)}}
	rec := kafka.Record{Topic: topic, Key: s.partitionKey(body, dest.Options.PrimaryKeys()), Value: body, Headers: headers}
	if err := s.produce(r.Context(), rec, lost); err != nil {
		if r.Context().Err() != nil {
			// The client went away before the acknowledgement: not a Kafka
			// fault, and the event may well be stored.
			reason = reasonClientGone
			log.Info("client disconnected before the event was acknowledged", at("topic", topic)...)
			return
		}
		reason = reasonKafka
		fail(w, http.StatusServiceUnavailable, "the event was not stored: Kafka did not acknowledge it; retry later")
		log.Error("producing event", at("topic", topic, "err", err)...)
		return
	}
	if s.d.Events != nil {
		e := eventslog.Entry{Time: now, Destination: dest.ID, Table: table, Status: eventslog.Accepted, Body: body}
		if err := s.d.Events.Add(r.Context(), e); err != nil {
			// The event is safe in Kafka; only the log entry is missing.
			log.Warn("adding to the events log", at("err", err)...)
		}
	}
	if log.Enabled(r.Context(), slog.LevelDebug) {
		log.Debug("event accepted", at("topic", topic, "bytes", len(body))...)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, successBody)
}

// produce waits for the broker's acknowledgement at most ProduceTimeout,
// until the client goes away, or until lost is closed: Kafka became
// unreachable, and the answer would only come at the timeout. The
// record's context is the request's, which net/http cancels when the
// handler returns: franz-go then drops the record if it is still buffered.
// One it already sent is kept until its fate is known; should it land
// after a 503, the client's retry duplicates it: at least once, never
// lost.
func (s *Server) produce(ctx context.Context, rec kafka.Record, lost <-chan struct{}) error {
	w, _ := s.waiters.Get().(*waiter)
	if w == nil {
		w = newWaiter()
	}
	deadline := time.Now().Add(s.cfg.ProduceTimeout)
	s.d.Producer.TryProduce(ctx, rec, w.done)
	answered, err := w.wait(ctx, deadline, lost, &s.ticks)
	if answered && errors.Is(err, kafka.ErrBufferFull) {
		// Rare: wait for room, within the same deadline. Only here does a
		// context timer pay off, for franz-go to stop waiting.
		bctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		s.d.Producer.ProduceAsync(bctx, rec, w.done)
		answered, err = w.wait(ctx, deadline, lost, &s.ticks)
	}
	if !answered {
		// The answer may still come: w's channel is not reused.
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for kafka to acknowledge: %w", ctx.Err())
		}
		select {
		case <-lost:
			return errors.New("kafka became unreachable before acknowledging")
		default:
		}
		return fmt.Errorf("kafka did not acknowledge within %s", s.cfg.ProduceTimeout)
	}
	s.waiters.Put(w)
	return err
}

// waiter receives one produce answer. Pooled: a channel and a callback
// per request cost more than the pool.
type waiter struct {
	ack  chan error // buffered: the answer never blocks franz-go
	done func(error)
}

func newWaiter() *waiter {
	w := &waiter{ack: make(chan error, 1)}
	w.done = func(err error) { w.ack <- err }
	return w
}

// wait returns the answer, or answered false once deadline passed, ctx
// ended or lost was closed. It checks those at each of the ticks' beats
// instead of selecting on them: a timer, the request's Done channel and
// the shared lost channel in every request's select cost more than
// producing the event; a beat late is soon enough for an outage.
func (w *waiter) wait(ctx context.Context, deadline time.Time, lost <-chan struct{}, t *ticks) (answered bool, err error) {
	for {
		select {
		case err := <-w.ack:
			return true, err
		case <-t.next():
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return false, nil
		}
		select {
		case <-lost:
			return false, nil
		default:
		}
	}
}

// tickPeriod is how often waiting requests check their deadline, their
// client and Kafka's reachability; how late, at most, they notice.
const tickPeriod = 50 * time.Millisecond

// ticks closes a channel shared by the waiting requests every tickPeriod,
// while any waits: one timer for all of them instead of one each.
type ticks struct {
	c  atomic.Pointer[chan struct{}] // nil between beats while none waits
	mu sync.Mutex                    // makes c
}

// next returns the channel closed at the next beat.
func (t *ticks) next() <-chan struct{} {
	if c := t.c.Load(); c != nil {
		return *c
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.c.Load(); c != nil {
		return *c
	}
	c := make(chan struct{})
	t.c.Store(&c)
	time.AfterFunc(tickPeriod, func() {
		t.c.Store(nil)
		close(c)
	})
	return c
}

// maxPrealloc bounds the buffer allocated for a body before it arrives: a
// client announcing a large body pays with the bytes it sends, not with
// the server's memory.
const maxPrealloc = 64 << 10

// readBody reads at most limit bytes; the code is 413 when the body is
// larger, naming the setting that sets the limit, and 408 when the client
// did not send it before the connection's read deadline, naming the
// setting of that. A body of known length is read into a buffer of its
// size (up to maxPrealloc), not grown from 512 bytes as by io.ReadAll.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, setting, timeoutSetting string) ([]byte, int, error) {
	tooLarge := func() error { return fmt.Errorf("body larger than %d bytes (%s)", limit, setting) }
	n := r.ContentLength
	if n > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge()
	}
	src, size := r.Body, 512
	if n >= 0 {
		// net/http stops the body at its Content-Length; one byte more
		// reads EOF without growing the buffer.
		size = int(min(n, maxPrealloc)) + 1
	} else {
		src = http.MaxBytesReader(w, r.Body, limit)
	}
	body := make([]byte, 0, size)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		m, err := src.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		switch {
		case int64(len(body)) > limit:
			return nil, http.StatusRequestEntityTooLarge, tooLarge()
		case err == io.EOF:
			return body, 0, nil
		case err != nil:
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, http.StatusRequestEntityTooLarge, tooLarge()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, http.StatusRequestTimeout, fmt.Errorf("the body did not arrive in time (%s): got %d bytes", timeoutSetting, len(body))
			}
			return nil, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
		}
	}
}

// bodyReason is the reason label of a body readBody refused with code.
func bodyReason(code int) string {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return reasonTooLarge
	case http.StatusRequestTimeout:
		return reasonTimeout
	}
	return reasonBadRequest
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// partitionKey is the Kafka key of an event of a destination with a primary
// key: the values of its key fields, so that every version of a row goes to
// one partition and loads in the order it arrived, and the newest wins the
// deduplication however many partitions and replicas share the topic.
// Without a primary key it is nil, and events spread over the partitions.
func (s *Server) partitionKey(body []byte, pk []string) []byte {
	if len(pk) == 0 {
		return nil
	}
	p, _ := s.parsers.Get().(*schema.Parser)
	if p == nil {
		p = new(schema.Parser)
	}
	defer s.parsers.Put(p)
	ev, err := p.ParseShared(body)
	if err != nil {
		return nil // the loader dead-letters it
	}
	key := make([]byte, 0, 32)
	for i, k := range pk {
		if i > 0 {
			key = append(key, 0)
		}
		// Only a name with "_" can be a nested key flattened: the others
		// are compared without building the flat name.
		nested := strings.IndexByte(k, '_') >= 0
		for _, f := range ev.Fields {
			if f.Key != k && (!nested || schema.FlatKey(f.Key) != k) {
				continue
			}
			switch f.Type {
			case schema.Int:
				key = strconv.AppendInt(key, f.Int(), 10)
			case schema.Text:
				key = append(key, f.Str()...)
			default:
				key = fmt.Append(key, f.Any())
			}
			break
		}
	}
	return key
}
