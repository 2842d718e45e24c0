package librato_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var tlsSerial = big.NewInt(1)

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tlsSerial.Add(tlsSerial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(tlsSerial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA, for a server (127.0.0.1) or a client.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tlsSerial.Add(tlsSerial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Set(tlsSerial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// mtlsServer starts the fake API behind TLS that requires a client certificate from clientCA,
// presenting a server certificate from serverCA.
func mtlsServer(t *testing.T, serverCA, clientCA *testCA) *httptest.Server {
	t.Helper()
	certPEM, keyPEM := serverCA.issue(t, "fake librato", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ts := httptest.NewUnstartedServer(libratotest.NewUnstartedServer())
	ts.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "test CA")
	otherCA := newTestCA(t, "other CA")
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	otherCAFile := writeFile(t, dir, "other-ca.pem", otherCA.pem)
	cc, ck := ca.issue(t, "client", false)
	certFile, keyFile := writeFile(t, dir, "client.pem", cc), writeFile(t, dir, "client.key", ck)
	clientPair, err := tls.X509KeyPair(cc, ck)
	require.NoError(t, err)

	good := mtlsServer(t, ca, ca)         // server cert from our CA
	foreign := mtlsServer(t, otherCA, ca) // server cert from a CA we do not trust
	noRetry := librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1})

	tests := []struct {
		name    string
		srv     *httptest.Server
		opts    []librato.Option
		wantErr string // "" means the call succeeds
	}{
		{"client cert, trusted server", good, []librato.Option{librato.WithTLS(caFile, certFile, keyFile)}, ""},
		{"no client cert", good, []librato.Option{librato.WithTLS(caFile, "", "")}, "certificate required"},
		{"server cert from another CA", foreign, []librato.Option{librato.WithTLS(caFile, certFile, keyFile)}, "unknown authority"},
		{"system roots do not trust a test CA", good, []librato.Option{librato.WithTLS("", certFile, keyFile)}, "certificate"},
		{"no TLS options: verification is on", good, nil, "unknown authority"},
		{"trusting the other CA fails on our server", good, []librato.Option{librato.WithTLS(otherCAFile, certFile, keyFile)}, "unknown authority"},
		{"caller's own config may skip verification", foreign, []librato.Option{librato.WithTLSConfig(&tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the point of the test: only an explicit config relaxes checks
			Certificates:       []tls.Certificate{clientPair},
		})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]librato.Option{librato.WithBaseURL(tt.srv.URL + "/v1/"), noRetry}, tt.opts...)
			c, err := librato.Connect(libratotest.DefaultUser, libratotest.DefaultToken, opts...)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = c.Ping(ctx)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, c.Submit(ctx, librato.Measurement{Name: "tls.ok", Value: 1}))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), libratotest.DefaultToken)
		})
	}
}

func TestWithTLSErrors(t *testing.T) {
	ca := newTestCA(t, "test CA")
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	cc, ck := ca.issue(t, "client", false)
	certFile, keyFile := writeFile(t, dir, "client.pem", cc), writeFile(t, dir, "client.key", ck)
	notPEM := writeFile(t, dir, "junk.pem", []byte("not a certificate"))
	tests := []struct {
		name string
		opt  librato.Option
		want string
	}{
		{"missing CA file", librato.WithTLS(filepath.Join(dir, "nope.pem"), "", ""), "nope.pem"},
		{"CA file without PEM", librato.WithTLS(notPEM, "", ""), "no PEM certificate"},
		{"cert without key", librato.WithTLS(caFile, certFile, ""), "go together"},
		{"key without cert", librato.WithTLS(caFile, "", keyFile), "go together"},
		{"key does not match", librato.WithTLS(caFile, certFile, caFile), "WithTLS"},
		{"nil config", librato.WithTLSConfig(nil), "nil config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := librato.Connect("u@example.com", "tok", tt.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := librato.Connect("u@example.com", "tok", librato.WithTLS(caFile, certFile, keyFile),
		librato.WithHTTPClient(&http.Client{}))
	assert.ErrorContains(t, err, "conflict")
}
