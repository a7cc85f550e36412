// Package brokertest starts an embedded broker for tests, with TLS and
// SCRAM-SHA-512 by default, and returns the client settings that reach it.
package brokertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/broker"
	"github.com/streamforge/streamforge/internal/kafka"
)

// Test credentials of the secure broker.
const (
	User     = "streamforge"
	Password = "s3cret-Pa55word-for-tests"
)

// Cluster is a running test broker.
type Cluster struct {
	*broker.Broker
	// Kafka reaches the broker with the right CA and credentials.
	Kafka kafka.Config
	// CAPath is the PEM file of the CA that signed the broker's certificate.
	CAPath string
	// Env holds the KAFKA_* variables for a program under test.
	Env []string
}

// Options tune a test broker.
type Options struct {
	Plaintext bool   // no TLS, no SASL
	DataDir   string // empty: in memory
	Addr      string // empty: 127.0.0.1:0
}

// Start runs a TLS + SCRAM-SHA-512 broker closed at the end of the test.
func Start(t testing.TB) *Cluster { return StartWith(t, Options{}) }

// StartWith runs a broker with options, closed at the end of the test.
func StartWith(t testing.TB, o Options) *Cluster {
	t.Helper()
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cfg := broker.Config{Addr: addr, DataDir: o.DataDir}
	c := &Cluster{}
	if !o.Plaintext {
		dir := t.TempDir()
		caPEM, serverCert := NewCA(t, dir)
		c.CAPath = filepath.Join(dir, "ca.crt")
		if err := os.WriteFile(c.CAPath, caPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}
		cfg.Users = []broker.User{{Mechanism: kafka.MechScramSHA512, Name: User, Password: Password}}
	}
	b, err := broker.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	c.Broker = b
	c.Kafka = kafka.Config{Brokers: []string{b.Addr()}, ConnectTimeout: 10 * time.Second}
	c.Env = []string{"KAFKA_BOOTSTRAP_SERVERS=" + b.Addr()}
	if !o.Plaintext {
		c.Kafka.User, c.Kafka.Password, c.Kafka.CAPath = User, Password, c.CAPath
		c.Env = append(c.Env, "KAFKA_USER="+User, "KAFKA_PASSWORD="+Password, "KAFKA_CA_PATH="+c.CAPath)
	}
	return c
}

// NewCA makes a throw-away CA and a server certificate for 127.0.0.1 and
// localhost signed by it; it returns the CA's PEM and the server pair.
func NewCA(t testing.TB, dir string) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "StreamForge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "server.crt"), certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "server.key"), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pair
}

// Client connects a Kafka client to the broker, closed at the end of the
// test.
func (c *Cluster) Client(t testing.TB) *kafka.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.Kafka.ConnectTimeout)
	defer cancel()
	cl, err := kafka.Connect(ctx, c.Kafka, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
