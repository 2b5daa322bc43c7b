package conf

import (
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// loadGood loads a testdata fixture that must be valid.
func loadGood(t *testing.T, name string) *Config {
	t.Helper()
	t.Setenv("TOLLGATE_TEST_REDIS_PASSWORD", "  redis-pass\n")
	c, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return c
}

// check fails the test when got differs from want.
func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestMinimalDefaults(t *testing.T) {
	c := loadGood(t, "minimal.good.yaml")
	check(t, "Path", c.Path, filepath.Join("testdata", "minimal.good.yaml"))
	check(t, "len(Version)", len(c.Version), 16)
	check(t, "Server", c.Server, Server{
		Listen:            ":8080",
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16384,
		ShutdownTimeout:   15 * time.Second,
		TrustedProxies:    []netip.Prefix{},
		Buffers:           Buffers{RequestBody: 65536, ResponseBody: 65536, MaxTotal: 256 << 20},
		HTTP2:             HTTP2{Enabled: true, MaxConcurrentStreams: 100},
	})
	check(t, "Admin", c.Admin, Admin{Listen: "127.0.0.1:9901"})
	check(t, "Upstreams", c.Upstreams, map[string]*Upstream{})
	check(t, "Auth", c.Auth, Auth{})
	check(t, "Clients", c.Clients, Clients{
		Default: Quota{Rate: Rate{N: 100, Per: time.Second}, Burst: 200, Mode: ModeEnforce},
		Named:   map[string]*Quota{},
	})
	check(t, "Limits", c.Limits, Limits{
		Store: "local",
		Redis: Redis{
			Addrs:        []string{"127.0.0.1:6379"},
			SyncInterval: 50 * time.Millisecond,
			OnFailure:    "local",
		},
		Adaptive:       Adaptive{TargetLatency: 250 * time.Millisecond, MinFactor: 0.1},
		Headers:        "ietf",
		MaxTrackedKeys: 1000000, MaxCost: 1000, TimeZone: "UTC",
	})
	check(t, "Routes", c.Routes, []Route{})
}

func TestFullConfig(t *testing.T) {
	c := loadGood(t, "full.good.yaml")
	check(t, "TrustedProxies", c.Server.TrustedProxies, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.1.0.0/16"),
	})
	check(t, "TLS", c.Server.TLS, TLS{
		CertFile: filepath.Join("testdata", "tls", "cert.pem"),
		KeyFile:  filepath.Join("testdata", "tls", "key.pem"),
	})
	check(t, "UpstreamOrder", c.UpstreamOrder, []string{"users", "search"})
	checkUpstreams(t, c)
	checkAuth(t, c)
	checkClients(t, c)
	check(t, "Redis.Password", c.Limits.Redis.Password, "redis-pass")
	check(t, "Adaptive", c.Limits.Adaptive, Adaptive{Enabled: true, TargetLatency: 250 * time.Millisecond, MinFactor: 0.2})
	checkRoutes(t, c)
}

func checkUpstreams(t *testing.T, c *Config) {
	t.Helper()
	users := c.Upstreams["users"]
	check(t, "users.Name", users.Name, "users")
	check(t, "users.Targets", users.Targets, []Target{{"127.0.0.1:9001", 1}, {"127.0.0.1:9002", 3}})
	check(t, "users.Retries", users.Retries, Retries{Attempts: 2, On: []string{"connect_failure", "502", "503"}})
	check(t, "users.HealthCheck", *users.HealthCheck, HealthCheck{
		Path: "/health", Interval: 2 * time.Second, Timeout: time.Second, UnhealthyAfter: 3, HealthyAfter: 2,
	})
	check(t, "users.Breaker", *users.Breaker, Breaker{
		MinRequests: 10, FailureRatio: 0.25, ConsecutiveFailures: 5, Interval: 10 * time.Second,
		OpenFor: 5 * time.Second, HalfOpenRequests: 3, FailureOn: []string{"5xx", "timeout"},
	})
	search := c.Upstreams["search"]
	check(t, "search", *search, Upstream{
		Name:     "search",
		Targets:  []Target{{"search.internal:80", 1}},
		Balance:  BalanceRoundRobin,
		Pool:     Pool{MaxConnsPerTarget: 512, MaxIdlePerTarget: 128, IdleTimeout: 90 * time.Second, MaxConnsShare: 0.5},
		Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 15 * time.Second},
		Retries:  Retries{Attempts: 1, On: []string{"connect_failure", "502", "503"}},
		Protocol: ProtocolH2C,
	})
}

func checkAuth(t *testing.T, c *Config) {
	t.Helper()
	check(t, "JWT.Keys", c.Auth.JWT.Keys, []JWTKey{
		{File: filepath.Join("testdata", "keys", "auth.pem")},
		{JWKSURL: "http://127.0.0.1:9100/.well-known/jwks.json", Refresh: 5 * time.Minute},
		{JWKSURL: "https://auth.internal/jwks.json", Refresh: time.Minute},
	})
	check(t, "JWT.Leeway", c.Auth.JWT.Leeway, 10*time.Second)
	check(t, "JWT claims", []string{c.Auth.JWT.ClientIDClaim, c.Auth.JWT.ScopesClaim}, []string{"client_id", "scope"})
	in := c.Auth.Introspection
	check(t, "ClientSecret", in.ClientSecret, "s3cret-from-file")
	check(t, "Introspection timings", []time.Duration{in.CacheTTL, in.Timeout}, []time.Duration{30 * time.Second, 2 * time.Second})
	check(t, "APIKeys", *c.Auth.APIKeys, APIKeys{Header: "X-API-Key", Keys: []APIKey{{
		SHA256: "80fd3c65b4bcf319f86702556606ee9d4e6caa2b853d5e11cb32dc431cdc55fc", ClientID: "partner-x",
	}}})
}

func checkClients(t *testing.T, c *Config) {
	t.Helper()
	check(t, "Default", c.Clients.Default, Quota{Rate: Rate{50, time.Second}, Burst: 50, Mode: ModeEnforce})
	check(t, "Named", c.Clients.Named, map[string]*Quota{
		"mobile-app": {Rate: Rate{1000, time.Second}, Burst: 2000, Concurrency: 200, Mode: ModeEnforce},
		"partner-x": {Rate: Rate{10, time.Second}, Burst: 20, Concurrency: 10, Mode: ModeShadow,
			Routes: map[string]RouteQuota{
				"search": {Rate: Rate{2, time.Second}, Burst: 2},
				"users":  {Rate: Rate{90, time.Minute}, Burst: 2},
			}},
		"batch": {Rate: Rate{0.5, time.Second}, Burst: 1, Mode: ModeEnforce},
	})
}

func checkRoutes(t *testing.T, c *Config) {
	t.Helper()
	check(t, "routes[0]", c.Routes[0], Route{
		Name: "users",
		Match: Match{
			Host: "api.example.com", PathPrefix: "/v1/users",
			Methods: []string{"GET", "POST"}, Headers: map[string]string{"X-Canary": "1"},
		},
		Upstream: "users", StripPrefix: "/v1", HostRewrite: "users.internal:8080",
		Auth: []string{"jwt", "introspection", "api_key"}, Scopes: []string{"users:read"},
		Limit: true, Cost: 1, Timeout: 10 * time.Second,
		Plugins: []Plugin{
			{RequestID: &RequestIDPlugin{Header: "X-Trace-Id"}},
			{Headers: &HeadersPlugin{RequestSet: map[string]string{"X-Env": "prod"}, ResponseRemove: []string{"Server"}}},
			{CORS: &CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"GET", "POST"}}},
		},
		Line: 77,
	})
	check(t, "routes[1]", c.Routes[1], Route{
		Name: "search", Match: Match{Host: "*.example.com", Path: "/search"}, Upstream: "search",
		Auth: []string{}, Scopes: []string{}, Limit: false, Cost: 1, Timeout: 30 * time.Second,
		Plugins: []Plugin{
			{RequestID: &RequestIDPlugin{Header: "X-Request-Id"}},
			{CORS: &CORSPlugin{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD", "POST"}}},
		},
		Line: 93,
	})
}

func TestAdminDisabled(t *testing.T) {
	c := loadGood(t, "admin_disabled.good.yaml")
	check(t, "Admin.Listen", c.Admin.Listen, "")
}

func TestAnchorsAndEnabledBlocks(t *testing.T) {
	c := loadGood(t, "anchors.good.yaml")
	check(t, "b.Targets", c.Upstreams["b"].Targets, []Target{{"127.0.0.1:9001", 1}})
	check(t, "a.HealthCheck", c.Upstreams["a"].HealthCheck, defaultHealthCheck())
	check(t, "a.Breaker", c.Upstreams["a"].Breaker, defaultBreaker())
	check(t, "b.HealthCheck", c.Upstreams["b"].HealthCheck, (*HealthCheck)(nil))
	check(t, "b.Breaker", c.Upstreams["b"].Breaker, (*Breaker)(nil))
}

func TestParseSecretFromEnv(t *testing.T) {
	t.Setenv("TOLLGATE_TEST_SECRET", "\tfrom-env \n")
	src := []byte(`server: {listen: ":8080"}
auth:
  introspection: {url: "https://idp/introspect", client_id: gw, client_secret_env: TOLLGATE_TEST_SECRET}
`)
	c, err := Parse("inline.yaml", src, "")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "ClientSecret", c.Auth.Introspection.ClientSecret, "from-env")
	check(t, "Path", c.Path, "inline.yaml")
}

func TestVersionFollowsBytes(t *testing.T) {
	a, errA := Parse("a.yaml", []byte("server: {listen: \":8080\"}\n"), "")
	b, errB := Parse("b.yaml", []byte("server: {listen: \":8081\"}\n"), "")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.Version == b.Version || len(a.Version) != 16 {
		t.Errorf("versions %q and %q: want two different 16-digit hashes", a.Version, b.Version)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "does-not-exist.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Errorf("an unreadable file should not be an ErrorList")
	}
}

func TestParseRate(t *testing.T) {
	good := map[string]Rate{
		"100/s": {100, time.Second}, "5/m": {5, time.Minute}, "1/h": {1, time.Hour}, "0.5/s": {0.5, time.Second},
	}
	for s, want := range good {
		r, err := ParseRate(s)
		if err != nil || r != want || r.String() != s {
			t.Errorf("ParseRate(%q) = %v, %v; String %q", s, r, err, r.String())
		}
	}
	for _, s := range []string{"", "100", "0/s", "-1/s", "10/d", "x/s", "10/", "/s", "NaN/s", "Inf/s"} {
		if _, err := ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q) succeeded, want an error", s)
		}
	}
}

func TestInlineSemantics(t *testing.T) {
	const head = "server: {listen: \":8080\"}\n"
	tests := []struct {
		name, src string
		check     func(t *testing.T, c *Config)
	}{
		{"null admin keeps the default", head + "admin:\n", func(t *testing.T, c *Config) {
			check(t, "Admin.Listen", c.Admin.Listen, "127.0.0.1:9901")
		}},
		{"admin without listen keeps the default", head + "admin: {}\n", func(t *testing.T, c *Config) {
			check(t, "Admin.Listen", c.Admin.Listen, "127.0.0.1:9901")
		}},
		{"empty listen disables admin", head + "admin: {listen: \"\"}\n", func(t *testing.T, c *Config) {
			check(t, "Admin.Listen", c.Admin.Listen, "")
		}},
		{"null health_check stays off", head + "upstreams: {u: {targets: [\"h:1\"], health_check: ~}}\n", func(t *testing.T, c *Config) {
			check(t, "HealthCheck", c.Upstreams["u"].HealthCheck, (*HealthCheck)(nil))
		}},
		{"explicit empty retries.on", head + "upstreams: {u: {targets: [\"h:1\"], retries: {on: []}}}\n", func(t *testing.T, c *Config) {
			check(t, "Retries", c.Upstreams["u"].Retries, Retries{Attempts: 1, On: []string{}})
		}},
		{"burst defaults to ceil(rate per second)", head + "clients: {a: {rate: 150/m}, b: {rate: 7200/h}, c: {rate: 2.5/s}}\n", func(t *testing.T, c *Config) {
			check(t, "bursts", []int{c.Clients.Named["a"].Burst, c.Clients.Named["b"].Burst, c.Clients.Named["c"].Burst}, []int{3, 2, 3})
		}},
		{"numbers are accepted as strings", head + "upstreams: {u: {targets: [\"h:1\"], retries: {on: [502]}}}\n", func(t *testing.T, c *Config) {
			check(t, "Retries.On", c.Upstreams["u"].Retries.On, []string{"502"})
		}},
		{"listen port 0 and IPv6 targets", "server: {listen: \"[::1]:0\"}\nupstreams: {u: {targets: [\"[::1]:9000\"]}}\n", func(t *testing.T, c *Config) {
			check(t, "Targets", c.Upstreams["u"].Targets, []Target{{"[::1]:9000", 1}})
		}},
		{"request_id with no body", head + "upstreams: {u: {targets: [\"h:1\"]}}\nroutes: [{name: r, match: {path: /}, upstream: u, plugins: [{request_id: }]}]\n", func(t *testing.T, c *Config) {
			check(t, "Plugins", c.Routes[0].Plugins, []Plugin{{RequestID: &RequestIDPlugin{Header: "X-Request-Id"}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("inline.yaml", []byte(tt.src), "")
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
