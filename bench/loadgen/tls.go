package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// tlsOptions are the https flags.
type tlsOptions struct {
	caFile, certFile, keyFile, serverName string
}

// set reports whether any TLS flag was given.
func (t tlsOptions) set() bool {
	return t.caFile != "" || t.certFile != "" || t.keyFile != "" || t.serverName != ""
}

// config builds the client configuration: the server verified against
// -ca (the system roots without it), the client certificate presented
// when asked, sessions cached for reconnections.
func (t tlsOptions) config(host string) (*tls.Config, error) {
	c := &tls.Config{ServerName: host, ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	if t.serverName != "" {
		c.ServerName = t.serverName
	}
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate", t.caFile)
		}
	}
	if (t.certFile == "") != (t.keyFile == "") {
		return nil, fmt.Errorf("-cert and -key go together")
	}
	if t.certFile != "" {
		cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
