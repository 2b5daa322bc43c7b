package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"tollgate/conf"
)

// TLS to upstreams (upstreams.NAME.tls).
//
// A target of a TLS upstream dials TCP, then completes a TLS handshake
// (TLS 1.2+, verified against ca_file or the system roots, server_name
// or the target's host, a client certificate when configured) before the
// connection enters its pool. Sessions are resumed from a cache shared by
// the upstream's targets, so a new pooled connection usually costs an
// abbreviated handshake. A handshake failure is a connect failure (502,
// retried and counted by the breaker like one) with a warning naming the
// upstream, the target, the server name and the cause.
//
// A TLS connection has no raw socket for the event loops (its Sock has no
// descriptor): AcquireIdle does not lend it to a loop, and an exchange
// that takes one goes on a worker, copying bodies through buffers (splice
// cannot cross TLS).

// buildUpstreamTLS returns the client config of an upstream's tls block and a
// string that changes whenever the block or one of its files does: part
// of the target's identity, so a changed TLS setup gets fresh pools.
func buildUpstreamTLS(c *conf.UpstreamTLS) (*tls.Config, string, error) {
	if c == nil {
		return nil, "", nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, ClientSessionCache: tls.NewLRUClientSessionCache(256)}
	h := sha256.New()
	fmt.Fprintf(h, "%q|%v|", c.ServerName, c.InsecureSkipVerify)
	if c.CAFile != "" {
		cas, err := conf.ParseCAFile(c.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("tls.ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		for _, ca := range cas {
			cfg.RootCAs.AddCert(ca)
			h.Write(ca.Raw)
		}
	}
	if c.ClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		key, _ := os.ReadFile(c.ClientKeyFile)
		for _, der := range pair.Certificate {
			h.Write(der)
		}
		h.Write(key)
	}
	return cfg, hex.EncodeToString(h.Sum(nil)), nil
}

// forTarget returns cfg for one target: its host as the server name when
// none is configured.
func forTarget(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil || cfg.ServerName != "" {
		return cfg
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c := cfg.Clone() // shares the session cache
	c.ServerName = host
	return c
}

// handshake turns a dialled connection into a TLS one, within deadline
// and the connect timeout.
func (t *Target) handshake(nc net.Conn, tc *tls.Config, deadline time.Time) (net.Conn, error) {
	ctx := context.Background()
	if d := time.Duration(t.connectTimeout.Load()); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	conn := tls.Client(nc, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		nc.Close()
		var verr *tls.CertificateVerificationError
		reason := "handshake failed"
		if errors.As(err, &verr) {
			reason = "certificate verification failed"
		}
		if ok, _ := t.tlsLog.Allow(time.Now(), time.Second); ok { // every failure is also a failed try
			t.logger().Warn("upstream TLS "+reason, "upstream", t.Upstream(), "target", t.Addr,
				"server_name", tc.ServerName, "err", err)
		}
		return nil, fmt.Errorf("TLS handshake with %s (server name %q): %w", t.Addr, tc.ServerName, err)
	}
	return conn, nil
}

// aliveTLS checks an idle TLS connection off the loop: a read with a
// 1 ms deadline must time out (EOF: the server closed it; bytes: out of
// step).
func (c *Conn) aliveTLS() bool {
	if err := c.Conn.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var b [1]byte
	n, err := c.Conn.Read(b[:])
	var ne net.Error
	ok := n == 0 && errors.As(err, &ne) && ne.Timeout()
	return ok && c.Conn.SetReadDeadline(time.Time{}) == nil
}

// logger is the target's logger (a discarding one for targets made
// outside a Registry).
func (t *Target) logger() *slog.Logger {
	if t.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.log
}
