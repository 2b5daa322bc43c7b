package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/auth/httpsig"
	"tollgate/internal/testkit"
)

const testSecret = "0123456789abcdef0123456789abcdef-bench"

// fieldsOf is httpsig.Fields over a net/http header.
type fieldsOf http.Header

func (f fieldsOf) pairs() [][2]string {
	var out [][2]string
	for name, vs := range f {
		for _, v := range vs {
			out = append(out, [2]string{name, v})
		}
	}
	return out
}

// verifier is a server that accepts a request only when its signature
// verifies with testSecret and its nonce was not seen before.
type verifier struct {
	key     *httpsig.Key
	mu      sync.Mutex
	nonces  map[string]bool
	refused []string
}

func newVerifier(t *testing.T) *verifier {
	k, err := httpsig.NewSecretKey([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return &verifier{key: k, nonces: map[string]bool{}}
}

func (v *verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := v.check(r); err != nil {
		v.mu.Lock()
		v.refused = append(v.refused, err.Error())
		v.mu.Unlock()
		w.WriteHeader(401)
		return
	}
	w.Write([]byte(strings.Repeat("x", 128)))
}

func (v *verifier) check(r *http.Request) error {
	sigs, err := httpsig.Parse(r.Header.Get("Signature-Input"), r.Header.Get("Signature"))
	if err != nil {
		return err
	}
	s := sigs[0]
	if s.Params.KeyID != "kid" || time.Since(s.Params.Created) > time.Minute || s.Params.Nonce == "" {
		return fmt.Errorf("parameters %+v", s.Params)
	}
	m := &httpsig.Message{Method: []byte(r.Method), Scheme: "http", Authority: []byte(r.Host),
		Target: []byte(r.RequestURI), Fields: httpsig.Pairs(fieldsOf(r.Header).pairs())}
	base, err := httpsig.Base(m, &s)
	if err != nil {
		return err
	}
	if err := v.key.Verify(base, s.Value); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nonces[s.Params.Nonce] {
		return httpsig.ErrBadSignature
	}
	v.nonces[s.Params.Nonce] = true
	return nil
}

// TestSignedLoad: every request loadgen sends in a short run verifies, with
// a nonce of its own, and the counts add up.
func TestSignedLoad(t *testing.T) {
	v := newVerifier(t)
	srv := httptest.NewServer(v)
	defer srv.Close()
	secret := testkit.WriteFile(t, t.TempDir(), "secret", []byte(testSecret+"\n"))
	res, err := run(options{url: srv.URL + "/bytes/128?a=1", conns: 4, duration: 300 * time.Millisecond,
		timeout: 5 * time.Second, headers: [][2]string{{"X-Bench", "1"}},
		sign: signOptions{keyID: "kid", keyFile: secret, alg: httpsig.AlgHMACSHA256,
			components: "@method @authority @path @query x-bench"}})
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if res.requests == 0 || res.non2xx != 0 || res.socketErrors != 0 || len(v.refused) != 0 {
		t.Fatalf("%d requests, %d non-2xx, %d socket errors; refused: %v", res.requests, res.non2xx, res.socketErrors, v.refused)
	}
	// Responses still in flight when the clock stops are not counted.
	if len(v.nonces) < res.requests || len(v.nonces) > res.requests+4 {
		t.Errorf("server accepted %d requests, loadgen counted %d", len(v.nonces), res.requests)
	}
	if res.p50 <= 0 || res.p99 < res.p50 {
		t.Errorf("p50 %v, p99 %v", res.p50, res.p99)
	}
}

// TestBadSignatureCounted: a server refusing the signature shows as non-2xx.
func TestBadSignatureCounted(t *testing.T) {
	v := newVerifier(t)
	srv := httptest.NewServer(v)
	defer srv.Close()
	secret := testkit.WriteFile(t, t.TempDir(), "secret", []byte(strings.Repeat("z", 40)))
	res, err := run(options{url: srv.URL + "/", conns: 2, duration: 200 * time.Millisecond, timeout: 5 * time.Second,
		sign: signOptions{keyID: "kid", keyFile: secret, alg: httpsig.AlgHMACSHA256, components: "@method @path"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.requests == 0 || res.non2xx != res.requests {
		t.Fatalf("%d requests, %d non-2xx: want all refused", res.requests, res.non2xx)
	}
}

// TestClientCertificate: over TLS, loadgen verifies the server against -ca
// and presents -cert; a server requiring a certificate it does not get
// refuses the handshake, which fails the run before the clock starts.
func TestClientCertificate(t *testing.T) {
	ca := testkit.NewCA(t, "bench test CA")
	server := ca.Issue(t, testkit.LeafOptions{CommonName: "srv", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	client := ca.Issue(t, testkit.LeafOptions{CommonName: "cli", URIs: []string{"spiffe://bench/cli"}, Client: true})
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.TLS.PeerCertificates[0].URIs[0].String()]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate(t)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	tlsOpts := tlsOptions{caFile: testkit.WriteFile(t, dir, "ca.pem", ca.PEM),
		certFile: testkit.WriteFile(t, dir, "c.pem", client.CertPEM), keyFile: testkit.WriteFile(t, dir, "c.key", client.KeyPEM)}
	res, err := run(options{url: srv.URL + "/", conns: 3, duration: 200 * time.Millisecond, timeout: 5 * time.Second, tls: tlsOpts})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := seen["spiffe://bench/cli"]
	mu.Unlock()
	if res.requests == 0 || res.non2xx != 0 || res.socketErrors != 0 || n < res.requests || !strings.HasPrefix(res.tlsState, "TLS 1.3 ") {
		t.Fatalf("%+v; server saw the certificate on %d requests", res, n)
	}
	// Without a certificate: TLS 1.3 clients learn of the refusal on their
	// first read, so every request is a socket error (and the client backs
	// off instead of spinning).
	tlsOpts.certFile, tlsOpts.keyFile = "", ""
	res, err = run(options{url: srv.URL + "/", conns: 1, duration: 200 * time.Millisecond, timeout: 5 * time.Second, tls: tlsOpts})
	if err != nil || res.requests != 0 || res.socketErrors == 0 || res.socketErrors > 25 {
		t.Fatalf("no client certificate: %+v, %v; want no answer, 1 to 25 socket errors", res, err)
	}
}

// TestResponseFraming: bodies framed by Content-Length, chunked encoding
// (with extensions and trailers) or the connection's end are skipped
// exactly, and the connection's fate follows the headers.
func TestResponseFraming(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno" +
		"HTTP/1.1 200 OK\r\n\r\nrest of the stream"
	br := bufio.NewReader(strings.NewReader(in))
	want := []response{{200, false}, {401, false}, {204, false}, {200, false}, {503, true}, {200, true}}
	for i, w := range want {
		var r response
		if err := r.read(br); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if r != w {
			t.Errorf("response %d: %+v, want %+v", i, r, w)
		}
	}
	for _, bad := range []string{"HTTP/1.1 2x0 OK\r\n\r\n", "SMTP ready\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"} {
		var r response
		if err := r.read(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestBadOptions: flags that cannot work are refused before any load.
func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(testSecret), 0o600)
	for name, o := range map[string]options{
		"no url":           {conns: 1, duration: time.Second, timeout: time.Second},
		"ftp url":          {url: "ftp://127.0.0.1/", conns: 1, duration: time.Second, timeout: time.Second},
		"zero conns":       {url: "http://127.0.0.1:1/", duration: time.Second, timeout: time.Second},
		"ca over http":     {url: "http://127.0.0.1:1/", conns: 1, duration: time.Second, timeout: time.Second, tls: tlsOptions{caFile: short}},
		"cert without key": {url: "https://127.0.0.1:1/", conns: 1, duration: time.Second, timeout: time.Second, tls: tlsOptions{certFile: short}},
		"short secret":     {url: "http://127.0.0.1:1/", conns: 1, duration: time.Second, timeout: time.Second, sign: signOptions{keyID: "k", keyFile: short, alg: httpsig.AlgHMACSHA256}},
		"keyid alone":      {url: "http://127.0.0.1:1/", conns: 1, duration: time.Second, timeout: time.Second, sign: signOptions{keyID: "k"}},
		"bad component":    {url: "http://127.0.0.1:1/", conns: 1, duration: time.Second, timeout: time.Second, sign: signOptions{keyID: "k", keyFile: good, alg: httpsig.AlgHMACSHA256, components: "@nope"}},
	} {
		if _, err := run(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
