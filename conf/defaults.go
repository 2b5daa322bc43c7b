package conf

import (
	"math"
	"net/netip"
	"time"
)

// Every default of CONTRACT.md section 2 is written here and nowhere else.
// The decoder starts each struct from its default and overwrites the keys
// the file sets, so "absent" and "set to the zero value" stay distinct (an
// explicit `admin: {listen: ""}` disables the admin listener). Each
// function returns fresh values: nothing here is shared or mutable.

// defaultAdminListen is used when the admin block or its listen key is
// absent.
const defaultAdminListen = "127.0.0.1:9901"

// defaultJWKSRefresh is how often a jwks_url key is refetched.
const defaultJWKSRefresh = 5 * time.Minute

// defaultConfig is a Config before any key of the file is applied.
func defaultConfig() Config {
	return Config{
		Server:        defaultServer(),
		Admin:         Admin{Listen: defaultAdminListen},
		Upstreams:     map[string]*Upstream{},
		UpstreamOrder: []string{},
		Clients: Clients{
			Default: Quota{Rate: Rate{N: 100, Per: time.Second}, Burst: 200, Mode: ModeEnforce},
			Named:   map[string]*Quota{},
		},
		Plans:  map[string]*Quota{},
		Limits: defaultLimits(),
		Routes: []Route{},
	}
}

// defaultServer is the server block's defaults; listen is required.
func defaultServer() Server {
	return Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16384,
		MaxBodyBytes:      0,
		Buffers:           Buffers{RequestBody: 64 << 10, ResponseBody: 64 << 10, MaxTotal: 256 << 20},
		HTTP2:             HTTP2{Enabled: true, MaxConcurrentStreams: 100},
		ShutdownTimeout:   15 * time.Second,
		AcceptLoops:       0,
		TrustedProxies:    []netip.Prefix{},
		AccessLog:         false,
	}
}

// defaultUpstream is an upstream before its keys are applied; targets are
// required, health checks and breakers stay off.
func defaultUpstream(name string) *Upstream {
	return &Upstream{
		Name:     name,
		Targets:  []Target{},
		Balance:  BalanceRoundRobin,
		Protocol: ProtocolHTTP1,
		Pool:     Pool{MaxConnsPerTarget: 512, MaxIdlePerTarget: 128, IdleTimeout: 90 * time.Second, MaxConnsShare: 0.5},
		Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 15 * time.Second},
		Retries:  Retries{Attempts: 1, On: []string{"connect_failure", "502", "503"}}, // as CONTRACT.md shows
	}
}

// defaultTarget is a target before its keys are applied.
func defaultTarget() Target {
	return Target{Weight: 1}
}

// defaultHealthCheck applies when a health_check block is present.
func defaultHealthCheck() *HealthCheck {
	return &HealthCheck{
		Path:           "/healthz",
		Interval:       5 * time.Second,
		Timeout:        time.Second,
		UnhealthyAfter: 3,
		HealthyAfter:   2,
	}
}

// defaultBreaker applies when a breaker block is present.
func defaultBreaker() *Breaker {
	return &Breaker{
		MinRequests:         20,
		FailureRatio:        0.5,
		ConsecutiveFailures: 5,
		Interval:            10 * time.Second,
		OpenFor:             5 * time.Second,
		HalfOpenRequests:    3,
		FailureOn:           []string{"5xx", "timeout", "connect_failure"},
	}
}

// defaultJWT applies when an auth.jwt block is present; algorithms and
// keys are required.
func defaultJWT() *JWT {
	return &JWT{
		Audiences:     []string{},
		Algorithms:    []string{},
		Keys:          []JWTKey{},
		Leeway:        30 * time.Second,
		ClientIDClaim: "client_id",
		ScopesClaim:   "scope",
	}
}

// defaultIntrospection applies when an auth.introspection block is
// present; url, client_id and a secret are required.
func defaultIntrospection() *Introspection {
	return &Introspection{CacheTTL: 30 * time.Second, Timeout: 2 * time.Second}
}

// defaultAPIKeys applies when an auth.api_keys block is present.
func defaultAPIKeys() *APIKeys {
	return &APIKeys{Header: "X-API-Key", Keys: []APIKey{}}
}

// defaultQuota is a quota before its keys are applied; rate is required
// and an absent burst becomes defaultBurst(rate).
func defaultQuota() *Quota {
	return &Quota{Mode: ModeEnforce}
}

// defaultBurst is a quota's burst when the file sets none: one second's
// worth of tokens, rounded up, at least 1.
func defaultBurst(r Rate) int {
	b := math.Ceil(r.PerSecond())
	if b < 1 {
		return 1
	}
	if b > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(b)
}

// defaultLimits is the limits block's defaults.
func defaultLimits() Limits {
	return Limits{
		Store: "local",
		Redis: Redis{
			Addrs:        []string{"127.0.0.1:6379"},
			SyncInterval: 50 * time.Millisecond,
			OnFailure:    "local",
		},
		Adaptive:       Adaptive{Enabled: false, TargetLatency: 250 * time.Millisecond, MinFactor: 0.1},
		Headers:        "ietf",
		MaxTrackedKeys: 1000000,
		MaxCost:        1000,
		TimeZone:       "UTC",
	}
}

// defaultRoute is a route before its keys are applied.
func defaultRoute() Route {
	return Route{
		Auth:    []string{},
		Scopes:  []string{},
		Limit:   true,
		Cost:    1,
		Timeout: 30 * time.Second,
		Plugins: []Plugin{},
	}
}

// defaultRequestID applies to a request_id plugin entry.
func defaultRequestID() *RequestIDPlugin {
	return &RequestIDPlugin{Header: "X-Request-Id"}
}

// defaultCORS applies to a cors plugin entry.
func defaultCORS() *CORSPlugin {
	return &CORSPlugin{AllowedOrigins: []string{}, AllowedMethods: []string{"GET", "HEAD", "POST"}}
}

// defaultHeadersPlugin applies to a headers plugin entry.
func defaultHeadersPlugin() *HeadersPlugin {
	return &HeadersPlugin{}
}

// defaultTracing applies when a tracing block is present; endpoint is
// required. One request in a hundred is traced unless its client's
// traceparent says it is sampled.
func defaultTracing() *Tracing {
	return &Tracing{Protocol: TracingHTTP, SampleRatio: 0.01, ServiceName: "tollgate"}
}

// defaultSignatures applies when an auth.signatures block is present.
func defaultSignatures() *Signatures {
	return &Signatures{
		Keys:           []SignatureKey{},
		Components:     []string{"@method", "@authority", "@path", "@query"},
		MaxAge:         5 * time.Minute,
		RequireNonce:   true,
		MaxBodyBytes:   MaxSignedBody,
		NonceCacheSize: 100_000,
	}
}
