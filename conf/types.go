// Package conf holds tollgate's configuration as plain data: the schema of
// CONTRACT.md section 2 as typed structs, a strict YAML loader that reports
// every error with its file, line and key path, the defaults (filled in one
// place) and validation. Nothing here starts goroutines or opens sockets.
package conf

import (
	"net/netip"
	"time"
)

// Config is one loaded, defaulted and validated configuration file. A
// *Config is never mutated after Load returns; a reload builds a new one.
type Config struct {
	// Path is the file the config was read from ("" for the embedded one).
	Path string `json:"-"`
	// Version is a hex hash of the file's bytes, shown by /config.
	Version string `json:"-"`

	Server    Server               `json:"server"`
	Admin     Admin                `json:"admin"`
	Upstreams map[string]*Upstream `json:"upstreams"`
	// UpstreamOrder lists upstream names in file order.
	UpstreamOrder []string `json:"-"`
	Auth          Auth     `json:"auth"`
	Clients       Clients  `json:"clients"`
	// Plans are named quota templates that clients share ("free",
	// "gold"); a named client's own keys override its plan's.
	Plans  map[string]*Quota `json:"plans"`
	Limits Limits            `json:"limits"`
	Routes []Route           `json:"routes"`
	// Tracing is the OpenTelemetry export; nil (no tracing block) = off.
	Tracing *Tracing `json:"tracing,omitempty"`
}

// Tracing configures OpenTelemetry tracing: where spans are exported
// (OTLP over HTTP or gRPC), which share of requests that arrive without a
// sampled parent is traced, and the service name spans carry. The struct
// is comparable: snapshots with equal Tracing share one exporter.
type Tracing struct {
	// Endpoint is the OTLP collector's URL: http://host:4318 for
	// protocol http (the path defaults to /v1/traces), http://host:4317
	// for grpc (https for TLS).
	Endpoint    string  `json:"endpoint"`
	Protocol    string  `json:"protocol"`     // http | grpc
	SampleRatio float64 `json:"sample_ratio"` // 0..1, for requests without a parent; a parent's flag is followed
	ServiceName string  `json:"service_name"`
}

// Tracing protocols.
const (
	TracingHTTP = "http"
	TracingGRPC = "grpc"
)

// Server is the client-facing listener's configuration.
type Server struct {
	Listen            string         `json:"listen"`
	AcceptLoops       int            `json:"accept_loops"` // 0 = one per CPU (resolved by the proxy)
	ReadHeaderTimeout time.Duration  `json:"read_header_timeout"`
	IdleTimeout       time.Duration  `json:"idle_timeout"`
	MaxHeaderBytes    int            `json:"max_header_bytes"`
	MaxBodyBytes      int64          `json:"max_body_bytes"` // 0 = unlimited
	ShutdownTimeout   time.Duration  `json:"shutdown_timeout"`
	TrustedProxies    []netip.Prefix `json:"trusted_proxies"`
	TLS               TLS            `json:"tls"`
	AccessLog         bool           `json:"access_log"`
	Buffers           Buffers        `json:"buffers"`
	HTTP2             HTTP2          `json:"http2"`
}

// HTTP2 is how the listeners serve HTTP/2 clients (h2 by ALPN over TLS,
// h2c by prior knowledge in cleartext).
type HTTP2 struct {
	// Enabled: false serves HTTP/1.1 only (no ALPN h2; the preface is a
	// malformed request).
	Enabled bool `json:"enabled"`
	// MaxConcurrentStreams bounds the streams in flight on one connection.
	MaxConcurrentStreams int `json:"max_concurrent_streams"`
}

// Buffers bounds the bodies the gateway reads whole, so that a slow
// client holds memory rather than an upstream connection.
type Buffers struct {
	// RequestBody: a request body with a known length up to this size is
	// read whole before an upstream connection is taken (0: none is).
	RequestBody int64 `json:"request_body"`
	// ResponseBody: a response body with a known length up to this size
	// is read whole from the upstream when the client is slower, so the
	// upstream connection goes back to its pool (0: none is).
	ResponseBody int64 `json:"response_body"`
	// MaxTotal caps the bytes all such bodies hold at once; past it,
	// bodies stream (and the client's pace holds back the upstream's).
	MaxTotal int64 `json:"max_total"`
}

// TLS names the certificate and key files; both set means the listener
// speaks TLS. Paths are already resolved against the config directory.
type TLS struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCA, when set, makes the listener ask for client certificates
	// and verify them against these PEM CA certificates; ClientAuth says
	// whether one is required; CRLFile (PEM or DER, signed by one of the
	// CAs) lists revoked ones. All three are re-read on reload.
	ClientCA   string `json:"client_ca,omitempty"`
	ClientAuth string `json:"client_auth,omitempty"` // request | require
	CRLFile    string `json:"crl_file,omitempty"`
}

// Client certificate modes (server.tls.client_auth).
const (
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// Enabled reports whether TLS termination is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Admin is the admin listener's configuration.
type Admin struct {
	Listen string `json:"listen"` // "" disables the admin listener
	// TokenFile or TokenEnv name where the bearer token protecting the
	// mutating admin endpoints (POST /reload, POST /clients/{id}/reset)
	// is read from; both empty leaves them open (the default).
	TokenFile string `json:"token_file,omitempty"`
	TokenEnv  string `json:"token_env,omitempty"`
	// Token is read from TokenFile or TokenEnv at load time,
	// whitespace-trimmed; "" means no token is required.
	Token string `json:"token,omitempty"`
}

// Upstream is one named group of targets that routes send traffic to.
type Upstream struct {
	Name        string       `json:"-"`
	Targets     []Target     `json:"targets"`
	Balance     string       `json:"balance"` // round_robin | least_conn | random | hash
	Pool        Pool         `json:"pool"`
	Timeouts    Timeouts     `json:"timeouts"`
	Retries     Retries      `json:"retries"`
	HealthCheck *HealthCheck `json:"health_check,omitempty"` // nil = off
	Breaker     *Breaker     `json:"breaker,omitempty"`      // nil = off
	TLS         *UpstreamTLS `json:"tls,omitempty"`          // nil = cleartext
	// Protocol is how the gateway speaks to the targets: ProtocolHTTP1
	// (the default), ProtocolH2C (HTTP/2 in cleartext, prior knowledge) or
	// ProtocolH2 (HTTP/2 over the tls block, ALPN "h2").
	Protocol string `json:"protocol"`
}

// Upstream protocols (upstreams.NAME.protocol).
const (
	ProtocolHTTP1 = "http1"
	ProtocolH2C   = "h2c"
	ProtocolH2    = "h2"
)

// UpstreamTLS makes the gateway speak TLS to an upstream's targets.
// CAFile "" means the system's roots; ServerName "" means the target's
// host; a client certificate (both files) makes it mutual.
type UpstreamTLS struct {
	CAFile             string `json:"ca_file,omitempty"`
	ServerName         string `json:"server_name,omitempty"`
	ClientCertFile     string `json:"client_cert_file,omitempty"`
	ClientKeyFile      string `json:"client_key_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// Balance policies.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
	BalanceRandom     = "random"
	BalanceHash       = "hash"
)

// Target is one upstream address with its balancing weight (>= 1).
type Target struct {
	Addr   string `json:"addr"`
	Weight int    `json:"weight"`
}

// Pool bounds the keep-alive connections kept to each target.
type Pool struct {
	MaxConnsPerTarget int           `json:"max_conns_per_target"`
	MaxIdlePerTarget  int           `json:"max_idle_per_target"`
	IdleTimeout       time.Duration `json:"idle_timeout"`
	// MaxConnsShare is the fraction of max_conns_per_target that one
	// client (its id, or its IP when anonymous) may hold on a target at
	// once; 1 turns fair shares off.
	MaxConnsShare float64 `json:"max_conns_share"`
}

// Timeouts apply per try.
type Timeouts struct {
	Connect        time.Duration `json:"connect"`
	ResponseHeader time.Duration `json:"response_header"`
}

// MaxRetryAttempts bounds retries.attempts: one request tries at most
// 1 + MaxRetryAttempts targets.
const MaxRetryAttempts = 7

// Retries are extra tries after the first one. On lists the conditions:
// "connect_failure", "timeout", "reset" or a status code such as "502".
type Retries struct {
	Attempts int      `json:"attempts"`
	On       []string `json:"on"`
}

// HealthCheck configures active probing of each target.
type HealthCheck struct {
	Path           string        `json:"path"`
	Interval       time.Duration `json:"interval"`
	Timeout        time.Duration `json:"timeout"`
	UnhealthyAfter int           `json:"unhealthy_after"`
	HealthyAfter   int           `json:"healthy_after"`
}

// Breaker configures one circuit breaker per target (sony/gobreaker
// semantics). FailureOn lists "5xx", "timeout" and/or "connect_failure".
type Breaker struct {
	MinRequests         uint32        `json:"min_requests"`
	FailureRatio        float64       `json:"failure_ratio"`
	ConsecutiveFailures uint32        `json:"consecutive_failures"`
	Interval            time.Duration `json:"interval"`
	OpenFor             time.Duration `json:"open_for"`
	HalfOpenRequests    uint32        `json:"half_open_requests"`
	FailureOn           []string      `json:"failure_on"`
}

// Auth configures the credential checks routes may ask for.
type Auth struct {
	JWT           *JWT           `json:"jwt,omitempty"`
	Introspection *Introspection `json:"introspection,omitempty"`
	APIKeys       *APIKeys       `json:"api_keys,omitempty"`
	// MTLS says where the client id of a verified client certificate
	// comes from; routes may use auth: [mtls] without it (san_uri).
	MTLS *MTLS `json:"mtls,omitempty"`
	// Signatures configures RFC 9421 signed requests (auth: [signature]).
	Signatures *Signatures `json:"signatures,omitempty"`
	// External configures an external authorizer (auth: [external]).
	External *External `json:"external,omitempty"`
}

// External is an HTTP authorizer asked about each request (as nginx's
// auth_request and Traefik's forwardAuth do).
type External struct {
	URL     string        `json:"url"`
	Timeout time.Duration `json:"timeout"`
	// HeadersToSend are the request headers passed to the authorizer (the
	// credentials); HeadersToCopy are copied from its 2xx answer into the
	// upstream request (X-Client-Id sets the client id).
	HeadersToSend []string      `json:"headers_to_send"`
	HeadersToCopy []string      `json:"headers_to_copy"`
	CacheTTL      time.Duration `json:"cache_ttl"`  // 0 = no caching
	OnFailure     string        `json:"on_failure"` // deny | allow
}

// External authorizer failure modes.
const (
	ExternalDeny  = "deny"
	ExternalAllow = "allow"
)

// Signatures configures RFC 9421 HTTP Message Signature verification.
type Signatures struct {
	Keys []SignatureKey `json:"keys"`
	// Components must all be covered (content-digest is added for requests
	// with a body); identifiers as in RFC 9421: "@method", "content-type",
	// "@query-param;name=id".
	Components []string `json:"components"`
	// MaxAge bounds |now - created|; nonces are remembered for twice it.
	MaxAge       time.Duration `json:"max_age"`
	RequireNonce bool          `json:"require_nonce"`
	// MaxBodyBytes is the largest body a signed request may carry: it is
	// read whole and checked against Content-Digest before anything goes
	// upstream. At most MaxSignedBody and server.buffers.request_body.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// NonceCacheSize bounds the nonces remembered locally.
	NonceCacheSize int `json:"nonce_cache_size"`
}

// MaxSignedBody is the largest max_body_bytes of signed routes: bodies up
// to it are read whole before the filters run.
const MaxSignedBody = 64 << 10

// SignatureKey is one key a client signs with: a shared secret file for
// hmac-sha256, a PEM public key file otherwise.
type SignatureKey struct {
	KeyID         string `json:"keyid"`
	ClientID      string `json:"client_id"`
	Alg           string `json:"alg"`
	SecretFile    string `json:"secret_file,omitempty"`
	PublicKeyFile string `json:"public_key_file,omitempty"`
}

// MTLS configures the mtls auth method.
type MTLS struct {
	ClientIDFrom string `json:"client_id_from"` // san_uri | san_dns | subject_cn
}

// Where auth.mtls.client_id_from takes the client id.
const (
	IDFromSANURI    = "san_uri"
	IDFromSANDNS    = "san_dns"
	IDFromSubjectCN = "subject_cn"
)

// Auth method names used in routes[].auth.
const (
	AuthJWT           = "jwt"
	AuthIntrospection = "introspection"
	AuthAPIKey        = "api_key"
	AuthMTLS          = "mtls"
	AuthSignature     = "signature"
	AuthExternal      = "external"
)

// JWT configures bearer JWT verification.
type JWT struct {
	Issuer        string        `json:"issuer"`
	Audiences     []string      `json:"audiences"`
	Algorithms    []string      `json:"algorithms"`
	Keys          []JWTKey      `json:"keys"`
	Leeway        time.Duration `json:"leeway"`
	ClientIDClaim string        `json:"client_id_claim"`
	ScopesClaim   string        `json:"scopes_claim"`
	// PlanClaim names the claim holding the caller's plan ("" = none).
	PlanClaim string `json:"plan_claim,omitempty"`
	// TenantClaim names the claim holding the caller's tenant: callers
	// of one tenant spend one common bucket and quota ("" = none).
	TenantClaim string `json:"tenant_claim,omitempty"`
}

// JWTKey is either a PEM/secret file or a JWKS URL.
type JWTKey struct {
	File    string        `json:"file,omitempty"` // resolved against the config directory
	JWKSURL string        `json:"jwks_url,omitempty"`
	Refresh time.Duration `json:"refresh,omitempty"`
}

// Introspection configures RFC 7662 token introspection.
type Introspection struct {
	URL              string `json:"url"`
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	ClientSecretEnv  string `json:"client_secret_env,omitempty"`
	// ClientSecret is read from the file or environment at load time,
	// whitespace-trimmed; it is redacted by Redacted.
	ClientSecret string        `json:"client_secret,omitempty"`
	CacheTTL     time.Duration `json:"cache_ttl"`
	Timeout      time.Duration `json:"timeout"`
	// PlanClaim and TenantClaim name members of the introspection
	// response, as auth.jwt's do ("" = none).
	PlanClaim   string `json:"plan_claim,omitempty"`
	TenantClaim string `json:"tenant_claim,omitempty"`
}

// APIKeys configures API-key authentication.
type APIKeys struct {
	Header string   `json:"header"`
	Keys   []APIKey `json:"keys"`
}

// APIKey maps the SHA-256 of a key (lower-case hex) to a client id and,
// optionally, the plan and tenant of that client.
type APIKey struct {
	SHA256   string `json:"sha256"`
	ClientID string `json:"client_id"`
	Plan     string `json:"plan,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
}

// Clients holds the per-client quotas.
type Clients struct {
	// Default applies to every caller not named in Named.
	Default Quota `json:"default"`
	// Named maps client id to its quota.
	Named map[string]*Quota `json:"named"`
}

// Quota modes.
const (
	ModeEnforce = "enforce"
	ModeShadow  = "shadow"
)

// Quota is one client's (or plan's) allowance.
type Quota struct {
	Rate        Rate `json:"rate"`
	Burst       int  `json:"burst"`
	Concurrency int  `json:"concurrency"` // 0 = unlimited
	// MaxConnsShare overrides the upstreams' pool.max_conns_share for
	// this client (0 = the upstream's).
	MaxConnsShare float64               `json:"max_conns_share,omitempty"`
	Routes        map[string]RouteQuota `json:"routes,omitempty"`
	Mode          string                `json:"mode"` // enforce | shadow
	// Quota is the long-window allowance beside the bucket (nil = none).
	Quota *PeriodQuota `json:"quota,omitempty"`
	// Plan names the plan a client takes its unset keys from (clients
	// only). After Load, a client's fields already include its plan's.
	Plan string `json:"plan,omitempty"`
	// Shared makes every member of a plan spend one common bucket,
	// quota and concurrency bound (plans only).
	Shared bool `json:"shared,omitempty"`
	// AllowCIDRs and DenyCIDRs restrict the addresses this client may
	// call from (see Route); for clients.default they apply to every
	// caller not named, anonymous ones included.
	AllowCIDRs []netip.Prefix `json:"allow_cidrs,omitempty"`
	DenyCIDRs  []netip.Prefix `json:"deny_cidrs,omitempty"`

	set map[string]bool // keys present in the file, for plan merging
}

// RouteQuota overrides a client's rate and burst (and quota) on one route.
type RouteQuota struct {
	Rate  Rate         `json:"rate"`
	Burst int          `json:"burst"`
	Quota *PeriodQuota `json:"quota,omitempty"`
}

// Quota periods (quota.period); a Go duration such as "10s" is also
// accepted, for tests: fixed windows aligned on the Unix epoch.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// PeriodQuota is a number of cost units per calendar period, reset at the
// period's start (midnight, Monday midnight, the 1st at midnight in
// limits.time_zone).
type PeriodQuota struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"` // day | week | month | a Go duration (tests)
}

// Fixed returns the length of a test period written as a Go duration, or
// 0 for a calendar period (or an invalid one).
func (p PeriodQuota) Fixed() time.Duration {
	switch p.Period {
	case PeriodDay, PeriodWeek, PeriodMonth:
		return 0
	}
	d, err := time.ParseDuration(p.Period)
	if err != nil {
		return 0
	}
	return d
}

// Rate is N tokens per Per ("100/s" is {100, time.Second}).
type Rate struct {
	N   float64       `json:"n"`
	Per time.Duration `json:"per"`
}

// PerSecond returns the rate in tokens per second (0 for the zero Rate).
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return r.N / r.Per.Seconds()
}

// Limits configures how quotas are enforced.
type Limits struct {
	Store          string   `json:"store"` // local | redis
	Redis          Redis    `json:"redis"`
	Adaptive       Adaptive `json:"adaptive"`
	Headers        string   `json:"headers"` // ietf | legacy | none
	MaxTrackedKeys int      `json:"max_tracked_keys"`
	// MaxCost bounds routes[].cost and what a cost header may charge.
	MaxCost int `json:"max_cost"`
	// TimeZone is the IANA zone quota periods follow (default UTC).
	TimeZone string `json:"time_zone"`
}

// Redis configures the shared quota store: one node, a Cluster (several
// addrs) or a master found through Sentinel.
type Redis struct {
	Addrs        []string      `json:"addrs"`
	Username     string        `json:"username"`
	PasswordEnv  string        `json:"password_env"`
	Password     string        `json:"password,omitempty"` // read from PasswordEnv at load; redacted
	SyncInterval time.Duration `json:"sync_interval"`
	OnFailure    string        `json:"on_failure"` // local | allow | deny
	// Sentinel, when set, finds the master through Redis Sentinel (addrs
	// is then ignored).
	Sentinel *Sentinel `json:"sentinel,omitempty"`
	// TLS, when set, speaks TLS to every node (and sentinel).
	TLS *RedisTLS `json:"tls,omitempty"`
}

// Sentinel names the monitored master and the sentinels to ask.
type Sentinel struct {
	MasterName  string   `json:"master_name"`
	Addrs       []string `json:"addrs"`
	Username    string   `json:"username,omitempty"`
	PasswordEnv string   `json:"password_env,omitempty"`
	Password    string   `json:"password,omitempty"` // read from PasswordEnv at load; redacted
}

// RedisTLS configures TLS toward Redis. Paths are resolved against the
// config directory; an empty ca_file means the system roots.
type RedisTLS struct {
	CAFile     string `json:"ca_file,omitempty"`
	CertFile   string `json:"cert_file,omitempty"`
	KeyFile    string `json:"key_file,omitempty"`
	ServerName string `json:"server_name,omitempty"`
}

// Adaptive configures load shedding by upstream latency.
type Adaptive struct {
	Enabled       bool          `json:"enabled"`
	TargetLatency time.Duration `json:"target_latency"`
	MinFactor     float64       `json:"min_factor"`
}

// Route is one routing rule; routes are matched in file order.
type Route struct {
	Name        string   `json:"name"`
	Match       Match    `json:"match"`
	Upstream    string   `json:"upstream"`
	StripPrefix string   `json:"strip_prefix,omitempty"`
	HostRewrite string   `json:"host_rewrite,omitempty"`
	Auth        []string `json:"auth"`
	Scopes      []string `json:"scopes"`
	Limit       bool     `json:"limit"`
	// Cost is the tokens (and quota units) one request takes (default 1).
	Cost int `json:"cost"`
	// CostHeader names an upstream response header whose value, bounded
	// by limits.max_cost, is the request's real cost: what it adds to
	// Cost is charged after the answer ("" = none).
	CostHeader string        `json:"cost_header,omitempty"`
	Timeout    time.Duration `json:"timeout"`
	Plugins    []Plugin      `json:"plugins"`
	// AllowCIDRs, when not empty, admits only client addresses inside
	// one of them; DenyCIDRs refuses addresses inside one of them and
	// wins over AllowCIDRs. The address is the client IP computed with
	// trusted_proxies.
	AllowCIDRs []netip.Prefix `json:"allow_cidrs,omitempty"`
	DenyCIDRs  []netip.Prefix `json:"deny_cidrs,omitempty"`
	// Line is the route's line in the file, for messages.
	Line int `json:"-"`
}

// Match selects requests for a route. Exactly one of Path and PathPrefix is
// set. Host is exact or "*.suffix"; Methods and Headers empty match any.
type Match struct {
	Host       string            `json:"host,omitempty"`
	Path       string            `json:"path,omitempty"`
	PathPrefix string            `json:"path_prefix,omitempty"`
	Methods    []string          `json:"methods,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// Plugin is one entry of routes[].plugins: exactly one field is set.
type Plugin struct {
	RequestID *RequestIDPlugin `json:"request_id,omitempty"`
	Headers   *HeadersPlugin   `json:"headers,omitempty"`
	CORS      *CORSPlugin      `json:"cors,omitempty"`
}

// Name returns the plugin's kind ("request_id", "headers", "cors").
func (p Plugin) Name() string {
	switch {
	case p.RequestID != nil:
		return "request_id"
	case p.Headers != nil:
		return "headers"
	case p.CORS != nil:
		return "cors"
	}
	return ""
}

// RequestIDPlugin keeps or generates a request id header.
type RequestIDPlugin struct {
	Header string `json:"header"` // default X-Request-Id
}

// HeadersPlugin edits request and response headers.
type HeadersPlugin struct {
	RequestSet     map[string]string `json:"request_set,omitempty"`
	RequestRemove  []string          `json:"request_remove,omitempty"`
	ResponseSet    map[string]string `json:"response_set,omitempty"`
	ResponseRemove []string          `json:"response_remove,omitempty"`
}

// CORSPlugin answers preflights and decorates responses.
type CORSPlugin struct {
	AllowedOrigins   []string      `json:"allowed_origins"` // "*" allows any
	AllowedMethods   []string      `json:"allowed_methods"`
	AllowedHeaders   []string      `json:"allowed_headers,omitempty"`
	ExposedHeaders   []string      `json:"exposed_headers,omitempty"`
	AllowCredentials bool          `json:"allow_credentials,omitempty"`
	MaxAge           time.Duration `json:"max_age,omitempty"`
}
