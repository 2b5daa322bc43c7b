package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"tollgate/internal/testkit"
)

// logLines returns the gateway's JSON log lines whose msg is msg.
func logLines(g *gateway, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(g.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitLogLine waits for a log line with msg whose fields include want.
func waitLogLine(t *testing.T, g *gateway, msg string, want map[string]any) map[string]any {
	t.Helper()
	var found map[string]any
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range logLines(g, msg) {
			if fieldsMatch(m, want) {
				found = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no log line %q with %v in:\n%s", msg, want, g.logs.String())
	}
	return found
}

func fieldsMatch(m, want map[string]any) bool {
	for k, v := range want {
		if fmt.Sprint(m[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// getWithID sends GET url with an X-Request-Id and returns the status,
// the decoded JSON error body (empty for other bodies) and the headers.
func getWithID(t *testing.T, url, id string) (int, errorBody, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Request-Id", id)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b errorBody
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &b)
	return resp.StatusCode, b, resp.Header
}

// TestDownUpstreamExplainsItself: a refused dial and a host name that
// does not resolve are each answered 502 with their own message, logged
// with target and cause (one line a second per target however many
// requests fail), counted by cause, and named in the access log line.
func TestDownUpstreamExplainsItself(t *testing.T) {
	dead := testkit.FreeAddr(t) // nothing listens there
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
upstreams:
  app: {targets: ["%s"], timeouts: {connect: 500ms}, retries: {attempts: 0}}
  named: {targets: ["nosuch.invalid:80"], timeouts: {connect: 3s}, retries: {attempts: 0}}
routes:
  - {name: app, match: {path_prefix: /app}, upstream: app}
  - {name: named, match: {path_prefix: /named}, upstream: named}
`, dead))
	status, body, _ := getWithID(t, g.url("/app"), "down-1")
	if status != 502 || body.Message != "upstream refused the connection" || body.RequestID != "down-1" {
		t.Fatalf("refused: %d %+v", status, body)
	}
	line := waitLogLine(t, g, "upstream refused the connection",
		map[string]any{"upstream": "app", "target": dead, "cause": "connect", "request_id": "down-1"})
	if !strings.Contains(fmt.Sprint(line["err"]), "connection refused") {
		t.Errorf("log line's err = %v; want the dial error", line["err"])
	}
	waitLogLine(t, g, "access", map[string]any{"route": "app", "status": 502, "upstream_target": dead,
		"tries": 1, "upstream_error": "connect", "request_id": "down-1"})

	// Many failures, few lines: at most one a second per target.
	start := time.Now()
	const more = 30
	for i := 0; i < more; i++ {
		if s, _, _ := getWithID(t, g.url("/app"), "down-more"); s != 502 {
			t.Fatalf("request %d: %d", i, s)
		}
	}
	elapsed := time.Since(start)
	sample := fmt.Sprintf(`tollgate_upstream_errors_total{cause="connect",target="%s",upstream="app"}`, dead)
	if v := g.metric(sample); v != more+1 {
		t.Errorf("%s = %v; want %d", sample, v, more+1)
	}
	if n := len(logLines(g, "upstream refused the connection")); n > 2+int(elapsed.Seconds()) {
		t.Errorf("%d lines for %d failures in %v: not rate-limited", n, more+1, elapsed)
	}

	status, body, _ = getWithID(t, g.url("/named"), "dns-1")
	if status != 502 || body.Message != "upstream host name did not resolve" {
		t.Fatalf("dns: %d %+v", status, body)
	}
	waitLogLine(t, g, "upstream host name did not resolve",
		map[string]any{"upstream": "named", "target": "nosuch.invalid:80", "cause": "dns"})
	waitLogLine(t, g, "access", map[string]any{"route": "named", "upstream_error": "dns", "upstream_target": "nosuch.invalid:80"})
	if v := g.metric(`tollgate_upstream_errors_total{cause="dns",target="nosuch.invalid:80",upstream="named"}`); v != 1 {
		t.Errorf("dns errors = %v; want 1", v)
	}

	// -check warns about the name (without failing).
	cmd := exec.Command(binPath, "-check", "-config", g.config)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "ok" ||
		!strings.Contains(stderr.String(), `warning: `+g.config+`: upstreams.named.targets[0]: host "nosuch.invalid" does not resolve`) {
		t.Fatalf("-check: %v, stdout %q, stderr:\n%s", err, out, stderr.String())
	}
}

// TestOperatorMetrics: build info, every target's breaker state (0
// without a breaker) and health, the last reload's time and result, and
// an exposition promtool accepts.
func TestOperatorMetrics(t *testing.T) {
	o := startOrigin(t, echoHandler)
	sick := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	cfg := fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  app: {targets: ["%s"]}
  sick:
    targets: ["%s"]
    health_check: {path: /healthz, interval: 100ms, timeout: 1s, unhealthy_after: 1, healthy_after: 1}
routes:
  - {name: app, match: {path_prefix: /}, upstream: app}
  - {name: sick, match: {path_prefix: /sick}, upstream: sick}
`, o.addr, sick.addr)
	g := startGateway(t, cfg)
	samples := testkit.Scrape(t, "http://"+g.admin+"/metrics")
	info := samples.Family("tollgate_build_info")
	if len(info) != 1 {
		t.Fatalf("tollgate_build_info: %v", info)
	}
	for name, v := range info {
		if v != 1 || !strings.Contains(name, `version="dev"`) {
			t.Errorf("%s = %v", name, v)
		}
	}
	for sample, want := range map[string]float64{
		fmt.Sprintf(`tollgate_breaker_state{target="%s",upstream="app"}`, o.addr):           0,
		fmt.Sprintf(`tollgate_breaker_state{target="%s",upstream="sick"}`, sick.addr):       0,
		fmt.Sprintf(`tollgate_upstream_target_healthy{target="%s",upstream="app"}`, o.addr): 1,
		`tollgate_config_last_reload_successful`:                                            1,
	} {
		if v := samples[sample]; v != want {
			t.Errorf("%s = %v; want %v", sample, v, want)
		}
	}
	okAt := samples["tollgate_config_last_reload_success_timestamp_seconds"]
	if now := float64(time.Now().Unix()); okAt < now-60 || okAt > now+1 {
		t.Errorf("last success timestamp %v, now %v", okAt, now)
	}
	waitFor(t, func() bool {
		return g.metric(fmt.Sprintf(`tollgate_upstream_target_healthy{target="%s",upstream="sick"}`, sick.addr)) == 0
	})
	waitLogLine(t, g, "upstream target failing its health checks; not in rotation yet",
		map[string]any{"upstream": "sick", "target": sick.addr})

	g.writeConfig("server: {listen: LISTEN\n") // broken YAML
	resp, err := http.Post("http://"+g.admin+"/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	samples = testkit.Scrape(t, "http://"+g.admin+"/metrics")
	if resp.StatusCode != 400 || samples["tollgate_config_last_reload_successful"] != 0 ||
		samples["tollgate_config_last_reload_success_timestamp_seconds"] != okAt ||
		samples["tollgate_config_last_reload_timestamp_seconds"] < okAt {
		t.Errorf("after a failed reload (%d): %v", resp.StatusCode, samples.Family("tollgate_config_last_reload_successful"))
	}
	promtoolCheck(t, "http://"+g.admin+"/metrics")
}

// promtoolCheck runs `promtool check metrics` on what url serves.
func promtoolCheck(t *testing.T, url string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool not found in PATH (Debian package prometheus; .ci/run installs it)")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestRedisStoreGauge: tollgate_redis_up follows the Redis store.
func TestRedisStoreGauge(t *testing.T) {
	rs := startRedis(t)
	o := okOrigin(t)
	g := startGateway(t, limitsConfig(o.addr, "  default: {rate: 1000/s, burst: 1000}", redisLimits(rs.addr, "local"), ""))
	waitFor(t, func() bool { return g.metric("tollgate_redis_up") == 1 })
	rs.kill()
	waitFor(t, func() bool {
		send(t, newClient(), g.url("/x")) // traffic makes the outage show sooner
		return g.metric("tollgate_redis_up") == 0
	})
}

// TestRequestIDKeptOnGatewayAnswers: a client's X-Request-Id is the
// request_id of the answers the gateway makes itself (404, 429).
func TestRequestIDKeptOnGatewayAnswers(t *testing.T) {
	o := okOrigin(t)
	g := startGateway(t, `
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["`+o.addr+`"]}}
clients: {default: {rate: 1/m, burst: 1}}
routes: [{name: app, match: {path_prefix: /app}, upstream: app}]
`)
	if s, b, _ := getWithID(t, g.url("/nowhere"), "client-id-404"); s != 404 || b.RequestID != "client-id-404" {
		t.Errorf("404: %d %+v", s, b)
	}
	getWithID(t, g.url("/app"), "first")
	if s, b, _ := getWithID(t, g.url("/app"), "client-id-429"); s != 429 || b.RequestID != "client-id-429" {
		t.Errorf("429: %d %+v", s, b)
	}
	raw := rawExchange(t, g.addr, "GET /nowhere HTTP/1.1\r\nHost: a\r\nX-Request-Id: bad\"id\r\nConnection: close\r\n\r\n", 5*time.Second)
	// Not Contains(raw, "bad"): a generated hex id may hold those letters.
	if !strings.HasPrefix(raw, "HTTP/1.1 404") || strings.Contains(raw, `"request_id":"bad`) || !strings.Contains(raw, `"request_id":"`) {
		t.Errorf("an id with a quote must be replaced by a generated one:\n%s", raw)
	}
}

// TestSecondStartOnBusyPortExits2: a second tollgate on the port of a
// running one exits 2 with a message, instead of sharing the port.
func TestSecondStartOnBusyPortExits2(t *testing.T) {
	o := okOrigin(t)
	g := startGateway(t, basicConfig(o.addr, ""))
	cfg := filepath.Join(t.TempDir(), "second.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("server: {listen: %q}\nadmin: {listen: \"\"}\n", g.addr)), 0o644)
	cmd := exec.Command(binPath, "-config", cfg)
	done := make(chan error, 1)
	var out testkit.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(out.String(), "already in use") {
			t.Fatalf("second start: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a second tollgate started on the busy port %s:\n%s", g.addr, out.String())
	}
	if r := send(t, newClient(), g.url("/still")); r.status != 200 {
		t.Errorf("the first gateway after the second start: %d", r.status)
	}
}

// jwksServer serves the auth server's key set at /jwks on addr.
func jwksServer(t *testing.T, addr string, a *authServer) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{a.jwk()}})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, g *gateway) (int, string) {
	resp, err := http.Get("http://" + g.admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestJWKSDownAtStart: until every JWKS has loaded once /readyz says not
// ready (unless -ready-without-jwks) and a JWT is answered 503 with
// Retry-After, not 401; the log does not claim previous keys.
func TestJWKSDownAtStart(t *testing.T) {
	a, _ := startAuthServer(t)
	jwksAddr := testkit.FreeAddr(t)
	o := okOrigin(t)
	cfg := fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
auth:
  jwt:
    algorithms: [RS256]
    keys: [{jwks_url: "http://%s/jwks", refresh: 1s}]
upstreams: {app: {targets: ["%s"]}}
routes: [{name: app, match: {path_prefix: /}, upstream: app, auth: [jwt]}]
`, jwksAddr, o.addr)
	g := launchGateway(t, cfg)
	eager := launchGateway(t, cfg, "-ready-without-jwks")
	eager.waitReady()
	var body string
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		var s int
		s, body = readyz(t, g)
		return s == 503 && strings.Contains(body, "jwks not loaded yet")
	}) {
		t.Fatalf("readyz: %q\n%s", body, g.logs.String())
	}
	token := a.token(t, jwt.MapClaims{"sub": "c1", "exp": time.Now().Add(time.Hour).Unix()})
	r := send(t, newClient(), g.url("/x"), "Authorization: Bearer "+token)
	var eb errorBody
	json.Unmarshal([]byte(r.body), &eb)
	if r.status != 503 || r.header.Get("Retry-After") == "" || eb.Error != "unavailable" {
		t.Fatalf("JWT before the keys: %d %s Retry-After=%q", r.status, r.body, r.header.Get("Retry-After"))
	}
	waitLogLine(t, g, "jwks refresh failed; no keys loaded yet: JWTs that need them are answered 503 until a fetch succeeds", nil)
	if strings.Contains(g.logs.String(), "keeping the previous keys") {
		t.Errorf("the log claims previous keys:\n%s", g.logs.String())
	}

	jwksServer(t, jwksAddr, a)
	g.waitReady()
	if r := send(t, newClient(), g.url("/x"), "Authorization: Bearer "+token); r.status != 200 {
		t.Fatalf("JWT once the keys loaded: %d %s", r.status, r.body)
	}
}

// TestCORSExposesGatewayHeaders: a browser may read the rate-limit
// headers, Retry-After and X-Request-Id without configuring them.
func TestCORSExposesGatewayHeaders(t *testing.T) {
	o := okOrigin(t)
	g := startGateway(t, `
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["`+o.addr+`"]}}
routes:
  - name: app
    match: {path_prefix: /}
    upstream: app
    plugins: [{cors: {allowed_origins: ["https://app.example.com"], exposed_headers: [X-Total]}}]
`)
	r := send(t, newClient(), g.url("/x"), "Origin: https://app.example.com")
	exposed := r.header.Get("Access-Control-Expose-Headers")
	for _, h := range []string{"RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "X-Total"} {
		if !strings.Contains(", "+exposed+",", ", "+h+",") {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
}

// TestTunnelBytesInAccessLog: a WebSocket session's access log line
// counts the bytes of the tunnel both ways, not only the handshake.
func TestTunnelBytesInAccessLog(t *testing.T) {
	o := startOrigin(t, echoTunnel)
	g := startGateway(t, `
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["`+o.addr+`"]}}
routes: [{name: ws, match: {path_prefix: /}, upstream: app}]
`)
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	r := bufio.NewReader(c)
	for line, _ := r.ReadString('\n'); line != "\r\n"; line, _ = r.ReadString('\n') {
		if line == "" {
			t.Fatal("head cut short")
		}
	}
	const frame = "0123456789"
	for i := 0; i < 100; i++ {
		io.WriteString(c, frame)
		buf := make([]byte, len(frame))
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	waitLogLine(t, g, "access", map[string]any{"route": "ws", "status": 101, "bytes": 1000, "bytes_up": 1000})
}

// TestCheckWarnings: -check warns, without failing, about a config with
// no routes and about clients no route can identify.
func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	check := func(name, cfg string) (string, string) {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(cfg), 0o644)
		cmd := exec.Command(binPath, "-check", "-config", path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("%s: %v %q\n%s", name, err, out, stderr.String())
		}
		return path, stderr.String()
	}
	path, warn := check("empty.yaml", "server: {listen: \":8080\"}\n")
	if !strings.Contains(warn, "warning: "+path+": routes: no routes") {
		t.Errorf("no routes: %q", warn)
	}
	path, warn = check("clients.yaml", fmt.Sprintf(`
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
auth:
  api_keys:
    keys: [{sha256: "%s", client_id: partner-x}]
clients:
  partner-x: {rate: 1/s, burst: 1}
  mobile-app: {rate: 1/s, burst: 1}
routes:
  - {name: keys, match: {path_prefix: /k}, upstream: app, auth: [api_key]}
  - {name: open, match: {path_prefix: /}, upstream: app}
`, keyHash("k")))
	if !strings.Contains(warn, "warning: "+path+": clients.mobile-app: no route can identify this client") ||
		strings.Contains(warn, "clients.partner-x") || strings.Contains(warn, "no routes") {
		t.Errorf("clients: %q", warn)
	}
	_, warn = check("jwt.yaml", `
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
auth: {jwt: {algorithms: [RS256], keys: [{jwks_url: "http://127.0.0.1:9/jwks"}]}}
clients: {mobile-app: {rate: 1/s, burst: 1}}
routes: [{name: jwt, match: {path_prefix: /}, upstream: app, auth: [jwt]}]
`)
	if warn != "" {
		t.Errorf("a JWT route can name any client: %q", warn)
	}
}

// TestDeployExamples: examples/deploy runs as it reads — its config,
// with the service names pointed at a real origin and Redis, serves
// through the real binary with the admin address from
// TOLLGATE_ADMIN_ADDR (as the image sets it), -probe reports it ready,
// and the Kubernetes ConfigMap carries the same config word for word,
// mounted as a directory like compose.yaml's.
func TestDeployExamples(t *testing.T) {
	text, err := os.ReadFile("../../examples/deploy/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binPath, "-check", "-config", "../../examples/deploy/tollgate.yaml").Output()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("-check: %v %q", err, out)
	}
	checkKubernetesExample(t, string(text))
	checkComposeExample(t)

	rs := startRedis(t)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "whoami "+r.URL.Path) })
	admin := testkit.FreeAddr(t)
	t.Setenv(adminAddrEnv, admin)
	cfg := strings.NewReplacer(`":8080"`, `"LISTEN"`, "origin:80", o.addr, "redis:6379", rs.addr).Replace(string(text))
	g := launchGateway(t, cfg)
	g.admin = admin // admin.listen says 127.0.0.1:9901; the environment wins
	g.waitReady()
	// The deploy config checks its targets' health: a target counts once
	// its first check passes, which may come just after ready.
	healthy := fmt.Sprintf(`tollgate_upstream_target_healthy{target=%q,upstream="whoami"}`, o.addr)
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool { return g.metric(healthy) == 1 }) {
		t.Fatalf("%s = %v after 10 s, want 1", healthy, g.metric(healthy))
	}
	if r := send(t, newClient(), g.url("/hello")); r.status != 200 || r.body != "whoami /hello" || r.header.Get("RateLimit") == "" {
		t.Fatalf("through the deploy config: %d %q %v", r.status, r.body, r.header)
	}
	probe := exec.Command(binPath, "-probe", "-config", g.config)
	if out, err := probe.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ready" {
		t.Fatalf("-probe: %v %q", err, out)
	}
	dead := exec.Command(binPath, "-probe", "-config", g.config, "-admin-addr", testkit.FreeAddr(t))
	if out, err := dead.CombinedOutput(); err == nil {
		t.Fatalf("-probe of an admin address nobody serves succeeded: %q", out)
	}
}

// checkKubernetesExample decodes kubernetes.yaml: the ConfigMap holds
// config (the deploy config), mounted whole at /etc/tollgate by a
// three-replica Deployment whose admin address comes from the
// environment, next to Redis and an origin with their Services.
func checkKubernetesExample(t *testing.T, config string) {
	t.Helper()
	f, err := os.Open("../../examples/deploy/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		meta, _ := doc["metadata"].(map[string]any)
		kinds[fmt.Sprint(doc["kind"], "/", meta["name"])] = doc
	}
	for _, want := range []string{"ConfigMap/tollgate", "Deployment/tollgate", "Service/tollgate",
		"Deployment/redis", "Service/redis", "Deployment/origin", "Service/origin"} {
		if kinds[want] == nil {
			t.Errorf("kubernetes.yaml has no %s", want)
		}
	}
	if data, _ := kinds["ConfigMap/tollgate"]["data"].(map[string]any); data["tollgate.yaml"] != config {
		t.Errorf("the ConfigMap's tollgate.yaml differs from examples/deploy/tollgate.yaml")
	}
	dep := fmt.Sprint(kinds["Deployment/tollgate"])
	for _, want := range []string{"replicas:3", "mountPath:/etc/tollgate", "TOLLGATE_ADMIN_ADDR", "path:/readyz"} {
		if !strings.Contains(dep, want) {
			t.Errorf("Deployment/tollgate lacks %s: %s", want, dep)
		}
	}
	if strings.Contains(dep, "subPath") {
		t.Errorf("Deployment/tollgate mounts the config with subPath (updates would never be seen)")
	}
}

// checkComposeExample decodes compose.yaml: three tollgate services
// mounting the config directory with a -probe health check, Redis and an
// origin.
func checkComposeExample(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile("../../examples/deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Volumes     []string       `yaml:"volumes"`
			Healthcheck map[string]any `yaml:"healthcheck"`
			Environment map[string]any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tollgate-1", "tollgate-2", "tollgate-3"} {
		s, ok := doc.Services[name]
		if !ok || len(s.Volumes) != 1 || s.Volumes[0] != "./:/etc/tollgate:ro" ||
			!strings.Contains(fmt.Sprint(s.Healthcheck["test"]), "-probe") || s.Environment[adminAddrEnv] != ":9901" {
			t.Errorf("compose service %s: %+v", name, s)
		}
	}
	for _, name := range []string{"redis", "origin"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("compose.yaml has no %s service", name)
		}
	}
}

// TestReloadAfterRenameSave: an editor that saves by writing a new file
// and renaming it over the config leaves a file the next reload reads.
func TestReloadAfterRenameSave(t *testing.T) {
	o := okOrigin(t)
	cfg := func(prefix string) string {
		return `
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams: {app: {targets: ["` + o.addr + `"]}}
routes: [{name: app, match: {path_prefix: ` + prefix + `}, upstream: app}]
`
	}
	g := startGateway(t, cfg("/old"))
	saved := filepath.Join(filepath.Dir(g.config), ".tollgate.yaml.swp")
	text := strings.NewReplacer("LISTEN", g.addr, "ADMIN", g.admin).Replace(cfg("/new"))
	if err := os.WriteFile(saved, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved, g.config); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return send(t, newClient(), g.url("/new")).status == 200 })
	if r := send(t, newClient(), g.url("/old")); r.status != 404 {
		t.Errorf("/old after the reload: %d", r.status)
	}
}

// TestResetAndTimeoutExplainThemselves: an upstream that closes without
// answering and one that answers too late are each logged with their
// cause, counted, and named in the access log.
func TestResetAndTimeoutExplainThemselves(t *testing.T) {
	closer := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	})
	release := make(chan struct{})
	defer close(release)
	slow := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
upstreams:
  closer: {targets: ["%s"], retries: {attempts: 0}}
  slow: {targets: ["%s"], timeouts: {response_header: 300ms}, retries: {attempts: 0}}
routes:
  - {name: closer, match: {path_prefix: /closer}, upstream: closer}
  - {name: slow, match: {path_prefix: /slow}, upstream: slow}
`, closer.addr, slow.addr))
	for _, tc := range []struct {
		path, addr, upstream, cause, msg string
		status                           int
	}{
		{"/closer", closer.addr, "closer", "reset", "upstream closed the connection", 502},
		{"/slow", slow.addr, "slow", "timeout", "upstream did not answer in time", 504},
	} {
		if s, b, _ := getWithID(t, g.url(tc.path), "id"+tc.path); s != tc.status || b.Message != tc.msg {
			t.Errorf("%s: %d %+v", tc.path, s, b)
		}
		waitLogLine(t, g, tc.msg, map[string]any{"upstream": tc.upstream, "target": tc.addr, "cause": tc.cause})
		waitLogLine(t, g, "access", map[string]any{"route": tc.upstream, "upstream_target": tc.addr,
			"tries": 1, "upstream_error": tc.cause, "status": tc.status})
		sample := fmt.Sprintf(`tollgate_upstream_errors_total{cause="%s",target="%s",upstream="%s"}`, tc.cause, tc.addr, tc.upstream)
		if v := g.metric(sample); v != 1 {
			t.Errorf("%s = %v; want 1", sample, v)
		}
	}
}
