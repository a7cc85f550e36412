package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake writes each response in one Write today; the shim must not depend
// on it. Two responses written in pieces of any size come out whole, the
// ApiVersions one widened and the other byte for byte.
func TestHandshakeConnRewritesSplitResponses(t *testing.T) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	for _, k := range []struct{ key, min, max int16 }{{0, 0, 11}, {17, 1, 1}, {36, 0, 2}} {
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k.key, MinVersion: k.min, MaxVersion: k.max})
	}
	apiFrame := frame(5, resp.AppendTo(nil))
	other := frame(6, []byte("a fetch response, say"))
	stream := append(append([]byte(nil), apiFrame...), other...)

	req := kmsg.NewRequestFormatter().AppendRequest(nil, &kmsg.ApiVersionsRequest{Version: 3}, 5)

	for _, chunk := range []int{1, 3, 9, len(apiFrame), len(stream)} {
		server, client := net.Pipe()
		hc := &handshakeConn{Conn: server, pending: map[int32]int16{}}

		// The request that the first response answers arrives in the
		// same pieces.
		sent := make(chan error, 1)
		go func() { sent <- writeChunks(client, req, chunk) }()
		if _, err := io.ReadFull(hc, make([]byte, len(req))); err != nil {
			t.Fatal(err)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}

		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, len(stream))
			_, _ = io.ReadFull(client, b)
			got <- b
		}()
		err := writeChunks(hc, stream, chunk)
		server.Close() // ends the reader early if a write failed
		out := <-got
		client.Close()
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}

		if !bytes.Equal(out[len(apiFrame):], other) {
			t.Fatalf("chunk %d: the second response changed", chunk)
		}
		widened := kmsg.NewPtrApiVersionsResponse()
		widened.SetVersion(3)
		if err := widened.ReadFrom(out[8:len(apiFrame)]); err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if k := widened.ApiKeys[1]; k.ApiKey != 17 || k.MinVersion != 0 || k.MaxVersion != 1 {
			t.Fatalf("chunk %d: SaslHandshake %d..%d, want 0..1", chunk, k.MinVersion, k.MaxVersion)
		}
		if k := widened.ApiKeys[0]; k.MinVersion != 0 || k.MaxVersion != 11 {
			t.Fatalf("chunk %d: Produce %d..%d changed", chunk, k.MinVersion, k.MaxVersion)
		}
	}
}

// writeChunks writes b in pieces of chunk bytes, checking each count.
func writeChunks(w io.Writer, b []byte, chunk int) error {
	for len(b) > 0 {
		n := min(chunk, len(b))
		if m, err := w.Write(b[:n]); err != nil || m != n {
			return fmt.Errorf("writing %d bytes: wrote %d, %v", n, m, err)
		}
		b = b[n:]
	}
	return nil
}

func frame(corr int32, body []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	f = binary.BigEndian.AppendUint32(f, uint32(corr))
	return append(f, body...)
}
