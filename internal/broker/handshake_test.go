package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamforge/streamforge/internal/broker/brokertest"
)

// With SASL on, the broker answers ApiVersions exactly as kfake does,
// except that SaslHandshake starts at v0 — what librdkafka looks for
// before it logs in. Versions above the broker's get kfake's own error.
func TestApiVersionsAdvertiseSaslHandshakeV0(t *testing.T) {
	secure := brokertest.Start(t)
	plain := brokertest.StartWith(t, brokertest.Options{Plaintext: true})
	tests := []struct {
		name       string
		version    int16
		byteByByte bool // the request arrives in one-byte TLS records
		wantErr    int16
	}{
		{name: "v0", version: 0},
		{name: "v2", version: 2},
		{name: "v3 flexible", version: 3},
		{name: "v4 byte by byte", version: 4, byteByByte: true},
		{name: "above the broker's", version: 9, wantErr: kerr.UnsupportedVersion.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiVersions(t, dialTLS(t, secure), tt.version, tt.byteByByte)
			if got.ErrorCode != tt.wantErr {
				t.Fatalf("error code %d, want %d", got.ErrorCode, tt.wantErr)
			}
			want := apiVersions(t, dial(t, plain.Addr()), tt.version, false)
			if tt.wantErr == 0 {
				for i, k := range want.ApiKeys {
					if k.ApiKey == kmsg.SASLHandshake.Int16() {
						want.ApiKeys[i].MinVersion = 0
					}
				}
			}
			if len(got.ApiKeys) != len(want.ApiKeys) {
				t.Fatalf("%d API keys, want %d", len(got.ApiKeys), len(want.ApiKeys))
			}
			for i := range want.ApiKeys {
				g, w := got.ApiKeys[i], want.ApiKeys[i]
				if g.ApiKey != w.ApiKey || g.MinVersion != w.MinVersion || g.MaxVersion != w.MaxVersion {
					t.Fatalf("%s: %d..%d, want %s %d..%d", kmsg.NameForKey(g.ApiKey), g.MinVersion, g.MaxVersion,
						kmsg.NameForKey(w.ApiKey), w.MinVersion, w.MaxVersion)
				}
			}
			if tt.wantErr == 0 && len(got.SupportedFeatures) != len(want.SupportedFeatures) {
				t.Fatalf("%d supported features, want %d", len(got.SupportedFeatures), len(want.SupportedFeatures))
			}
		})
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func dialTLS(t *testing.T, c *brokertest.Cluster) net.Conn {
	t.Helper()
	pem, err := os.ReadFile(c.CAPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	conn := tls.Client(dial(t, c.Addr()), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err := conn.Handshake(); err != nil {
		t.Fatal(err)
	}
	return conn
}

// apiVersions sends one ApiVersions request at version and decodes the
// answer at the version the broker used.
func apiVersions(t *testing.T, conn net.Conn, version int16, byteByByte bool) *kmsg.ApiVersionsResponse {
	t.Helper()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(version)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "streamforge-test", "1"
	const corr = 7
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, req, corr)
	chunk := len(frame)
	if byteByByte {
		chunk = 1
	}
	for b := frame; len(b) > 0; b = b[min(chunk, len(b)):] {
		if _, err := conn.Write(b[:min(chunk, len(b))]); err != nil {
			t.Fatal(err)
		}
	}

	head := make([]byte, 8)
	if _, err := io.ReadFull(conn, head); err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(head[4:])); got != corr {
		t.Fatalf("correlation ID %d, want %d", got, corr)
	}
	body := make([]byte, binary.BigEndian.Uint32(head)-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	// A request above the broker's versions is answered at v0 (KIP-511).
	if version > resp.MaxVersion() {
		version = 0
	}
	resp.SetVersion(version)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding ApiVersions v%d: %v", version, err)
	}
	return resp
}
