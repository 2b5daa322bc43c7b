package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// tlsRedisCmd sends commands over TLS (trusting ca) and returns the first
// line of the last reply.
func tlsRedisCmd(addr string, ca []byte, cmds ...string) (string, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 300 * time.Millisecond}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	var line string
	for _, cmd := range cmds {
		if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
			return "", err
		}
		if line, err = r.ReadString('\n'); err != nil {
			return "", err
		}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// TestRedisTLSWithACLUser: the Redis store speaks TLS (the server's
// certificate checked against ca_file) and logs in as an ACL user whose
// password comes from the environment; the quota is shared through it. A
// wrong password is an outage: one warning, on_failure applies.
func TestRedisTLSWithACLUser(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found in PATH (.ci/run installs it)")
	}
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	ca, _ := os.ReadFile(cert)
	addr := testkit.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	out := &testkit.LogBuffer{}
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no",
		"--save", "", "--appendonly", "no",
		"--user", "default", "off", "--user", "gateway", "on", ">gw-s3cret", "~tollgate:*", "+@all")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testkit.Poll(5*time.Second, 20*time.Millisecond, func() bool {
		v, err := tlsRedisCmd(addr, ca, "AUTH gateway gw-s3cret", "PING")
		return err == nil && v == "+PONG"
	}) {
		t.Fatalf("redis over TLS not answering:\n%s", out.String())
	}
	t.Setenv("TOLLGATE_TEST_REDIS_PW", "gw-s3cret")
	t.Setenv("TOLLGATE_TEST_REDIS_BAD_PW", "wrong")
	limits := func(pwEnv string) string {
		return fmt.Sprintf(`  store: redis
  headers: ietf
  redis:
    addrs: ["%s"]
    username: gateway
    password_env: %s
    tls: {ca_file: %q}
    on_failure: deny`, addr, pwEnv, cert)
	}
	clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1000/s, burst: 1000, quota: {limit: 30, period: day}}"
	o := okOrigin(t)
	g := startGateway(t, quotaConfig(o.addr, clients, "", limits("TOLLGATE_TEST_REDIS_PW"), ""))
	c := newClient()
	admitted := 0
	waitFor(t, func() bool {
		r := send(t, c, g.url("/all"), "X-API-Key: key-c")
		if r.status == 200 {
			admitted++
		}
		return r.status == 429 && r.header.Get("Retry-After") != "1"
	})
	if admitted != 30 {
		t.Errorf("admitted %d through Redis over TLS, quota 30", admitted)
	}
	if v, err := tlsRedisCmd(addr, ca, "AUTH gateway gw-s3cret", "DBSIZE"); err != nil || v == ":0" {
		t.Errorf("no keys written over TLS: %q %v", v, err)
	}
	if g.logs.Count(redisDownLog) != 0 {
		t.Errorf("outage logged with the right password:\n%s", g.logs.String())
	}

	bad := startGateway(t, quotaConfig(o.addr, clients, "", limits("TOLLGATE_TEST_REDIS_BAD_PW"), ""))
	send(t, c, bad.url("/all"), "X-API-Key: key-c")
	waitFor(t, func() bool { return bad.logs.Count(redisDownLog) == 1 })
	if r := send(t, c, bad.url("/all"), "X-API-Key: key-c"); r.status != 429 || !strings.Contains(r.body, "store unavailable") {
		t.Errorf("wrong password, on_failure deny: %d %s", r.status, r.body)
	}
	if !strings.Contains(bad.logs.String(), "WRONGPASS") {
		t.Errorf("the outage warning does not say why:\n%s", bad.logs.String())
	}
}
