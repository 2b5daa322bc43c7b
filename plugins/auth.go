package plugins

import (
	"slices"
	"strconv"

	"tollgate/auth"
	"tollgate/auth/httpsig"
	"tollgate/conf"
)

// DefaultAPIKeyHeader is read for API keys when the config names none.
const DefaultAPIKeyHeader = "X-API-Key"

// authFilter puts an auth.Authenticator on a route's request path.
type authFilter struct {
	a        *auth.Authenticator
	methods  []string
	scopes   []string
	header   string
	signed   bool     // the route accepts signatures
	external bool     // the route asks the external authorizer
	strip    []string // headers only the external authorizer may set
	m        Metrics
}

// NewAuthFilter returns the filter that authenticates requests for route
// with a, or nil when the route asks for no auth. apiKeyHeader is the
// header API keys come in ("" means DefaultAPIKeyHeader); m counts
// refusals and may be nil. On success the filter sets x.ClientID,
// x.AuthMethod and x.Scopes and sends the client id upstream as
// X-Client-Id (the engine has already removed any the client sent); on
// refusal it answers 401, 403 or 503 with the contract's JSON error and
// WWW-Authenticate (or Retry-After for 503).
func NewAuthFilter(a *auth.Authenticator, route *conf.Route, m Metrics, apiKeyHeader string) Filter {
	if route == nil || len(route.Auth) == 0 {
		return nil
	}
	if apiKeyHeader == "" {
		apiKeyHeader = DefaultAPIKeyHeader
	}
	f := &authFilter{a: a, methods: slices.Clone(route.Auth), scopes: slices.Clone(route.Scopes),
		header: apiKeyHeader, signed: slices.Contains(route.Auth, conf.AuthSignature),
		external: slices.Contains(route.Auth, conf.AuthExternal), m: m}
	if f.external {
		f.strip = a.ExternalHeaders()
	}
	return f
}

// Decide authenticates x from what is at hand (a cached token, loaded
// keys, API keys), or says pending when only a JWKS fetch or an
// introspection call can decide.
func (f *authFilter) Decide(x *Exchange) (*Reply, bool) {
	for _, h := range f.strip {
		x.Request.Del(h)
	}
	id, err, done := f.a.Decide(f.methods, f.scopes, f.credentials(x))
	if !done {
		return nil, true
	}
	return f.settle(x, id, err), false
}

// Request authenticates x, waiting on the network if it must, or stops
// the chain with a refusal.
func (f *authFilter) Request(x *Exchange) *Reply {
	id, err := f.a.Authenticate(x.Ctx, f.methods, f.scopes, f.credentials(x))
	return f.settle(x, id, err)
}

// credentials reads what the request presents.
func (f *authFilter) credentials(x *Exchange) auth.Credentials {
	c := auth.Credentials{
		Authorization: x.Request.Get("Authorization"),
		APIKey:        x.Request.Get(f.header),
		PeerCert:      x.PeerCert,
	}
	if f.signed && x.Request.Get("Signature-Input") != nil {
		c.Signed = signedRequest(x)
	}
	if f.external {
		c.External = &auth.ExternalRequest{Method: x.Method, Host: x.Host, URI: x.Path, Head: x.Request}
	}
	return c
}

// signedRequest describes x as an RFC 9421 signature covers it. The head
// must list its fields (Len, At), as the engine's does.
func signedRequest(x *Exchange) *auth.SignedRequest {
	fields, ok := x.Request.(httpsig.Fields)
	if !ok {
		return nil
	}
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	return &auth.SignedRequest{
		Msg:     httpsig.Message{Method: x.Method, Scheme: scheme, Authority: x.Host, Target: x.Path, Fields: fields},
		HasBody: x.HasBody, Body: x.Body,
	}
}

// settle records a verified caller on x, or returns the refusal.
func (f *authFilter) settle(x *Exchange, id auth.Identity, err *auth.Error) *Reply {
	if err != nil {
		return f.refuse(err)
	}
	x.ClientID, x.AuthMethod, x.Scopes = id.ClientID, id.Method, id.Scopes
	x.Plan, x.Tenant = id.Plan, id.Tenant
	if id.ClientID != "" {
		x.Request.Set("X-Client-Id", id.ClientID)
	}
	for _, h := range id.Headers {
		x.Request.Set(h[0], h[1])
	}
	return nil
}

// Response does nothing: auth only acts on the way in.
func (f *authFilter) Response(*Exchange) {}

// refuse counts err and turns it into the reply sent to the client.
func (f *authFilter) refuse(err *auth.Error) *Reply {
	if f.m != nil {
		f.m.AuthFailure(err.Method, err.Reason)
	}
	r := &Reply{Status: err.Status, Code: err.Code, Message: err.Message}
	if err.WWWAuthenticate != "" {
		r.Header = append(r.Header, [2]string{"WWW-Authenticate", err.WWWAuthenticate})
	}
	if err.RetryAfter > 0 {
		r.Header = append(r.Header, [2]string{"Retry-After", strconv.Itoa(err.RetryAfter)})
	}
	return r
}
