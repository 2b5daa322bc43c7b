package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tollgate/conf"
)

// CORS header names.
const (
	hdrOrigin           = "Origin"
	hdrRequestMethod    = "Access-Control-Request-Method"
	hdrRequestHeaders   = "Access-Control-Request-Headers"
	hdrAllowOrigin      = "Access-Control-Allow-Origin"
	hdrAllowMethods     = "Access-Control-Allow-Methods"
	hdrAllowHeaders     = "Access-Control-Allow-Headers"
	hdrAllowCredentials = "Access-Control-Allow-Credentials"
	hdrExposeHeaders    = "Access-Control-Expose-Headers"
	hdrMaxAge           = "Access-Control-Max-Age"
	hdrVary             = "Vary"
)

// corsFilter is the cors plugin. All strings it sends are joined once when
// the filter is built.
type corsFilter struct {
	anyOrigin   bool
	origins     []string
	methods     []string
	credentials bool

	allowMethods string // joined methods
	allowHeaders string // joined allowed_headers; "" = echo the request's
	exposed      string // joined exposed_headers
	maxAge       string // whole seconds; "" = not sent
}

// NewCORS returns the cors filter.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered by the gateway and never reaches the upstream: when the origin
// and the requested method are allowed, with 204 and
// Access-Control-Allow-Origin, -Allow-Methods, -Allow-Headers (the
// configured list, or the requested headers echoed when none is
// configured), -Allow-Credentials when enabled, -Max-Age when set and
// Vary: Origin; otherwise with 403 "forbidden". Any other request whose
// Origin is allowed gets Access-Control-Allow-Origin, Vary: Origin,
// -Expose-Headers and -Allow-Credentials on its response, whether it comes
// from the upstream or from the gateway (so a browser can read a 401 or
// 429). Access-Control-Expose-Headers always lists DefaultExposedHeaders,
// then exposed_headers. Requests without Origin, or with an origin not allowed, pass
// untouched; an empty Origin counts as none.
//
// allowed_origins must not be empty; "*" allows any origin and is sent as
// "*" unless allow_credentials is set, in which case the request's origin
// is echoed (browsers refuse "*" with credentials). Origins compare
// case-insensitively. An empty allowed_methods means GET, HEAD and POST;
// methods compare exactly after upper-casing the configured ones. max_age
// is sent in whole seconds.
func NewCORS(cfg *conf.CORSPlugin) (Filter, error) {
	if cfg == nil || len(cfg.AllowedOrigins) == 0 {
		return nil, errors.New("allowed_origins is empty")
	}
	f := &corsFilter{credentials: cfg.AllowCredentials}
	if err := f.setOrigins(cfg.AllowedOrigins); err != nil {
		return nil, err
	}
	if err := f.setMethods(cfg.AllowedMethods); err != nil {
		return nil, err
	}
	var err error
	if f.allowHeaders, err = joinHeaderNames("allowed_headers", cfg.AllowedHeaders); err != nil {
		return nil, err
	}
	if f.exposed, err = joinHeaderNames("exposed_headers", exposedHeaders(cfg.ExposedHeaders)); err != nil {
		return nil, err
	}
	if secs := int64(cfg.MaxAge.Seconds()); secs > 0 {
		f.maxAge = strconv.FormatInt(secs, 10)
	}
	return f, nil
}

// setOrigins checks and records the allowed origins.
func (f *corsFilter) setOrigins(origins []string) error {
	for _, o := range origins {
		switch {
		case o == "*":
			f.anyOrigin = true
		case o == "" || strings.ContainsAny(o, " ,\t\r\n"):
			return fmt.Errorf("allowed_origins: invalid origin %q", o)
		default:
			f.origins = append(f.origins, o)
		}
	}
	return nil
}

// setMethods checks, upper-cases and joins the allowed methods.
func (f *corsFilter) setMethods(methods []string) error {
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "POST"} // CORS-safelisted, as in rs/cors
	}
	for _, m := range methods {
		if err := checkHeaderName(m); err != nil {
			return fmt.Errorf("allowed_methods: invalid method %q", m)
		}
		f.methods = append(f.methods, strings.ToUpper(m))
	}
	f.allowMethods = strings.Join(f.methods, ", ")
	return nil
}

// DefaultExposedHeaders are exposed to browsers on every route with the
// cors plugin, before the configured exposed_headers: the rate-limit
// headers (both styles), Retry-After and X-Request-Id, so a page can pace
// itself and report a request id, and Grpc-Status and Grpc-Message, so a
// gRPC-Web client reads the status of a trailers-only answer (the
// gateway's own refusals among them). Browsers expose only the
// CORS-safelisted response headers otherwise.
var DefaultExposedHeaders = []string{"RateLimit", "RateLimit-Policy", "X-RateLimit-Limit",
	"X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "X-Request-Id", "Grpc-Status", "Grpc-Message"}

// exposedHeaders is DefaultExposedHeaders followed by the configured
// names not already in it (compared case-insensitively).
func exposedHeaders(configured []string) []string {
	out := slices.Clone(DefaultExposedHeaders)
	for _, n := range configured {
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, n) }) {
			out = append(out, n)
		}
	}
	return out
}

// joinHeaderNames checks a list of header names and joins it for a
// response header.
func joinHeaderNames(key string, names []string) (string, error) {
	for _, n := range names {
		if err := checkHeaderName(n); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
	}
	return strings.Join(names, ", "), nil
}

// Request answers preflights and queues the CORS response headers.
func (f *corsFilter) Request(x *Exchange) *Reply {
	origin := x.Request.Get(hdrOrigin)
	reqMethod := x.Request.Get(hdrRequestMethod)
	if len(origin) > 0 && string(x.Method) == "OPTIONS" && reqMethod != nil {
		return f.preflight(x, origin, reqMethod)
	}
	allowed := len(origin) > 0 && f.originAllowed(origin)
	if allowed || !f.anyOrigin {
		// Unless any origin is allowed, the answer depends on Origin (CORS
		// headers or none): caches must key on it whatever the origin, or
		// a stored answer without CORS headers reaches an allowed origin.
		x.AddResponseHeader(hdrVary, hdrOrigin)
	}
	if allowed {
		f.decorate(x, origin)
	}
	return nil
}

// Response does nothing: the headers were queued by Request.
func (f *corsFilter) Response(*Exchange) {}

// preflight builds the gateway's answer to a preflight request.
func (f *corsFilter) preflight(x *Exchange, origin, method []byte) *Reply {
	if !f.originAllowed(origin) {
		return corsRefusal("CORS preflight refused: origin not allowed")
	}
	if !f.methodAllowed(method) {
		return corsRefusal("CORS preflight refused: method not allowed")
	}
	h := make([][2]string, 0, 6)
	h = append(h, [2]string{hdrAllowOrigin, f.allowOrigin(origin)}, [2]string{hdrAllowMethods, f.allowMethods})
	if allow := f.preflightHeaders(x); allow != "" {
		h = append(h, [2]string{hdrAllowHeaders, allow})
	}
	if f.credentials {
		h = append(h, [2]string{hdrAllowCredentials, "true"})
	}
	if f.maxAge != "" {
		h = append(h, [2]string{hdrMaxAge, f.maxAge})
	}
	h = append(h, [2]string{hdrVary, hdrOrigin})
	return &Reply{Status: 204, Header: h}
}

// preflightHeaders returns the Access-Control-Allow-Headers value: the
// configured list, or the requested headers when none is configured.
func (f *corsFilter) preflightHeaders(x *Exchange) string {
	if f.allowHeaders != "" {
		return f.allowHeaders
	}
	return string(x.Request.Get(hdrRequestHeaders))
}

// corsRefusal is the 403 reply to a refused preflight.
func corsRefusal(msg string) *Reply {
	return &Reply{Status: 403, Code: "forbidden", Message: msg, Header: [][2]string{{hdrVary, hdrOrigin}}}
}

// decorate queues the headers of an allowed non-preflight request.
func (f *corsFilter) decorate(x *Exchange, origin []byte) {
	x.AddResponseHeader(hdrAllowOrigin, f.allowOrigin(origin))
	if f.exposed != "" {
		x.AddResponseHeader(hdrExposeHeaders, f.exposed)
	}
	if f.credentials {
		x.AddResponseHeader(hdrAllowCredentials, "true")
	}
}

// allowOrigin returns the Access-Control-Allow-Origin value for an allowed
// origin.
func (f *corsFilter) allowOrigin(origin []byte) string {
	if f.anyOrigin && !f.credentials {
		return "*"
	}
	return string(origin)
}

// originAllowed reports whether origin is allowed.
func (f *corsFilter) originAllowed(origin []byte) bool {
	if f.anyOrigin {
		return true
	}
	for _, o := range f.origins {
		if bytes.EqualFold(origin, []byte(o)) {
			return true
		}
	}
	return false
}

// methodAllowed reports whether a preflight's requested method is allowed.
func (f *corsFilter) methodAllowed(method []byte) bool {
	for _, m := range f.methods {
		if string(method) == m {
			return true
		}
	}
	return false
}
