package main

import (
	"bufio"
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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/web"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "monban test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeTLSClosesAmbiguousFraming: over TLS, as over plain TCP, a
// request framed by both Content-Length and Transfer-Encoding is answered
// once with 400 and the connection closed; an ordinary request is served.
func TestServeTLSClosesAmbiguousFraming(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.Data, cfg.Dev = t.TempDir(), true
	cfg.Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cfg.HashMemoryKiB, cfg.HashTime, cfg.HashThreads = 64, 1, 1
	n, err := node.New(context.Background(), cfg, slog.New(slog.DiscardHandler), monban.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveUntil(ctx, web.NewHTTPServer(n.Web.Handler()), ln, node.Config{TLSCert: cert, TLSKey: key})
	}()
	t.Cleanup(func() { cancel(); <-done })
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	c, br := dial()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: monban\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain GET over TLS: %v %v", resp, err)
	}
	c, br = dial()
	io.WriteString(c, "POST /api/v1/sessions HTTP/1.1\r\nHost: monban\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /healthz HTTP/1.1\r\nHost: monban\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("ambiguous request over TLS: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("the smuggled request was answered: %d", resp.StatusCode)
	}
}
