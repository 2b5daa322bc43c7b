package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// mtlsClient returns a client that trusts serverCA and presents cert
// (none when nil), with a fresh TLS session each connection.
func mtlsClient(t *testing.T, serverCA *testkit.CA, cert *testkit.Leaf) *http.Client {
	tc := &tls.Config{RootCAs: serverCA.Pool()}
	if cert != nil {
		tc.Certificates = []tls.Certificate{cert.TLSCertificate(t)}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
}

// tlsGet returns the status of GET url, or 0 and the error when the
// connection failed (a refused handshake).
func tlsGet(c *http.Client, url string) (int, http.Header, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

const spiffeBilling = "spiffe://tollgate.test/ns/prod/sa/billing"

// TestMutualTLS: a SPIFFE URI SAN is the client id that keys a quota;
// untrusted and expired certificates are refused in the handshake; a
// certificate revoked by a CRL reloaded on SIGHUP is refused; switching
// client_auth to require on reload refuses callers without one.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testkit.NewCA(t, "server-ca"), testkit.NewCA(t, "client-ca"), testkit.NewCA(t, "other-ca")
	srv := serverCA.Issue(t, testkit.LeafOptions{CommonName: "gw", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	billing := clientCA.Issue(t, testkit.LeafOptions{CommonName: "billing", URIs: []string{spiffeBilling}, Client: true})
	revoked := clientCA.Issue(t, testkit.LeafOptions{URIs: []string{"spiffe://tollgate.test/ns/prod/sa/old"}, Client: true})
	expired := clientCA.Issue(t, testkit.LeafOptions{URIs: []string{"spiffe://tollgate.test/x"}, Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	stranger := otherCA.Issue(t, testkit.LeafOptions{URIs: []string{spiffeBilling}, Client: true})
	noURI := clientCA.Issue(t, testkit.LeafOptions{CommonName: "cn-only", Client: true})
	crl := testkit.WriteFile(t, dir, "client.crl", clientCA.CRL(t))
	up := startOrigin(t, echoHandler)
	cfg := func(clientAuth string) string {
		return fmt.Sprintf(`
server:
  listen: "LISTEN"
  tls: {cert_file: %q, key_file: %q, client_ca: %q, client_auth: %s, crl_file: %q}
admin: {listen: "ADMIN"}
auth:
  mtls: {client_id_from: san_uri}
upstreams: {app: {targets: [%q]}}
clients:
  default: {rate: 100000/s}
  %q: {rate: 1/h, burst: 2}
routes:
  - {name: mtls, match: {path_prefix: /svc}, upstream: app, auth: [mtls]}
  - {name: open, match: {path_prefix: /}, upstream: app}
`, testkit.WriteFile(t, dir, "srv.pem", srv.CertPEM), testkit.WriteFile(t, dir, "srv.key", srv.KeyPEM),
			testkit.WriteFile(t, dir, "ca.pem", clientCA.PEM), clientAuth, crl, up.addr, spiffeBilling)
	}
	g := startGateway(t, cfg("request"))
	url := "https://" + g.addr

	// The SPIFFE ID is the client id: sent upstream and metered.
	var statuses []int
	for i := 0; i < 3; i++ {
		st, h, err := tlsGet(mtlsClient(t, serverCA, billing), url+"/svc/a")
		if err != nil {
			t.Fatalf("request %d with a good certificate: %v", i, err)
		}
		if st == 200 && h.Get("X-Echo-X-Client-Id") != spiffeBilling {
			t.Errorf("upstream saw X-Client-Id %q, want %q", h.Get("X-Echo-X-Client-Id"), spiffeBilling)
		}
		statuses = append(statuses, st)
	}
	if fmt.Sprint(statuses) != "[200 200 429]" {
		t.Errorf("statuses %v, want [200 200 429]: the quota of the SPIFFE ID (burst 2) applies", statuses)
	}
	// client_auth: request — no certificate is fine on open routes, 401 on mtls ones.
	if st, _, err := tlsGet(mtlsClient(t, serverCA, nil), url+"/open"); err != nil || st != 200 {
		t.Errorf("no certificate, open route: %d %v", st, err)
	}
	if st, _, err := tlsGet(mtlsClient(t, serverCA, nil), url+"/svc/a"); err != nil || st != 401 {
		t.Errorf("no certificate, mtls route: %d %v, want 401", st, err)
	}
	if st, _, err := tlsGet(mtlsClient(t, serverCA, noURI), url+"/svc/a"); err != nil || st != 401 {
		t.Errorf("certificate without a URI SAN: %d %v, want 401", st, err)
	}
	before := up.requests.Load()
	for name, leaf := range map[string]*testkit.Leaf{"untrusted": stranger, "expired": expired} {
		if st, _, err := tlsGet(mtlsClient(t, serverCA, leaf), url+"/open"); err == nil {
			t.Errorf("%s certificate: status %d, want a refused handshake", name, st)
		}
	}
	if st, _, err := tlsGet(mtlsClient(t, serverCA, revoked), url+"/svc/a"); err != nil || st != 200 {
		t.Fatalf("not yet revoked certificate: %d %v", st, err)
	}
	// Revoke it: a new CRL, SIGHUP.
	testkit.WriteFile(t, dir, "client.crl", clientCA.CRL(t, revoked.Cert))
	reloadAndWait(t, g, 1)
	if st, _, err := tlsGet(mtlsClient(t, serverCA, revoked), url+"/svc/a"); err == nil {
		t.Errorf("revoked certificate after the CRL reload: status %d, want a refused handshake", st)
	}
	if got := up.requests.Load() - before; got != 1 {
		t.Errorf("upstream saw %d requests from refused certificates' phase, want 1 (the one before revocation)", got)
	}
	// client_auth: require, by reload.
	g.writeConfig(cfg("require"))
	reloadAndWait(t, g, 2)
	if st, _, err := tlsGet(mtlsClient(t, serverCA, nil), url+"/open"); err == nil {
		t.Errorf("client_auth require, no certificate: status %d, want a refused handshake", st)
	}
	for reason, want := range map[string]float64{"untrusted": 1, "expired": 1, "revoked": 1, "missing": 1} {
		if got := g.metric(`tollgate_client_cert_refusals_total{reason="` + reason + `"}`); got != want {
			t.Errorf("client_cert_refusals_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	if got := g.metric(`tollgate_auth_failures_total{method="mtls",reason="no_client_id"}`); got != 1 {
		t.Errorf("auth_failures_total{mtls,no_client_id} = %v, want 1", got)
	}
}

// reloadAndWait sends SIGHUP and waits until the n-th successful reload
// is counted.
func reloadAndWait(t *testing.T, g *gateway, n float64) {
	t.Helper()
	g.signal(syscall.SIGHUP)
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		return g.metric(`tollgate_config_reloads_total{result="ok"}`) >= n
	}) {
		t.Fatalf("reload %v not counted; logs:\n%s", n, strings.TrimSpace(g.logs.String()))
	}
}
