package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"tollgate/internal/testkit"
)

// tlsOrigin is a real HTTPS server on loopback with a certificate from a
// private CA; it counts health probes, resumed sessions and client
// certificates it saw.
type tlsOrigin struct {
	addr     string
	probes   atomic.Int64
	resumed  atomic.Int64
	conns    atomic.Int64
	clientCN atomic.Pointer[string]
}

func startTLSOrigin(t *testing.T, cert *testkit.Leaf, clientCA *testkit.CA) *tlsOrigin {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &tlsOrigin{addr: l.Addr().String()}
	tc := &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate(t)}}
	if clientCA != nil {
		tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool()
	}
	srv := &http.Server{TLSConfig: tc, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			o.probes.Add(1)
			return
		}
		if r.TLS.DidResume {
			o.resumed.Add(1)
		}
		if len(r.TLS.PeerCertificates) > 0 {
			cn := r.TLS.PeerCertificates[0].Subject.CommonName
			o.clientCN.Store(&cn)
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "tls ok %d", len(body))
	}), ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return o
}

// upstreamTLSConfig routes / to one TLS target.
func upstreamTLSConfig(addr, tlsBlock string) string {
	return fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  secure:
    targets: [%q]
    health_check: {path: /healthz, interval: 200ms}
    tls: %s
routes:
  - {name: secure, match: {path_prefix: /}, upstream: secure}
`, addr, tlsBlock)
}

// TestUpstreamTLS: a private CA, a mutual one, a wrong server name (502
// with a clear log line), pooled connections with session resumption,
// health checks over TLS and a large body through the buffered path.
func TestUpstreamTLS(t *testing.T) {
	dir := t.TempDir()
	ca, clientCA := testkit.NewCA(t, "upstream-ca"), testkit.NewCA(t, "gateway-clients")
	srvCert := ca.Issue(t, testkit.LeafOptions{DNSNames: []string{"api.internal"}, Server: true})
	gwCert := clientCA.Issue(t, testkit.LeafOptions{CommonName: "tollgate-gw", Client: true})
	caFile := testkit.WriteFile(t, dir, "ca.pem", ca.PEM)
	certFile, keyFile := testkit.WriteFile(t, dir, "gw.pem", gwCert.CertPEM), testkit.WriteFile(t, dir, "gw.key", gwCert.KeyPEM)

	t.Run("private CA", func(t *testing.T) {
		o := startTLSOrigin(t, srvCert, nil)
		g := startGateway(t, upstreamTLSConfig(o.addr, fmt.Sprintf(`{ca_file: %q, server_name: api.internal}`, caFile)))
		waitFor(t, func() bool { return o.probes.Load() > 0 })
		var wg sync.WaitGroup
		var bad atomic.Int64
		for round := 0; round < 3; round++ { // bursts open several pooled connections
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Get(g.url("/x"))
					if err != nil {
						bad.Add(1)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "tls ok 0" {
						bad.Add(1)
					}
				}()
			}
			wg.Wait()
			// The gateway gives a connection back just after the answer's last
			// byte: a burst that starts before that dials afresh. Wait until
			// every connection of this burst is back in the pool.
			waitFor(t, func() bool { return poolLent(t, g) == 0 })
		}
		if bad.Load() != 0 {
			t.Fatalf("%d of 24 requests over upstream TLS failed", bad.Load())
		}
		if o.conns.Load() > 9 { // 8 at once at most, plus the health checker's
			t.Errorf("origin saw %d TLS connections for 24 requests: not pooled", o.conns.Load())
		}
		t.Logf("24 requests: %d TLS connections, %d requests on resumed sessions", o.conns.Load(), o.resumed.Load())
		if o.resumed.Load() == 0 {
			t.Errorf("no request came on a resumed TLS session (%d connections)", o.conns.Load())
		}
		big := strings.Repeat("b", 300<<10) // over the splice threshold: buffered copy over TLS
		resp, err := http.Post(g.url("/upload"), "application/octet-stream", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != fmt.Sprintf("tls ok %d", len(big)) {
			t.Errorf("large body over TLS: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("mutual", func(t *testing.T) {
		o := startTLSOrigin(t, srvCert, clientCA)
		g := startGateway(t, upstreamTLSConfig(o.addr, fmt.Sprintf(`{ca_file: %q, server_name: api.internal, client_cert_file: %q, client_key_file: %q}`, caFile, certFile, keyFile)))
		waitFor(t, func() bool { return o.probes.Load() > 0 })
		resp, err := http.Get(g.url("/m"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cn := o.clientCN.Load(); resp.StatusCode != 200 || cn == nil || *cn != "tollgate-gw" {
			t.Errorf("mutual TLS: status %d, origin saw client %v", resp.StatusCode, cn)
		}
	})

	t.Run("wrong server name", func(t *testing.T) {
		o := startTLSOrigin(t, srvCert, nil)
		cfg := strings.Replace(upstreamTLSConfig(o.addr, fmt.Sprintf(`{ca_file: %q, server_name: other.internal}`, caFile)),
			"    health_check: {path: /healthz, interval: 200ms}\n", "", 1)
		g := startGateway(t, cfg)
		resp, err := http.Get(g.url("/w"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("wrong server name: status %d, want 502", resp.StatusCode)
		}
		waitFor(t, func() bool {
			logs := g.logs.String()
			return strings.Contains(logs, "upstream TLS certificate verification failed") && strings.Contains(logs, `"server_name":"other.internal"`)
		})
	})
}

// poolLent returns how many upstream connections the gateway has lent out
// (in flight, over every target), from the dashboard's state.
func poolLent(t *testing.T, g *gateway) int {
	t.Helper()
	resp, err := http.Get("http://" + g.admin + "/ui/state.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Upstreams []struct {
			Targets []struct {
				InFlight int `json:"in_flight"`
			} `json:"targets"`
		} `json:"upstreams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, u := range st.Upstreams {
		for _, tg := range u.Targets {
			n += tg.InFlight
		}
	}
	return n
}
