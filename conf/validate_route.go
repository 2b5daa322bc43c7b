package conf

import (
	"net"
	"strings"
)

// routes checks every route, and the names across routes.
func (v validator) routes(c *Config) {
	firstLine := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		path := indexPath("routes", i)
		if v.hasFailed(path) {
			continue
		}
		if first, dup := firstLine[r.Name]; dup && r.Name != "" {
			v.errorf(path+".name", "duplicate route name %q (first at line %d)", r.Name, first)
		} else {
			firstLine[r.Name] = r.Line
		}
		v.route(path, r, c)
	}
}

// route checks one route.
func (v validator) route(path string, r *Route, c *Config) {
	if v.required(path+".name", r.Name) && !isRouteName(r.Name) {
		v.errorf(path+".name", "invalid route name %q (use letters, digits, '.', '_' and '-')", r.Name)
	}
	if v.required(path+".upstream", r.Upstream) && c.Upstreams[r.Upstream] == nil {
		v.errorf(path+".upstream", "unknown upstream %q", r.Upstream)
	}
	v.match(path+".match", &r.Match)
	v.stripPrefix(path, r)
	if r.HostRewrite != "" && !isHostWithPort(r.HostRewrite) {
		v.errorf(path+".host_rewrite", "invalid host %q", r.HostRewrite)
	}
	v.routeAuth(path, r, c)
	v.positive(path+".timeout", r.Timeout)
	v.cost(path, r, &c.Limits)
	for i, p := range r.Plugins {
		v.plugin(indexPath(path+".plugins", i), p)
	}
}

// isRouteName reports whether a route name is safe in metric labels and
// rate-limit policy names.
func isRouteName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isHostWithPort reports whether s is a host name, optionally with a port.
func isHostWithPort(s string) bool {
	if host, port, err := net.SplitHostPort(s); err == nil {
		return isHostName(host) && checkPort(port, false) == nil
	}
	return isHostName(s)
}

// match checks a route's match block.
func (v validator) match(path string, m *Match) {
	switch {
	case v.hasFailed(path+".path", path+".path_prefix"):
	case m.Path == "" && m.PathPrefix == "":
		v.errorf(path, "one of path or path_prefix is required")
	case m.Path != "" && m.PathPrefix != "":
		v.errorf(path, "only one of path or path_prefix may be set")
	case m.Path != "":
		v.urlPath(path+".path", m.Path)
	default:
		v.urlPath(path+".path_prefix", m.PathPrefix)
	}
	if m.Host != "" && !isHostPattern(m.Host) {
		v.errorf(path+".host", `invalid host %q (want a host name or "*.suffix")`, m.Host)
	}
	for i, method := range m.Methods {
		if !isMethod(method) {
			v.errorf(indexPath(path+".methods", i), "invalid method %q (want an upper-case token such as GET)", method)
		}
	}
	v.headerMap(path+".headers", m.Headers)
}

// urlPath checks a path to match: it starts with "/" and has no spaces or
// control characters.
func (v validator) urlPath(path, p string) {
	if !strings.HasPrefix(p, "/") || hasControlOrSpace(p) {
		v.errorf(path, `must start with "/" and hold no spaces or control characters, got %q`, p)
	}
}

// stripPrefix checks that strip_prefix is a prefix of the route's path.
func (v validator) stripPrefix(path string, r *Route) {
	if r.StripPrefix == "" || v.hasFailed(path+".match") {
		return
	}
	key, matched := "path_prefix", r.Match.PathPrefix
	if r.Match.Path != "" {
		key, matched = "path", r.Match.Path
	}
	if matched != "" && !strings.HasPrefix(matched, r.StripPrefix) {
		v.errorf(path+".strip_prefix", "%q is not a prefix of match.%s %q", r.StripPrefix, key, matched)
	}
}

// routeAuth checks a route's auth methods and scopes.
func (v validator) routeAuth(path string, r *Route, c *Config) {
	a := &c.Auth
	configured := map[string]bool{
		AuthJWT:           a.JWT != nil,
		AuthIntrospection: a.Introspection != nil,
		AuthAPIKey:        a.APIKeys != nil,
		AuthMTLS:          c.Server.TLS.ClientCA != "",
		AuthSignature:     a.Signatures != nil,
		AuthExternal:      a.External != nil,
	}
	seen := map[string]bool{}
	for i, m := range r.Auth {
		p := indexPath(path+".auth", i)
		switch {
		case !v.oneOf(p, m, AuthMethods()...):
		case seen[m]:
			v.errorf(p, "%q is listed twice", m)
		case !configured[m] && m == AuthMTLS:
			v.errorf(p, "auth method %q needs server.tls.client_ca", m)
		case !configured[m]:
			v.errorf(p, "auth method %q is not configured in auth.%s", m, authBlock(m))
		}
		seen[m] = true
	}
	if len(r.Scopes) > 0 && len(r.Auth) == 0 && !v.hasFailed(path+".auth") {
		v.errorf(path+".scopes", "scopes need auth: the route has no auth methods")
	}
	for i, s := range r.Scopes {
		if s == "" || hasControlOrSpace(s) {
			v.errorf(indexPath(path+".scopes", i), "invalid scope %q", s)
		}
	}
}

// AuthMethods lists the names routes[].auth accepts.
func AuthMethods() []string {
	return []string{AuthJWT, AuthIntrospection, AuthAPIKey, AuthMTLS, AuthSignature, AuthExternal}
}

// authBlock names the auth: block that configures a method.
func authBlock(method string) string {
	if method == AuthAPIKey {
		return "api_keys"
	}
	if method == AuthSignature {
		return "signatures"
	}
	return method
}

// plugin checks one plugin entry.
func (v validator) plugin(path string, p Plugin) {
	switch {
	case p.RequestID != nil:
		v.headerName(path+".request_id.header", p.RequestID.Header)
	case p.Headers != nil:
		h := p.Headers
		v.headerMap(path+".headers.request_set", h.RequestSet)
		v.headerNames(path+".headers.request_remove", h.RequestRemove)
		v.headerMap(path+".headers.response_set", h.ResponseSet)
		v.headerNames(path+".headers.response_remove", h.ResponseRemove)
	case p.CORS != nil:
		v.cors(path+".cors", p.CORS)
	}
}

// cors checks a cors plugin.
func (v validator) cors(path string, c *CORSPlugin) {
	if len(c.AllowedOrigins) == 0 {
		v.errorf(path+".allowed_origins", "at least one origin is required")
	}
	for i, o := range c.AllowedOrigins {
		if o != "*" && !isOrigin(o) {
			v.errorf(indexPath(path+".allowed_origins", i), `invalid origin %q (want "*" or scheme://host[:port])`, o)
		}
		if o == "*" && c.AllowCredentials {
			v.errorf(path+".allow_credentials", `cannot be used with the origin "*"`)
		}
	}
	for i, m := range c.AllowedMethods {
		if !isMethod(m) {
			v.errorf(indexPath(path+".allowed_methods", i), "invalid method %q (want an upper-case token such as GET)", m)
		}
	}
	v.headerNames(path+".allowed_headers", c.AllowedHeaders)
	v.headerNames(path+".exposed_headers", c.ExposedHeaders)
	v.notNegative(path+".max_age", c.MaxAge)
}

// isOrigin reports whether s is a web origin: http(s)://host[:port] with
// nothing after.
func isOrigin(s string) bool {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "http://")
	}
	return ok && isHostWithPort(rest)
}
