package main

// End-to-end tests of the quota usage API on the admin listener
// (GET /clients, GET /clients/{id}, POST /clients/{id}/reset) and of the
// admin token that protects the mutating endpoints, against the binary,
// with the local store and with a real redis-server.

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tollgate/limiter"
)

// adminToken is the bearer token the quota API tests configure.
const adminToken = "s3cret-admin-token"

// withAdmin adds lines (indented by two spaces) to a config's admin block.
func withAdmin(cfg, lines string) string {
	return strings.Replace(cfg, "admin:\n  listen: \"ADMIN\"\n", "admin:\n  listen: \"ADMIN\"\n"+lines, 1)
}

// adminDo sends a request to the admin listener with an optional
// Authorization value and decodes a JSON answer into out (when not nil).
func adminDo(t *testing.T, g *gateway, method, path, authz string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+g.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s %s: 401 without WWW-Authenticate", method, path)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return resp.StatusCode
}

// clientState reads GET /clients/{id}.
type clientState struct {
	Store string `json:"store"`
	limiter.ClientUsage
}

// usageOf returns the base policy of GET /clients/{id}.
func usageOf(t *testing.T, g *gateway, id string) limiter.PolicyUsage {
	t.Helper()
	var cs clientState
	if code := adminDo(t, g, "GET", "/clients/"+id, "", &cs); code != 200 || len(cs.Policies) == 0 {
		t.Fatalf("GET /clients/%s: %d %+v", id, code, cs)
	}
	return cs.Policies[0]
}

// stateHeader matches the ietf RateLimit value.
var stateHeader = regexp.MustCompile(`^"([^"]+)";r=(\d+);t=(\d+)$`)

// spend sends one request as partner-x and returns its RateLimit r.
func spend(t *testing.T, g *gateway, c *http.Client) int {
	t.Helper()
	r := send(t, c, g.url("/keyed/x"), "X-API-Key: partner-key")
	m := stateHeader.FindStringSubmatch(r.header.Get("RateLimit"))
	if r.status != 200 || m == nil || m[1] != "partner-x" {
		t.Fatalf("request as partner-x: %d RateLimit %q", r.status, r.header.Get("RateLimit"))
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// checkQuotaAPI runs the quota API's checks on a gateway whose partner-x
// has 20 tokens refilling at 1/m.
func checkQuotaAPI(t *testing.T, g *gateway, store string) {
	c := newClient()
	for range 3 {
		spend(t, g, c)
	}
	for range 4 {
		u := usageOf(t, g, "partner-x")
		if u.Policy != "partner-x" || u.Limit != 20 {
			t.Fatalf("usage %+v", u)
		}
		if store == "redis" && (u.Source != "redis" || u.Global == nil || u.Global.Error != "") {
			t.Fatalf("with Redis, usage has no global figures: %+v %+v", u, u.Global)
		}
		if r := spend(t, g, c); r < u.Remaining-1 || r > u.Remaining+1 {
			t.Errorf("API said %d left, the next response's RateLimit says r=%d", u.Remaining, r)
		}
	}
	if u := usageOf(t, g, "partner-x"); u.Remaining > 13 || u.Remaining < 12 {
		t.Errorf("after 7 requests the API says %d of 20 left", u.Remaining)
	}

	var ov limiter.Overview
	if code := adminDo(t, g, "GET", "/clients", "", &ov); code != 200 || ov.Store != store || len(ov.Clients) != 2 || ov.Clients[1].Client != "partner-x" || ov.Default.Limit != 1000 {
		t.Errorf("GET /clients: %d %+v", code, ov)
	}
	if code := adminDo(t, g, "GET", "/clients/nobody", "", nil); code != 404 {
		t.Errorf("GET /clients/nobody: %d, want 404", code)
	}

	// Mutating endpoints need the token.
	for _, authz := range []string{"", "Bearer wrong", "Basic " + adminToken, "Bearer"} {
		if code := adminDo(t, g, "POST", "/clients/partner-x/reset", authz, nil); code != 401 {
			t.Errorf("reset with Authorization %q: %d, want 401", authz, code)
		}
		if code := adminDo(t, g, "POST", "/reload", authz, nil); code != 401 {
			t.Errorf("reload with Authorization %q: %d, want 401", authz, code)
		}
	}
	if u := usageOf(t, g, "partner-x"); u.Remaining > 13 {
		t.Errorf("a refused reset refilled the bucket: %d left", u.Remaining)
	}
	var reset struct{ Reset int }
	if code := adminDo(t, g, "POST", "/clients/partner-x/reset", "Bearer "+adminToken, &reset); code != 200 || reset.Reset != 1 {
		t.Fatalf("reset with the token: %d %+v", code, reset)
	}
	if u := usageOf(t, g, "partner-x"); u.Remaining != 20 {
		t.Errorf("after reset the API says %d of 20 left", u.Remaining)
	}
	if r := spend(t, g, c); r != 19 {
		t.Errorf("after reset the next response says r=%d, want 19", r)
	}
	if code := adminDo(t, g, "POST", "/clients/nobody/reset", "Bearer "+adminToken, nil); code != 404 {
		t.Errorf("reset of an unknown client: %d, want 404", code)
	}
	if code := adminDo(t, g, "POST", "/reload", "Bearer "+adminToken, nil); code != 200 {
		t.Errorf("reload with the token: %d", code)
	}
	for _, line := range []string{`"msg":"admin request refused"`, `"msg":"quota reset","client":"partner-x"`} {
		if !strings.Contains(g.logs.String(), line) {
			t.Errorf("log has no %s", line)
		}
	}
}

// quotaAPIConfig is partner-x with 20 tokens at 1/m (nothing refills
// during the test) on the limits test routes.
func quotaAPIConfig(addr, limits string) string {
	return limitsConfig(addr, `  default: {rate: 1000/s, burst: 1000}
  partner-x: {rate: 1/m, burst: 20}
  other-co: {rate: 1/m, burst: 5}`, limits, "")
}

// TestQuotaAPI: the local store, the token read from a file.
func TestQuotaAPI(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	file := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(file, []byte("  "+adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, withAdmin(quotaAPIConfig(o.addr, "  headers: ietf"), "  token_file: "+file+"\n"))
	checkQuotaAPI(t, g, "local")
}

// TestQuotaAPIWithRedis: the Redis store (the API reads the shared
// bucket, a reset deletes it), the token read from the environment.
func TestQuotaAPIWithRedis(t *testing.T) {
	t.Setenv("TOLLGATE_TEST_QUOTA_API_TOKEN", adminToken)
	rs := startRedis(t)
	o := okOrigin(t)
	g := startGateway(t, withAdmin(quotaAPIConfig(o.addr, redisLimits(rs.addr, "local")), "  token_env: TOLLGATE_TEST_QUOTA_API_TOKEN\n"))
	checkQuotaAPI(t, g, "redis")
}

// TestAdminOpenWithoutToken: without admin.token_* the mutating endpoints
// stay open, as before the option existed.
func TestAdminOpenWithoutToken(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	g := startGateway(t, quotaAPIConfig(o.addr, "  headers: ietf"))
	spend(t, g, newClient())
	if code := adminDo(t, g, "POST", "/clients/partner-x/reset", "", nil); code != 200 {
		t.Errorf("reset without a configured token: %d, want 200", code)
	}
	if code := adminDo(t, g, "POST", "/reload", "", nil); code != 200 {
		t.Errorf("reload without a configured token: %d, want 200", code)
	}
}
