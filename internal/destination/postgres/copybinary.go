package postgres

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/streamforge/streamforge/internal/schema"
)

// copyEncoder reads the planned rows as PostgreSQL's binary COPY stream,
// for a COPY straight into the table, whose columns then have exactly the
// types written here (see copiesDirectly). pgx's CopyFrom looks up an
// encode plan for every value, which cost more than the encoding itself;
// the values are checked and made storable as slot.arg makes them, with
// the checks written out in fill: a shared function that the compiler does
// not inline costs a tenth of the encoder's time.
type copyEncoder struct {
	// mu is held while Read encodes rows: pgconn's CopyFrom can return on
	// an error while its writer goroutine is still in Read, and the rows
	// are the caller's again once Write returns.
	mu      sync.Mutex
	stopped bool

	p     *plan
	write []func(b []byte, v schema.Value) []byte // by column
	next  int                                     // row to encode next
	buf   []byte
	off   int // read up to here
	done  bool
	err   error // a value that cannot be written, with its row and column
}

// copyChunk is how much the encoder writes ahead of the reader.
const copyChunk = 64 << 10

// pgEpochUnix is where PostgreSQL's binary timestamps count from,
// 2000-01-01 UTC, in Unix seconds.
const pgEpochUnix = 946684800

func newCopyEncoder(p *plan) *copyEncoder {
	e := &copyEncoder{p: p, write: make([]func([]byte, schema.Value) []byte, len(p.columns))}
	for c, col := range p.columns {
		e.write[c] = binaryWriter(col.Type, baseType(p.target[c]) == "jsonb")
	}
	e.buf = append(make([]byte, 0, copyChunk+4096), "PGCOPY\n\xff\r\n\x00"...)
	e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // flags
	e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // header extension
	return e
}

// Read implements io.Reader for pgconn's CopyFrom.
func (e *copyEncoder) Read(out []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return 0, errCopyStopped
	}
	for e.off == len(e.buf) {
		if e.done || e.err != nil {
			return 0, e.orEOF()
		}
		e.buf, e.off = e.buf[:0], 0
		e.fill()
	}
	n := copy(out, e.buf[e.off:])
	e.off += n
	return n, nil
}

// errCopyStopped is what Read returns once stop was called.
var errCopyStopped = errors.New("COPY ended")

// stop waits for a Read under way and fails those after it: the rows are
// not read again.
func (e *copyEncoder) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
}

func (e *copyEncoder) orEOF() error {
	if e.err != nil {
		return e.err
	}
	return io.EOF
}

// fill encodes rows until a chunk is ready, then the trailer after the last.
func (e *copyEncoder) fill() {
	// buf is e.buf in a local: storing the slice in e after every value
	// would take the collector's write barrier each time while it marks.
	buf := e.buf
	defer func() { e.buf = buf }()
	for ; e.next < len(e.p.rows) && len(buf) < copyChunk; e.next++ {
		row := e.p.rows[e.next]
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(row)))
		for c, v := range row {
			if v.IsNull() || v.IsAbsent() {
				buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1: NULL
				continue
			}
			if t := e.p.columns[c].Type; v.Type != t {
				e.err = valueError(*e.p, e.next, c, mismatch(v, t))
				return
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0) // length, set below
			buf = e.write[c](buf, v)
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
	}
	if e.next == len(e.p.rows) {
		buf = binary.BigEndian.AppendUint16(buf, math.MaxUint16) // -1: end
		e.done = true
	}
}

// result is the outcome of a COPY from e that returned err: the value e
// rejected, which the server saw only as a cancelled COPY, or else err.
func (e *copyEncoder) result(err error) error {
	if e.err != nil {
		return e.err
	}
	return err
}

// binaryWriter returns the writer of a column's values, already checked
// to be of its type, in the binary format of its carrier type (jsonb for a
// JSON column stored as jsonb).
func binaryWriter(t schema.DataType, jsonb bool) func([]byte, schema.Value) []byte {
	switch t {
	case schema.Bool:
		return func(b []byte, v schema.Value) []byte {
			if v.Bool() {
				return append(b, 1)
			}
			return append(b, 0)
		}
	case schema.Int:
		return func(b []byte, v schema.Value) []byte {
			return binary.BigEndian.AppendUint64(b, uint64(v.Int()))
		}
	case schema.Float:
		return func(b []byte, v schema.Value) []byte {
			return binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float()))
		}
	case schema.Timestamp:
		return func(b []byte, v schema.Value) []byte {
			return binary.BigEndian.AppendUint64(b, uint64(pgMicros(v)))
		}
	case schema.JSON:
		return func(b []byte, v schema.Value) []byte {
			if jsonb {
				b = append(b, 1) // jsonb's binary format version
			}
			return append(b, sanitizeJSON(v.Str())...)
		}
	default: // Text
		return func(b []byte, v schema.Value) []byte {
			return append(b, sanitizeText(v.Str())...)
		}
	}
}

// pgMicros is a timestamp in microseconds since PostgreSQL's epoch, which
// years 1 to 9999 fit (a time.Duration would not), truncated: rounding
// could carry 23:59:59.9999995 into the next day, or year. In integers: a
// time.Time per value costs a tenth of the encoder's time.
func pgMicros(v schema.Value) int64 {
	sec, nsec := v.Unix()
	return (sec-pgEpochUnix)*1e6 + int64(nsec)/1e3
}
