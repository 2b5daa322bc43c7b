package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNonHTTPBytesClosedSilently: a connection whose first line does not
// end in an HTTP version (h2spec's invalid HTTP/2 preface, an HTTP/0.9
// request, another protocol's greeting) is closed without an answer, in
// cleartext and over TLS, long before read_header_timeout; each is
// counted and logged as a 400. A malformed request line that is HTTP (an
// unsupported version, a bad method), and any malformed line after a
// first request, still gets its 400.
func TestNonHTTPBytesClosedSilently(t *testing.T) {
	o := startOrigin(t, echoHandler)
	cfg := func(tls string) string {
		return fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true, read_header_timeout: 30s%s}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, tls, o.addr)
	}
	cert, key := writeSelfSigned(t, t.TempDir())
	plain := startGateway(t, cfg(""))
	secure := startGateway(t, cfg(fmt.Sprintf(", tls: {cert_file: %q, key_file: %q}", cert, key)))

	silent := []string{"INVALID CONNECTION PREFACE\r\n\r\n", "GET /\r\n\r\n", "SSH-2.0-OpenSSH_9.6\r\n\r\n", "HELLO\nWORLD\n\n"}
	for _, gw := range []struct {
		name string
		g    *gateway
		dial func() net.Conn
	}{
		{"cleartext", plain, func() net.Conn { return dialT(t, plain.addr) }},
		{"tls", secure, func() net.Conn {
			c, err := tls.Dial("tcp", secure.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		for _, raw := range silent {
			c := gw.dial()
			out, err := exchangeUntilClosed(c, raw, 10*time.Second)
			if out != "" || err != nil {
				t.Errorf("%s: %q answered %q (%v), want the connection closed silently", gw.name, raw, out, err)
			}
		}
		loud := []string{"GET / HTTP/1.2\r\nHost: a\r\n\r\n", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET /a HTTP/1.1\r\nHost: a\r\n\r\nINVALID CONNECTION PREFACE\r\n\r\n"}
		for _, raw := range loud {
			out, err := exchangeUntilClosed(gw.dial(), raw, 10*time.Second)
			if !strings.HasPrefix(out, "HTTP/1.1 ") || !strings.Contains(out, "HTTP/1.1 400 ") ||
				!strings.Contains(out, `"error":"bad_request"`) || err != nil {
				t.Errorf("%s: %q answered %q (%v), want 400", gw.name, raw, out, err)
			}
		}
		sample := `tollgate_requests_total{code="400",protocol="http1",route="no_route"}`
		if v := gw.g.metric(sample); v != float64(len(silent)+len(loud)) {
			t.Errorf("%s: %s = %v, want %d: each refusal counted", gw.name, sample, v, len(silent)+len(loud))
		}
		closed := 0
		for _, l := range logLines(gw.g, "access") {
			if fmt.Sprint(l["status"]) == "400" && fmt.Sprint(l["bytes"]) == "0" {
				closed++
			}
		}
		if closed != len(silent) {
			t.Errorf("%s: %d access log lines of a 400 without bytes, want %d:\n%s", gw.name, closed, len(silent), gw.g.logs.String())
		}
	}
	if n := o.requests.Load(); n != 2 {
		t.Errorf("%d requests reached the upstream, want the 2 well-formed ones", n)
	}
}

// dialT dials addr over TCP, closed when the test ends.
func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchangeUntilClosed writes raw to c and reads until the gateway closes
// the connection: what it answered, and an error only when it did not
// close within timeout (a reset counts as closed).
func exchangeUntilClosed(c net.Conn, raw string, timeout time.Duration) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, raw); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(out), fmt.Errorf("not closed within %v: %w", timeout, err)
	}
	return string(out), nil
}
