package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// client is one keep-alive connection and what it measured.
type client struct {
	tg      *target
	headers [][2]string
	signer  *signer
	timeout time.Duration

	conn net.Conn
	br   *bufio.Reader
	req  []byte // reused request head
	resp response

	latencies    []time.Duration
	socketErrors int
	non2xx       int
}

func newClient(tg *target, headers [][2]string, sg *signer, timeout time.Duration) *client {
	return &client{tg: tg, headers: headers, signer: sg, timeout: timeout,
		req: make([]byte, 0, 1024), latencies: make([]time.Duration, 0, 1<<16)}
}

// dial opens the connection; for https the handshake completes here.
func (c *client) dial() error {
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.Dial("tcp", c.tg.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.tg.addr, err)
	}
	if c.tg.tls != nil {
		tc := tls.Client(conn, c.tg.tls)
		tc.SetDeadline(time.Now().Add(c.timeout))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return fmt.Errorf("TLS handshake with %s: %w", c.tg.addr, err)
		}
		tc.SetDeadline(time.Time{})
		conn = tc
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 32<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// tlsState names the connection's TLS version and cipher suite ("" for
// plain HTTP).
func (c *client) tlsState() string {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return ""
	}
	s := tc.ConnectionState()
	return tls.VersionName(s.Version) + " " + tls.CipherSuiteName(s.CipherSuite)
}

// loop sends requests one after the other until end; responses completed
// after end are not counted. A connection that fails before its first
// answer (a refused dial, or a client certificate refused after a TLS 1.3
// handshake) is retried after 10 ms, not in a busy loop.
func (c *client) loop(end time.Time) {
	fresh := false // no answer yet on this connection
	for time.Now().Before(end) {
		if c.conn == nil {
			if err := c.dial(); err != nil {
				c.socketErrors++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			fresh = true
		}
		c.conn.SetDeadline(end.Add(c.timeout))
		t0 := time.Now()
		keep, err := c.roundTrip()
		done := time.Now()
		if err != nil {
			if done.Before(end) {
				c.socketErrors++
			}
			c.close()
			if fresh {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		fresh = false
		if done.After(end) {
			return
		}
		c.latencies = append(c.latencies, done.Sub(t0))
		if c.resp.status < 200 || c.resp.status > 299 {
			c.non2xx++
		}
		if !keep {
			c.close()
		}
	}
}

// roundTrip writes one request and reads its response; keep reports
// whether the connection may carry another.
func (c *client) roundTrip() (keep bool, err error) {
	if c.req, err = c.buildRequest(c.req[:0]); err != nil {
		return false, err
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	if err := c.resp.read(c.br); err != nil {
		return false, err
	}
	return !c.resp.close, nil
}

// buildRequest appends the request head to b.
func (c *client) buildRequest(b []byte) ([]byte, error) {
	b = append(b, "GET "...)
	b = append(b, c.tg.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.tg.host...)
	b = append(b, "\r\n"...)
	for _, h := range c.headers {
		b = appendHeader(b, h[0], h[1])
	}
	if c.signer != nil {
		input, sig, err := c.signer.sign("GET", c.tg.scheme, c.tg.host, c.tg.path, c.headers)
		if err != nil {
			return b, err
		}
		b = appendHeader(b, "Signature-Input", input)
		b = appendHeader(b, "Signature", sig)
	}
	return append(b, "\r\n"...), nil
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}
