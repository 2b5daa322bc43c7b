package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRoutingByHostPathMethodAndHeader(t *testing.T) {
	users := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "users %s %s", r.Method, r.URL.RequestURI())
	})
	canary := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "canary") })
	other := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "other ", r.Host) })
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  users: {targets: ["%s"]}
  canary: {targets: ["%s"]}
  other: {targets: ["%s"]}
routes:
  - name: canary
    match: {path_prefix: /v1/users, headers: {X-Canary: "1"}}
    upstream: canary
  - name: users-read
    match: {host: api.example.com, path_prefix: /v1/users, methods: [GET]}
    upstream: users
    strip_prefix: /v1
  - name: wildcard
    match: {host: "*.tenants.example.com", path: /exact}
    upstream: other
  - name: rewrite
    match: {path_prefix: /rw/}
    upstream: other
    host_rewrite: internal.svc
`, users.addr, canary.addr, other.addr))

	cases := []struct {
		method, host, path string
		hdr                map[string]string
		status             int
		body               string
	}{
		{"GET", "api.example.com", "/v1/users/7?x=1", nil, 200, "users GET /users/7?x=1"},
		{"GET", "API.example.com:8080", "/v1/users", nil, 200, "users GET /users"},
		{"POST", "api.example.com", "/v1/users", nil, 404, `"error":"no_route"`},
		{"GET", "other.example.com", "/v1/users", nil, 404, `"error":"no_route"`},
		{"GET", "api.example.com", "/v1/users", map[string]string{"X-Canary": "1"}, 200, "canary"},
		{"GET", "a.b.tenants.example.com", "/exact", nil, 200, "other a.b.tenants.example.com"},
		{"GET", "tenants.example.com", "/exact", nil, 404, "no_route"},
		{"GET", "x.tenants.example.com", "/exact/more", nil, 404, "no_route"},
		{"GET", "api.example.com", "/v1/%75sers", nil, 404, "no_route"},
		{"GET", "anything", "/rw/x", nil, 200, "other internal.svc"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, g.url(c.path), nil)
		req.Host = c.host
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s%s: %v", c.method, c.host, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.body) {
			t.Errorf("%s %s%s: got %d %q, want %d containing %q", c.method, c.host, c.path, resp.StatusCode, body, c.status, c.body)
		}
		if resp.StatusCode == 404 && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("404 content type %q", resp.Header.Get("Content-Type"))
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Private")
		w.Header().Set("X-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		echoHandler(w, r)
	})
	g := startGateway(t, basicConfig(o.addr, ""))
	req, _ := http.NewRequest("GET", g.url("/h?q=1"), nil)
	req.Host = "front.example.com"
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must-go")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("TE", "trailers")
	req.Header.Set("X-Client-Id", "forged")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("X-Request-Id", "req-abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	checks := map[string]string{
		"X-Origin-Path":            "/h?q=1",
		"X-Origin-Host":            "front.example.com",
		"X-Echo-X-Hop":             "",
		"X-Echo-Proxy-Connection":  "",
		"X-Echo-Te":                "",
		"X-Echo-X-Client-Id":       "",
		"X-Echo-X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Echo-X-Forwarded-Proto": "http",
		"X-Echo-X-Forwarded-Host":  "front.example.com",
		"X-Echo-Traceparent":       "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"X-Echo-X-Request-Id":      "req-abc",
		"X-Private":                "",
		"Keep-Alive":               "",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// Without a client id, one is generated and forwarded.
	resp, err = http.Get(g.url("/gen"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Echo-X-Request-Id"); len(id) < 8 {
		t.Errorf("generated X-Request-Id %q", id)
	}
}

func TestPoolReuseAndKeepAlive(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	g := startGateway(t, basicConfig(o.addr, ""))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	const n = 300
	for i := 0; i < n; i++ {
		resp, err := client.Get(g.url(fmt.Sprintf("/r/%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if got := o.requests.Load(); got != n {
		t.Fatalf("origin saw %d requests, want %d", got, n)
	}
	if c := o.conns.Load(); c > 5 {
		t.Fatalf("origin saw %d TCP connections for %d requests; pooling is not working", c, n)
	}
	if v := g.metric(`tollgate_requests_total{code="200",protocol="http1",route="all"}`); v != n {
		t.Errorf("tollgate_requests_total = %v, want %d", v, n)
	}
}

func TestPipeliningAndHTTP10(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	g := startGateway(t, basicConfig(o.addr, ""))
	raw := "GET /one HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /two HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	out := rawExchange(t, g.addr, raw, 5*time.Second)
	i1, i2, i3 := strings.Index(out, "/one"), strings.Index(out, "/two"), strings.Index(out, "/three")
	if strings.Count(out, "HTTP/1.1 200") != 3 || !(i1 < i2 && i2 < i3) || i1 < 0 {
		t.Fatalf("pipelined responses out of order or missing:\n%s", out)
	}
	out = rawExchange(t, g.addr, "GET /ten HTTP/1.0\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, "Connection: close") || !strings.HasSuffix(out, "/ten") {
		t.Fatalf("HTTP/1.0 answer:\n%s", out)
	}
	out = rawExchange(t, g.addr, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /kb HTTP/1.0\r\n\r\n", 5*time.Second)
	if strings.Count(out, "HTTP/1.1 200") != 2 || !strings.Contains(out, "Connection: keep-alive") {
		t.Fatalf("HTTP/1.0 keep-alive:\n%s", out)
	}
}
