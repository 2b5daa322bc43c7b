package conf

import (
	"sort"
	"strings"
	"time"
)

// validator checks a decoded Config. It reports through the same report
// as the decoder, so every message carries the line of its key path.
type validator struct {
	*report
}

// validate checks every rule of CONTRACT.md section 2 that decoding could
// not, then reads the secrets the config names.
func validate(c *Config, r *report) {
	v := validator{r}
	v.server(&c.Server)
	v.admin(c)
	for _, name := range c.UpstreamOrder {
		v.upstream(joinPath("upstreams", name), c.Upstreams[name])
	}
	v.auth(&c.Auth)
	if s := c.Auth.Signatures; s != nil && s.MaxBodyBytes >= 0 && s.MaxBodyBytes <= MaxSignedBody &&
		s.MaxBodyBytes > c.Server.Buffers.RequestBody {
		v.errorf("auth.signatures.max_body_bytes", "must not exceed server.buffers.request_body (%d): signed bodies are read whole before forwarding",
			c.Server.Buffers.RequestBody)
	}
	v.limits(&c.Limits)
	v.quotaLimits(&c.Limits)
	v.routes(c)
	v.mergePlans(c)
	v.clients(c)
	v.tracing(c.Tracing)
	v.apiKeyPlans(c)
	forgetKeysSet(c)
	v.loadSecrets(c)
}

// server checks the server block.
func (v validator) server(s *Server) {
	if v.required("server.listen", s.Listen) {
		v.address("server.listen", s.Listen, true)
	}
	v.atLeast("server.accept_loops", s.AcceptLoops, 0)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.atLeast("server.max_header_bytes", s.MaxHeaderBytes, 1)
	if s.MaxBodyBytes < 0 {
		v.errorf("server.max_body_bytes", "must not be negative, got %d", s.MaxBodyBytes)
	}
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	if n := s.HTTP2.MaxConcurrentStreams; n < 1 || n > 1000 {
		v.errorf("server.http2.max_concurrent_streams", "must be 1 to 1000, got %d", n)
	}
	v.bufferSize("server.buffers.request_body", s.Buffers.RequestBody)
	v.bufferSize("server.buffers.response_body", s.Buffers.ResponseBody)
	if s.Buffers.MaxTotal < 1<<20 {
		v.errorf("server.buffers.max_total", "must be at least 1048576 (1 MiB), got %d", s.Buffers.MaxTotal)
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		v.errorf("server.tls", "cert_file and key_file must be set together")
	}
	v.readable("server.tls.cert_file", s.TLS.CertFile)
	v.readable("server.tls.key_file", s.TLS.KeyFile)
	v.clientTLS(s.TLS)
}

// admin checks the admin listener address; "" disables it.
func (v validator) admin(c *Config) {
	if c.Admin.TokenFile != "" && c.Admin.TokenEnv != "" {
		v.errorf("admin", "token_file and token_env are exclusive: set one")
	}
	if c.Admin.Listen == "" {
		return
	}
	if v.address("admin.listen", c.Admin.Listen, true) && c.Admin.Listen == c.Server.Listen {
		v.errorf("admin.listen", "same address as server.listen")
	}
}

// limits checks the limits block.
func (v validator) limits(l *Limits) {
	v.oneOf("limits.store", l.Store, "local", "redis")
	if l.Store == "redis" && len(l.Redis.Addrs) == 0 && l.Redis.Sentinel == nil {
		v.errorf("limits.redis.addrs", "at least one address is required when store is redis")
	}
	for i, a := range l.Redis.Addrs {
		v.address(indexPath("limits.redis.addrs", i), a, false)
	}
	v.positive("limits.redis.sync_interval", l.Redis.SyncInterval)
	v.oneOf("limits.redis.on_failure", l.Redis.OnFailure, "local", "allow", "deny")
	v.positive("limits.adaptive.target_latency", l.Adaptive.TargetLatency)
	v.fraction("limits.adaptive.min_factor", l.Adaptive.MinFactor)
	v.oneOf("limits.headers", l.Headers, "ietf", "legacy", "none")
	v.atLeast("limits.max_tracked_keys", l.MaxTrackedKeys, 1)
}

// tracing checks the tracing block (nil: off).
func (v validator) tracing(t *Tracing) {
	if t == nil {
		return
	}
	if v.required("tracing.endpoint", t.Endpoint) {
		if err := checkHTTPURL(t.Endpoint); err != nil {
			v.errorf("tracing.endpoint", "%v", err)
		}
	}
	v.oneOf("tracing.protocol", t.Protocol, TracingHTTP, TracingGRPC)
	if !(t.SampleRatio >= 0 && t.SampleRatio <= 1) {
		v.errorf("tracing.sample_ratio", "must be between 0 and 1, got %g", t.SampleRatio)
	}
	if v.required("tracing.service_name", t.ServiceName) && !printableName(t.ServiceName) {
		v.errorf("tracing.service_name", "must be printable ASCII without quotes or backslashes, got %q", t.ServiceName)
	}
}

// clients checks every quota and its per-route overrides.
func (v validator) clients(c *Config) {
	routes := map[string]bool{}
	for _, r := range c.Routes {
		routes[r.Name] = true
	}
	v.plans(c, routes)
	v.quota("clients.default", &c.Clients.Default, routes)
	names := make([]string, 0, len(c.Clients.Named))
	for name := range c.Clients.Named {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := joinPath("clients", name)
		if name == "" {
			v.add(v.lineOf(path), "clients", "client names must not be empty")
		} else if !printableName(name) {
			v.errorf(path, "client name %q must be printable ASCII without quotes or backslashes (it is sent in RateLimit-Policy)", name)
		}
		v.quota(path, c.Clients.Named[name], routes)
	}
}

// quota checks one client's quota.
// A client's keys taken from its plan were checked under plans: only
// the keys it sets itself are checked again.
func (v validator) quota(path string, q *Quota, routes map[string]bool) {
	own := func(key string) bool { return q.Plan == "" || q.set[key] }
	if own("rate") || own("burst") {
		v.rateAndBurst(path, q.Rate, q.Burst)
	}
	v.atLeast(path+".concurrency", q.Concurrency, 0)
	if q.MaxConnsShare != 0 {
		v.fraction(path+".max_conns_share", q.MaxConnsShare)
	}
	v.oneOf(path+".mode", q.Mode, ModeEnforce, ModeShadow)
	if own("quota") {
		v.periodQuota(path+".quota", q.Quota)
	}
	for _, name := range sortedKeys(q.Routes) {
		p := joinPath(path+".routes", name)
		if !routes[name] {
			v.errorf(p, "unknown route %q", name)
		}
		v.rateAndBurst(p, q.Routes[name].Rate, q.Routes[name].Burst)
		v.periodQuota(p+".quota", q.Routes[name].Quota)
	}
}

// rateAndBurst checks the rate (required) and burst of a quota.
func (v validator) rateAndBurst(path string, r Rate, burst int) {
	if r.N == 0 {
		v.errorf(path+".rate", "required")
	}
	v.atLeast(path+".burst", burst, 1)
}

// sortedKeys returns a map's keys in order, for a stable message order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// required reports an empty required string; it returns whether s is set.
func (v validator) required(path, s string) bool {
	if s == "" {
		v.errorf(path, "required")
		return false
	}
	return true
}

// address checks a host:port address; it returns whether it is valid.
func (v validator) address(path, addr string, listen bool) bool {
	if err := checkHostPort(addr, listen); err != nil {
		v.errorf(path, "%v", err)
		return false
	}
	return true
}

// positive checks a duration > 0.
func (v validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "must be positive, got %s", d)
	}
}

// notNegative checks a duration >= 0.
func (v validator) notNegative(path string, d time.Duration) {
	if d < 0 {
		v.errorf(path, "must not be negative, got %s", d)
	}
}

// atLeast checks n >= lo.
func (v validator) atLeast(path string, n, lo int) {
	if n < lo {
		v.errorf(path, "must be at least %d, got %d", lo, n)
	}
}

// fraction checks f in (0, 1].
func (v validator) fraction(path string, f float64) {
	if !(f > 0 && f <= 1) {
		v.errorf(path, "must be greater than 0 and at most 1, got %g", f)
	}
}

// oneOf checks that s is one of the allowed values.
func (v validator) oneOf(path, s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	v.errorf(path, "invalid value %q (want %s)", s, orList(allowed))
	return false
}

// orList formats values as "a, b or c".
func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// headerName checks one header name.
func (v validator) headerName(path, name string) {
	if !IsToken(name) {
		v.errorf(path, "invalid header name %q", name)
	}
}

// headerNames checks a list of header names.
func (v validator) headerNames(path string, names []string) {
	for i, name := range names {
		v.headerName(indexPath(path, i), name)
	}
}

// headerMap checks the names of a header mapping, which must also differ
// other than in case, and its values, which must not carry control bytes
// (a CR or LF would split the head).
func (v validator) headerMap(path string, m map[string]string) {
	seen := map[string]string{}
	for _, name := range sortedKeys(m) {
		p := joinPath(path, name)
		v.headerName(p, name)
		if i := strings.IndexFunc(m[name], func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }); i >= 0 {
			v.errorf(p, "value has a control character at byte %d", i)
		}
		if first, dup := seen[strings.ToLower(name)]; dup {
			v.errorf(p, "same header as %q (names are case-insensitive)", first)
		}
		seen[strings.ToLower(name)] = name
	}
}

// maxBufferedBody bounds buffers.request_body and response_body: a body
// read whole is sent in one write.
const maxBufferedBody = 8 << 20

// bufferSize checks a body buffer size in [0, 8 MiB].
func (v validator) bufferSize(path string, n int64) {
	if n < 0 || n > maxBufferedBody {
		v.errorf(path, "must be between 0 and %d (8 MiB), got %d", maxBufferedBody, n)
	}
}
