package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// TestTLS12OffersOnlyAEADSuites: on TLS 1.2 the listener takes only
// ECDHE suites with AES-GCM or ChaCha20-Poly1305, for an ECDSA and an
// RSA certificate; a client offering only CBC suites (LUCKY13) or only
// static-RSA key exchange is refused, by Go's TLS client and by openssl
// s_client. TLS 1.3 is as Go sets it.
func TestTLS12OffersOnlyAEADSuites(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := startOrigin(t, echoHandler)
	for _, c := range []struct {
		name   string
		key    crypto.Signer
		aead   []uint16
		cbc    []uint16
		osslOK string // an AEAD suite in openssl's names
		osslNo string // a CBC suite
	}{
		{"ecdsa", ecKey,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
			"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"},
		{"rsa", rsaKey,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
				tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
			"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cert, key := writeSelfSignedKey(t, t.TempDir(), c.key)
			g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", tls: {cert_file: %q, key_file: %q}}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, cert, key, o.addr))
			for _, s := range c.aead {
				if got, err := handshake(g.addr, tls.VersionTLS12, s); err != nil || got != s {
					t.Errorf("TLS 1.2 with %s: suite %s, err %v; want accepted", tls.CipherSuiteName(s), tls.CipherSuiteName(got), err)
				}
			}
			for _, s := range c.cbc {
				if _, err := handshake(g.addr, tls.VersionTLS12, s); err == nil {
					t.Errorf("TLS 1.2 with only %s: accepted", tls.CipherSuiteName(s))
				}
			}
			if _, err := handshake(g.addr, tls.VersionTLS12, c.cbc...); err == nil {
				t.Errorf("TLS 1.2 offering every refused suite at once: accepted")
			}
			if got, err := handshake(g.addr, tls.VersionTLS13); err != nil || got != tls.TLS_AES_128_GCM_SHA256 {
				t.Errorf("TLS 1.3: suite %s, err %v", tls.CipherSuiteName(got), err)
			}
			testkit.NeedTool(t, "openssl", "apt-get install -y openssl")
			if out, ok := sClient(t, g.addr, c.osslOK); !ok {
				t.Errorf("openssl s_client -tls1_2 -cipher %s refused:\n%s", c.osslOK, out)
			}
			if out, ok := sClient(t, g.addr, c.osslNo); ok {
				t.Errorf("openssl s_client -tls1_2 -cipher %s accepted:\n%s", c.osslNo, out)
			}
		})
	}
}

// handshake completes a TLS handshake with the given version (as the
// maximum) and offered suites (nil: Go's defaults) and returns the suite
// agreed.
func handshake(addr string, version uint16, suites ...uint16) (uint16, error) {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version, CipherSuites: suites}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().CipherSuite, nil
}

// sClient runs openssl s_client on TLS 1.2 offering only suite and
// reports whether the handshake agreed on it.
func sClient(t *testing.T, addr, suite string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", addr, "-tls1_2", "-cipher", suite)
	cmd.Stdin = strings.NewReader("Q\n")
	out, _ := cmd.CombinedOutput()
	s := string(out)
	return s, strings.Contains(s, "Cipher is "+suite) && !strings.Contains(s, "Cipher is (NONE)")
}
