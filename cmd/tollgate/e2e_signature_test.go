package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tollgate/auth/httpsig"
	"tollgate/internal/testkit"
)

const hmacSecret = "a-shared-secret-of-at-least-32-bytes!"

// signedSetup writes an hmac secret (partner-x) and an ed25519 key pair
// (partner-y) and returns the auth.signatures block and partner-y's key.
func signedSetup(t *testing.T, components string) (string, string, *httpsig.Key) {
	dir := t.TempDir()
	secret := testkit.WriteFile(t, dir, "px.secret", []byte(hmacSecret+"\n"))
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubFile := testkit.WriteFile(t, dir, "py.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	key, err := httpsig.ParsePrivateKey(httpsig.AlgEd25519, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	if err != nil {
		t.Fatal(err)
	}
	block := fmt.Sprintf(`auth:
  signatures:
    max_age: 1m
    max_body_bytes: 1024
%s
    keys:
      - {keyid: px-1, client_id: partner-x, alg: hmac-sha256, secret_file: %q}
      - {keyid: py-1, client_id: partner-y, alg: ed25519, public_key_file: %q}
`, components, secret, pubFile)
	return block, secret, key
}

// tollgateSign runs `tollgate sign` and returns its header lines.
func tollgateSign(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command(binPath, append([]string{"sign"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tollgate sign %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// curlStatus sends a request with curl and returns the status code.
func curlStatus(t *testing.T, method, url, body string, headers []string) int {
	t.Helper()
	args := []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--max-time", "10"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if body != "" {
		args = append(args, "--data-binary", body)
	}
	out, err := exec.Command("curl", append(args, url)...).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var code int
	fmt.Sscan(string(out), &code)
	return code
}

// signedDo sends a request signed in process with key, with the given
// created time.
func signedDo(t *testing.T, key *httpsig.Key, keyID, method, url, body string, created time.Time) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	fields := httpsig.Pairs{}
	comps := []httpsig.Component{{Name: "@method"}, {Name: "@authority"}, {Name: "@path"}, {Name: "@query"}}
	if body != "" {
		d := httpsig.Digest([]byte(body))
		req.Header.Set("Content-Digest", d)
		fields = append(fields, [2]string{"Content-Digest", d})
		comps = append(comps, httpsig.Component{Name: "content-digest"})
	}
	m := &httpsig.Message{Method: []byte(method), Scheme: "http", Authority: []byte(req.URL.Host),
		Target: []byte(req.URL.RequestURI()), Fields: fields}
	in, sig, err := httpsig.Sign(m, key, httpsig.SignOptions{KeyID: keyID, Components: comps, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSignedRequests: RFC 9421 signatures made by `tollgate sign` and sent
// by curl pass; a tampered component, a wrong digest, an old created, a
// replayed nonce, an oversized or chunked body are refused and never reach
// the upstream.
func TestSignedRequests(t *testing.T) {
	up := startOrigin(t, echoHandler)
	block, secret, edKey := signedSetup(t, "")
	g := startGateway(t, basicConfig(up.addr, "    auth: [signature]\n")+block)
	url := g.url("/pay/1?amount=5")
	body := `{"to":"acct-9","amount":5}`
	sign := func(method, u, data string) []string {
		return tollgateSign(t, "-keyid", "px-1", "-alg", "hmac-sha256", "-key", secret, "-d", data, method, u)
	}
	good := sign("POST", url, body)
	if st := curlStatus(t, "POST", url, body, good); st != 200 {
		t.Fatalf("signed request: status %d, want 200", st)
	}
	if got := up.last.Load().Header.Get("X-Client-Id"); got != "partner-x" {
		t.Errorf("upstream saw X-Client-Id %q, want partner-x", got)
	}
	if resp := signedDo(t, edKey, "py-1", "GET", g.url("/pay/list"), "", time.Now()); resp.StatusCode != 200 {
		t.Errorf("ed25519-signed GET: status %d", resp.StatusCode)
	}
	before := up.requests.Load()
	cases := []struct {
		name, reason string
		status       int
		send         func() int
	}{
		{"replayed nonce", "replayed_nonce", 401, func() int { return curlStatus(t, "POST", url, body, good) }},
		{"tampered path", "bad_signature", 401, func() int {
			return curlStatus(t, "POST", g.url("/pay/2?amount=5"), body, sign("POST", url, body))
		}},
		{"tampered query", "bad_signature", 401, func() int {
			return curlStatus(t, "POST", g.url("/pay/1?amount=500"), body, sign("POST", url, body))
		}},
		{"body not matching its digest", "digest_mismatch", 401, func() int {
			return curlStatus(t, "POST", url, `{"to":"acct-6","amount":5}`, sign("POST", url, body))
		}},
		{"old created", "expired", 401, func() int {
			return signedDo(t, edKey, "py-1", "GET", g.url("/pay/list"), "", time.Now().Add(-5*time.Minute)).StatusCode
		}},
		{"body over max_body_bytes", "body_too_large", 413, func() int {
			big := strings.Repeat("x", 2000)
			return curlStatus(t, "POST", url, big, sign("POST", url, big))
		}},
		{"chunked body", "body_too_large", 413, func() int {
			return curlStatus(t, "POST", url, body, append(sign("POST", url, body), "Transfer-Encoding: chunked"))
		}},
		{"unknown keyid", "unknown_key", 401, func() int {
			h := sign("POST", url, body)
			for i := range h {
				h[i] = strings.Replace(h[i], `keyid="px-1"`, `keyid="px-9"`, 1)
			}
			return curlStatus(t, "POST", url, body, h)
		}},
		{"no signature", "missing", 401, func() int { return curlStatus(t, "POST", url, body, nil) }},
	}
	for _, c := range cases {
		if st := c.send(); st != c.status {
			t.Errorf("%s: status %d, want %d", c.name, st, c.status)
		}
		method := "signature"
		if c.reason == "missing" {
			method = "none"
		}
		sample := fmt.Sprintf(`tollgate_auth_failures_total{method=%q,reason=%q}`, method, c.reason)
		if g.metric(sample) < 1 {
			t.Errorf("%s: %s not counted", c.name, sample)
		}
	}
	if n := up.requests.Load() - before; n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
}

// TestSignatureNoncesSharedThroughRedis: with limits.store redis, a nonce
// used at one gateway is refused at another.
func TestSignatureNoncesSharedThroughRedis(t *testing.T) {
	rs := startRedis(t)
	up := startOrigin(t, echoHandler)
	block, _, edKey := signedSetup(t, `    components: ["@method", "@path", "@query"]`)
	cfg := basicConfig(up.addr, "    auth: [signature]\n") + block + "limits:\n" + redisLimits(rs.addr, "local") + "\n"
	a, b := startGateway(t, cfg), startGateway(t, cfg)
	m := &httpsig.Message{Method: []byte("GET"), Scheme: "http", Authority: []byte("shared.test"), Target: []byte("/x"), Fields: httpsig.Pairs{}}
	in, sig, err := httpsig.Sign(m, edKey, httpsig.SignOptions{KeyID: "py-1",
		Components: []httpsig.Component{{Name: "@method"}, {Name: "@path"}, {Name: "@query"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes at both gateways (@authority is not covered: they
	// listen on different ports), so only the nonce shows the replay.
	raw := fmt.Sprintf("GET /x HTTP/1.1\r\nHost: shared.test\r\nSignature-Input: %s\r\nSignature: %s\r\nConnection: close\r\n\r\n", in, sig)
	status := func(g *gateway) string {
		resp := rawExchange(t, g.addr, raw, 5*time.Second)
		line, _, _ := strings.Cut(resp, "\r\n")
		return line
	}
	if got := status(a); got != "HTTP/1.1 200 OK" {
		t.Fatalf("first use at gateway A: %q", got)
	}
	if got := status(b); !strings.HasPrefix(got, "HTTP/1.1 401") {
		t.Errorf("replay at gateway B: %q, want 401", got)
	}
	if got := b.metric(`tollgate_auth_failures_total{method="signature",reason="replayed_nonce"}`); got != 1 {
		t.Errorf("gateway B counted %v replays, want 1", got)
	}
	if up.requests.Load() != 1 {
		t.Errorf("upstream saw %d requests, want 1", up.requests.Load())
	}
}

// TestSignedRequestOverTLS: a TLS client is served by a worker, which
// reads the small body whole before the filters, as the loop does.
func TestSignedRequestOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, "server-ca")
	srv := ca.Issue(t, testkit.LeafOptions{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	up := startOrigin(t, echoHandler)
	block, secret, _ := signedSetup(t, "")
	cfg := strings.Replace(basicConfig(up.addr, "    auth: [signature]\n")+block, `listen: "LISTEN"`,
		fmt.Sprintf("listen: \"LISTEN\"\n  tls: {cert_file: %q, key_file: %q}",
			testkit.WriteFile(t, dir, "srv.pem", srv.CertPEM), testkit.WriteFile(t, dir, "srv.key", srv.KeyPEM)), 1)
	g := startGateway(t, cfg)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	url := "https://" + g.addr + "/pay"
	send := func(body string, headers []string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		for _, h := range headers {
			name, value, _ := strings.Cut(h, ": ")
			req.Header.Set(name, value)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"amount":7}`
	sign := func() []string {
		return tollgateSign(t, "-keyid", "px-1", "-alg", "hmac-sha256", "-key", secret, "-d", body, "POST", url)
	}
	if st := send(body, sign()); st != 200 {
		t.Errorf("signed POST over TLS: %d, want 200", st)
	}
	if got := up.last.Load().Header.Get("X-Client-Id"); got != "partner-x" {
		t.Errorf("upstream saw X-Client-Id %q", got)
	}
	before := up.requests.Load()
	if st := send(`{"amount":9}`, sign()); st != 401 {
		t.Errorf("body not matching its digest over TLS: %d, want 401", st)
	}
	if up.requests.Load() != before {
		t.Error("the refused request reached the upstream")
	}
}
