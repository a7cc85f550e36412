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
// the checks written out in appendRows: a shared function that the
// compiler does not inline costs a tenth of the encoder's time. Rows a
// loader encoded ahead (Encode) are read before the others as they are.
type copyEncoder struct {
	// mu is held while Read encodes rows: pgconn's CopyFrom can return on
	// an error while its writer goroutine is still in Read, and the rows
	// are the caller's again once Write returns.
	mu      sync.Mutex
	stopped bool

	rows rowWriter
	// pre, read from pre[preAt][preOff:] on, are the plan's rows encoded
	// ahead (Plan.Encoded), read before its other rows.
	pre           [][]byte
	preAt, preOff int
	next          int // row to encode next
	buf           []byte
	off           int // read up to here
	done          bool
	err           error // a value that cannot be written, with its row and column
}

// rowWriter writes the planned rows in the binary format of their
// columns, for a COPY straight into the table (see copiesDirectly).
type rowWriter struct {
	p     *plan
	write []func(b []byte, v schema.Value) []byte // by column
}

func newRowWriter(p *plan) rowWriter {
	w := rowWriter{p: p, write: make([]func([]byte, schema.Value) []byte, len(p.columns))}
	for c, col := range p.columns {
		w.write[c] = binaryWriter(col.Type, baseType(p.target[c]) == "jsonb")
	}
	return w
}

// appendRows appends the rows from next on until buf holds limit bytes or
// the rows end, and returns the row after the last it wrote. A value that
// is not of its column's type stops it with an error naming both. buf is
// a local, not a field: storing the slice after every value would take
// the collector's write barrier each time while it marks.
func (w *rowWriter) appendRows(buf []byte, next, limit int) ([]byte, int, error) {
	rows, columns := w.p.rows, w.p.columns
	for ; next < len(rows) && len(buf) < limit; next++ {
		row := rows[next]
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(row)))
		for c, v := range row {
			if v.IsNull() || v.IsAbsent() {
				buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1: NULL
				continue
			}
			if t := columns[c].Type; v.Type != t {
				return buf, next, valueError(*w.p, next, c, mismatch(v, t))
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0) // length, set below
			buf = w.write[c](buf, v)
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
	}
	return buf, next, nil
}

// copyChunk is how much the encoder writes ahead of the reader.
const copyChunk = 64 << 10

// pgEpochUnix is where PostgreSQL's binary timestamps count from,
// 2000-01-01 UTC, in Unix seconds.
const pgEpochUnix = 946684800

func newCopyEncoder(p *plan) *copyEncoder {
	e := &copyEncoder{rows: newRowWriter(p), pre: p.Encoded}
	size := copyChunk + 4096
	if len(p.rows) == 0 {
		size = 32 // the header and trailer around rows encoded ahead
	}
	e.buf = append(make([]byte, 0, size), "PGCOPY\n\xff\r\n\x00"...)
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
		if e.preAt < len(e.pre) {
			return e.readPre(out), nil
		}
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

// readPre reads rows encoded ahead, straight from their buffers.
func (e *copyEncoder) readPre(out []byte) int {
	chunk := e.pre[e.preAt][e.preOff:]
	n := copy(out, chunk)
	e.preOff += n
	if n == len(chunk) {
		e.preAt, e.preOff = e.preAt+1, 0
	}
	return n
}

// fill encodes rows until a chunk is ready, then the trailer after the last.
func (e *copyEncoder) fill() {
	e.buf, e.next, e.err = e.rows.appendRows(e.buf, e.next, copyChunk)
	if e.err == nil && e.next == len(e.rows.p.rows) {
		e.buf = binary.BigEndian.AppendUint16(e.buf, math.MaxUint16) // -1: end
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
