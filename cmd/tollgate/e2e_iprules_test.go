package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientFrom returns an HTTP client whose connections leave from the
// loopback address local (any of 127.0.0.0/8 works on Linux).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// TestIPRules: route and client allow/deny lists, judged on the client IP
// computed with trusted_proxies on a dual-stack listener (the peer arrives
// IPv4-mapped, the rules are IPv4 or mapped IPv6).
func TestIPRules(t *testing.T) {
	up := startOrigin(t, echoHandler)
	sum := sha256.Sum256([]byte("partner-key"))
	cfg := fmt.Sprintf(`
server:
  listen: "LISTEN"
  trusted_proxies: [127.0.0.2/32]
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%s", client_id: partner-x}]
upstreams: {app: {targets: ["%s"]}}
clients:
  default: {rate: 100000/s}
  partner-x: {rate: 100000/s, allow_cidrs: [10.0.0.0/8]}
routes:
  - {name: internal, match: {path_prefix: /internal}, upstream: app, allow_cidrs: [10.0.0.0/8, "::ffff:192.168.0.0/112"]}
  - {name: blocked, match: {path_prefix: /blocked}, upstream: app, deny_cidrs: ["::ffff:127.0.0.1/128"]}
  - {name: partner, match: {path_prefix: /partner}, upstream: app, auth: [api_key]}
`, hex.EncodeToString(sum[:]), up.addr)
	g := startGateway(t, strings.Replace(cfg, `listen: "LISTEN"`, `listen: "DUALSTACK"`, 1))
	direct, proxied := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	cases := []struct {
		name   string
		c      *http.Client
		path   string
		xff    string
		apiKey string
		status int
	}{
		{"allow list, address outside", direct, "/internal/a", "", "", 403},
		{"allow list, X-Forwarded-For spoofed by an untrusted peer", direct, "/internal/a", "10.1.2.3", "", 403},
		{"allow list, X-Forwarded-For from a trusted proxy", proxied, "/internal/a", "10.1.2.3", "", 200},
		{"allow list, mapped IPv6 rule matches an IPv4 client", proxied, "/internal/a", "192.168.4.5", "", 200},
		{"allow list, trusted proxy forwarding an outsider", proxied, "/internal/a", "8.8.8.8", "", 403},
		{"deny list, the peer itself", direct, "/blocked/x", "", "", 403},
		{"deny list, the peer hiding behind a spoofed X-Forwarded-For", direct, "/blocked/x", "8.8.8.8", "", 403},
		{"deny list, another address", proxied, "/blocked/x", "", "", 200},
		{"client rule, partner-x from outside its network", direct, "/partner/p", "", "partner-key", 403},
		{"client rule, partner-x through the trusted proxy", proxied, "/partner/p", "10.9.9.9", "partner-key", 200},
	}
	for _, c := range cases {
		before := up.requests.Load()
		req, _ := http.NewRequest("GET", g.url(c.path), nil)
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.apiKey != "" {
			req.Header.Set("X-API-Key", c.apiKey)
		}
		resp, err := c.c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.status, body)
			continue
		}
		if c.status == 403 {
			var e struct{ Error, Message, RequestID string }
			if err := json.Unmarshal(body, &e); err != nil || e.Error != "forbidden" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: body %q, want the contract's JSON error", c.name, body)
			}
			if up.requests.Load() != before {
				t.Errorf("%s: a refused request reached the upstream", c.name)
			}
		}
	}
	for sample, want := range map[string]float64{
		`tollgate_ip_refusals_total{list="allow",route="internal",scope="route"}`: 3,
		`tollgate_ip_refusals_total{list="deny",route="blocked",scope="route"}`:   2,
		`tollgate_ip_refusals_total{list="allow",route="partner",scope="client"}`: 1,
	} {
		if got := g.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
}
