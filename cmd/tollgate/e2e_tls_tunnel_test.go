package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// writeSelfSigned writes a fresh ECDSA certificate and key for 127.0.0.1.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return writeSelfSignedKey(t, dir, key)
}

// writeSelfSignedKey writes a certificate for 127.0.0.1 signed by key
// itself, and key (PKCS#8).
func writeSelfSignedKey(t *testing.T, dir string, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tollgate-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestTLSTermination(t *testing.T) {
	o := startOrigin(t, echoHandler)
	cert, key := writeSelfSigned(t, t.TempDir())
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", tls: {cert_file: %q, key_file: %q}}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, cert, key, o.addr))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}}}
	resp, err := client.Get("https://" + g.addr + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Echo-X-Forwarded-Proto") != "https" || resp.TLS == nil {
		t.Fatalf("TLS request: %d proto=%q", resp.StatusCode, resp.Header.Get("X-Echo-X-Forwarded-Proto"))
	}
	old := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", g.addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake accepted")
	}
}

// TestWebSocketTunnel: an Upgrade answered 101 becomes a byte tunnel.
func TestWebSocketTunnel(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			http.Error(w, "no upgrade", 400)
			return
		}
		echoTunnel(w, r)
	})
	g := startGateway(t, basicConfig(o.addr, ""))
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n")
	r := bufio.NewReader(c)
	status, _ := r.ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("status %q", status)
	}
	for line, _ := r.ReadString('\n'); line != "\r\n"; line, _ = r.ReadString('\n') {
		if line == "" {
			t.Fatal("head cut short")
		}
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("frame-%d", i)
		io.WriteString(c, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(r, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %d: %q %v", i, buf, err)
		}
	}
	c.Close()
	waitFor(t, func() bool { return g.metric(`tollgate_spliced_bytes_total{direction="tunnel"}`) >= 21 })
}

// TestBadCertificateRefusesToStart: a certificate file that is readable
// but not a certificate stops the start with exit code 1.
func TestBadCertificateRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("not a certificate\n"), 0o600)
	os.WriteFile(key, []byte("not a key\n"), 0o600)
	cfg := filepath.Join(dir, "t.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("server: {listen: %q, tls: {cert_file: %q, key_file: %q}}\nadmin: {listen: \"\"}\n",
		testkit.FreeAddr(t), cert, key)), 0o644)
	out, err := exec.Command(binPath, "-config", cfg).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "TLS certificate") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}
