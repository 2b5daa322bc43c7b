package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"tollgate/conf"
)

// The listener's TLS: its certificate and, when server.tls.client_ca is
// set, client certificates. The tls.Config is rebuilt from the files on
// every start and reload and handed to each handshake through
// GetConfigForClient, so a reload applies a new certificate, CA bundle or
// CRL to the next handshake without touching the listener.
//
// Client certificates are asked for (tls.RequestClientCert) and verified
// here, in VerifyConnection — which also runs when a session is resumed,
// so a certificate revoked by a reloaded CRL cannot come back through a
// session ticket: the chain must lead to a configured CA, be valid now,
// be meant for client authentication, and its leaf must not be in the
// CRL. With client_auth: require a missing certificate fails the
// handshake too. Every refusal is counted in
// tollgate_client_cert_refusals_total{reason} and logged at debug.

// Reasons a client certificate is refused.
const (
	certMissing   = "missing"
	certExpired   = "expired"
	certUntrusted = "untrusted"
	certRevoked   = "revoked"
)

// clientCerts verifies client certificates for one config.
type clientCerts struct {
	roots   *x509.CertPool
	require bool
	revoked map[string]bool // issuer DER + serial bytes
	m       *Metrics
	log     *slog.Logger
	now     func() time.Time
}

// buildServerTLS returns the listener's tls.Config for cfg, or nil when
// TLS is off.
func buildServerTLS(cfg *conf.Config, m *Metrics, log *slog.Logger) (*tls.Config, error) {
	t := cfg.Server.TLS
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	tc := serverTLSConfig(nil) // the listener's versions and suites
	tc.Certificates = []tls.Certificate{cert}
	tc.NextProtos = []string{"http/1.1"}
	if cfg.Server.HTTP2.Enabled {
		tc.NextProtos = []string{"h2", "http/1.1"} // ALPN: HTTP/2 first (h2server.go)
	}
	if t.ClientCA == "" {
		return tc, nil
	}
	cc, err := newClientCerts(t, m, log)
	if err != nil {
		return nil, err
	}
	tc.ClientAuth = tls.RequestClientCert
	tc.VerifyConnection = cc.verify
	return tc, nil
}

// newClientCerts reads the CA bundle and the CRL.
func newClientCerts(t conf.TLS, m *Metrics, log *slog.Logger) (*clientCerts, error) {
	cas, err := conf.ParseCAFile(t.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("loading server.tls.client_ca: %w", err)
	}
	cc := &clientCerts{roots: x509.NewCertPool(), require: t.ClientAuth == conf.ClientAuthRequire,
		revoked: map[string]bool{}, m: m, log: log, now: time.Now}
	for _, ca := range cas {
		cc.roots.AddCert(ca)
	}
	if t.CRLFile == "" {
		return cc, nil
	}
	crl, err := conf.ParseCRLFile(t.CRLFile)
	if err != nil {
		return nil, fmt.Errorf("loading server.tls.crl_file: %w", err)
	}
	if !signedByOneOf(crl, cas) {
		return nil, errors.New("loading server.tls.crl_file: the CRL is not signed by a certificate of client_ca")
	}
	for _, e := range crl.RevokedCertificateEntries {
		cc.revoked[string(crl.RawIssuer)+string(e.SerialNumber.Bytes())] = true
	}
	return cc, nil
}

// signedByOneOf reports whether one of cas signed crl.
func signedByOneOf(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// verify is the handshake's VerifyConnection.
func (cc *clientCerts) verify(cs tls.ConnectionState) error {
	reason, err := cc.judge(cs.PeerCertificates)
	if reason == "" {
		return nil
	}
	cc.m.ClientCertRefusal(reason)
	cc.log.Debug("client certificate refused", "reason", reason, "err", err)
	return fmt.Errorf("client certificate %s: %w", reason, err)
}

// judge returns why certs are refused ("" when they are not).
func (cc *clientCerts) judge(certs []*x509.Certificate) (string, error) {
	if len(certs) == 0 {
		if cc.require {
			return certMissing, errors.New("none presented")
		}
		return "", nil
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: cc.roots, Intermediates: inter, CurrentTime: cc.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return certExpired, err
	case err != nil:
		return certUntrusted, err
	case cc.revoked[string(leaf.RawIssuer)+string(leaf.SerialNumber.Bytes())]:
		return certRevoked, fmt.Errorf("serial %s is in the CRL", leaf.SerialNumber)
	}
	return "", nil
}

// peerCert returns the verified client certificate of a TLS connection,
// or nil.
func peerCert(c net.Conn) *x509.Certificate {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState }) // a TLS connection or an HTTP/2 stream of one
	if !ok {
		return nil
	}
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		return certs[0]
	}
	return nil
}
