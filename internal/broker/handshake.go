package broker

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// librdkafka (2.0 as Debian 12 ships it, under kcat and Python's
// confluent_kafka) decides from the ApiVersions answer whether a broker can
// do SASL: it wants SaslHandshake version 0 inside the advertised range,
// and only then starts a handshake, at the highest version both sides know
// (v1, followed by SaslAuthenticate).
// kfake serves v1 only and advertises 1..1, so librdkafka gives up with
// "SASL Handshake not supported by broker". Real Kafka advertises 0..1.
//
// handshakeListener widens the advertised range to 0..1 in kfake's
// ApiVersions responses and passes every other byte through unchanged, so
// kfake still does all the SASL work: franz-go and librdkafka both send a
// v1 handshake, and a wrong password is refused as before. A client that
// really sends a v0 handshake (Kafka clients older than 1.0) is still
// refused by kfake.
type handshakeListener struct{ net.Listener }

func (l handshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: c, pending: map[int32]int16{}}, nil
}

// handshakeConn is one client connection as kfake sees it: kfake reads the
// client's requests through Read and writes its responses through Write.
type handshakeConn struct {
	net.Conn

	reqs requestScanner // used by Read only

	mu      sync.Mutex
	pending map[int32]int16 // correlation ID → version of each unanswered ApiVersions request

	partial []byte // used by Write only: a response frame not yet written in full
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.reqs.scan(p[:n], func(corr int32, version int16) {
		c.mu.Lock()
		c.pending[corr] = version
		c.mu.Unlock()
	})
	return n, err
}

// Write forwards whole response frames; a frame split over several writes
// is held back until it is complete, because an ApiVersions response can
// only be rewritten whole.
func (c *handshakeConn) Write(b []byte) (int, error) {
	n := len(b)
	if len(c.partial) > 0 {
		b = append(c.partial, b...)
		c.partial = nil
	}
	for len(b) >= 4 {
		size := 4 + int(binary.BigEndian.Uint32(b))
		if len(b) < size {
			break
		}
		if _, err := c.Conn.Write(c.rewrite(b[:size])); err != nil {
			return 0, err
		}
		b = b[size:]
	}
	if len(b) > 0 {
		c.partial = append([]byte(nil), b...)
	}
	return n, nil
}

// rewrite returns frame, or the widened response when frame answers an
// ApiVersions request.
func (c *handshakeConn) rewrite(frame []byte) []byte {
	if len(frame) < 8 {
		return frame
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:8]))
	c.mu.Lock()
	version, ok := c.pending[corr]
	delete(c.pending, corr)
	c.mu.Unlock()
	if !ok {
		return frame
	}
	return advertiseHandshakeV0(frame, version)
}

// advertiseHandshakeV0 lowers SaslHandshake's minimum version to 0 in an
// ApiVersions response frame: size, correlation ID, body. Its header has
// no tagged fields at any version (KIP-511).
func advertiseHandshakeV0(frame []byte, version int16) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	// An error answer (UNSUPPORTED_VERSION, written at v0 whatever the
	// request's version) lists no SaslHandshake: leave it alone. The
	// error code comes first at every version, so it is read right even
	// when the rest of the body does not decode at the request's version.
	if err := resp.ReadFrom(frame[8:]); err != nil || resp.ErrorCode != 0 {
		return frame
	}
	widened := false
	for i := range resp.ApiKeys {
		if k := &resp.ApiKeys[i]; k.ApiKey == kmsg.SASLHandshake.Int16() && k.MinVersion > 0 {
			k.MinVersion = 0
			widened = true
		}
	}
	if !widened {
		return frame
	}
	out := append(make([]byte, 0, len(frame)), frame[:8]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// requestScanner follows the request frames of one connection (size,
// then key, version and correlation ID, then the rest) through reads of
// any length, and reports each ApiVersions request.
type requestScanner struct {
	head [12]byte
	have int // bytes of head read
	skip int // bytes of the current frame still to pass over
}

func (s *requestScanner) scan(b []byte, apiVersions func(corr int32, version int16)) {
	for len(b) > 0 {
		if s.skip > 0 {
			k := min(s.skip, len(b))
			s.skip -= k
			b = b[k:]
			continue
		}
		k := copy(s.head[s.have:], b)
		s.have += k
		b = b[k:]
		if s.have < len(s.head) {
			return
		}
		s.have = 0
		s.skip = max(int(binary.BigEndian.Uint32(s.head[0:4]))-8, 0)
		if int16(binary.BigEndian.Uint16(s.head[4:6])) == kmsg.ApiVersions.Int16() {
			apiVersions(int32(binary.BigEndian.Uint32(s.head[8:12])), int16(binary.BigEndian.Uint16(s.head[6:8])))
		}
	}
}
