package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

func TestPluginsCORSHeadersRequestID(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "origin/1.0")
		echoHandler(w, r)
	})
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
auth:
  api_keys: {keys: [{sha256: "0000000000000000000000000000000000000000000000000000000000000000", client_id: nobody}]}
upstreams: {app: {targets: ["%s"]}}
routes:
  - name: locked
    match: {path_prefix: /locked, methods: [GET]}
    upstream: app
    auth: [api_key]
    plugins:
      - cors: {allowed_origins: ["https://app.example.com"], allowed_methods: [GET]}
  - name: api
    match: {path_prefix: /, methods: [GET, POST]}
    upstream: app
    plugins:
      - request_id: {header: X-Trace-Id}
      - headers: {request_set: {X-Env: prod}, request_remove: [X-Debug], response_remove: [Server], response_set: {X-Gateway: tollgate}}
      - cors: {allowed_origins: ["https://app.example.com"], allowed_methods: [GET, POST], max_age: 10m}
`, o.addr))
	// Preflight answered by the gateway.
	req, _ := http.NewRequest("OPTIONS", g.url("/things"), nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Vary") != "Origin" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") || resp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if o.requests.Load() != 0 {
		t.Fatal("preflight reached the upstream")
	}
	req.Header.Set("Origin", "https://evil.example.com")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// A preflight reaches a route restricted to GET (browsers send OPTIONS
	// without credentials); the real request's 401 from the gateway still
	// carries the CORS headers, so the browser can read it.
	req, _ = http.NewRequest("OPTIONS", g.url("/locked"), nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("preflight on a GET-only route with auth: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", g.url("/locked"), nil)
	req.Header.Set("Origin", "https://app.example.com")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("401 without CORS headers: %d %v", resp.StatusCode, resp.Header)
	}
	// An answer to a request without Origin still says Vary: Origin.
	if resp, err = http.Get(g.url("/plain")); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Vary") != "Origin" {
		t.Fatalf("Vary on a request without Origin: %q", resp.Header.Get("Vary"))
	}
	// A real request gets CORS headers, header edits, and a request id.
	req, _ = http.NewRequest("GET", g.url("/things"), nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("X-Debug", "1")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Server") != "" || h.Get("X-Gateway") != "tollgate" ||
		h.Get("X-Echo-X-Env") != "prod" || h.Get("X-Echo-X-Debug") != "" || h.Get("X-Echo-X-Trace-Id") == "" ||
		h.Get("X-Trace-Id") != h.Get("X-Echo-X-Trace-Id") {
		t.Fatalf("plugin effects missing: %v", h)
	}
	waitFor(t, func() bool { return strings.Contains(g.logs.String(), `"method":"GET"`) })
	var line map[string]any
	for _, l := range strings.Split(g.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"access"`) && strings.Contains(l, `"method":"GET"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["route"] != "api" || line["status"] != float64(200) || line["upstream_target"] != o.addr {
		t.Fatalf("access log line: %v", line)
	}
}

func TestConfigEndpointRedactsSecrets(t *testing.T) {
	o := startOrigin(t, echoHandler)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("hunter2\n"), 0o600)
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
auth:
  introspection: {url: "http://127.0.0.1:1/introspect", client_id: gw, client_secret_file: %q}
upstreams: {app: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, filepath.Join(dir, "secret"), o.addr))
	resp, err := http.Get("http://" + g.admin + "/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "hunter2") || !strings.Contains(string(body), "[redacted]") || !strings.Contains(string(body), `"loaded_at"`) {
		t.Fatalf("/config: %s", body)
	}
}

// TestQuickStart runs the binary with no config in an empty directory:
// the embedded config and demo origin answer on :8080 at once.
func TestQuickStart(t *testing.T) {
	if l, err := (&net8080{}).free(); !l {
		t.Skipf("port 8080 or 9901 is in use here: %v", err)
	}
	cmd := exec.Command(binPath)
	cmd.Dir = t.TempDir()
	logs := &testkit.LogBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var body string
	testkit.Poll(10*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get("http://localhost:8080/demo/hello")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return false
		}
		body = string(b)
		return true
	})
	if !strings.Contains(body, "hello from the tollgate demo origin") {
		t.Fatalf("quick start answered %q\n%s", body, logs.String())
	}
}
