// Package auth decides who is calling: it verifies bearer JWTs (file keys
// and JWKS URLs), introspects opaque tokens (RFC 7662), checks API keys,
// names the holder of a client certificate verified in the TLS handshake
// (mtls.go), verifies RFC 9421 signed requests (signature.go, with
// package httpsig; nonces in nonce.go) and asks an external authorizer
// (external.go), then checks the route's required scopes. It is a plain
// library with no transport: the plugins package adapts it to the
// request path.
//
// One request: the auth filter calls Decide on the event loop with the
// request's credentials. A token verified before comes from the cache
// (SHA-256 of the token, no allocation); a JWT whose key is loaded is
// verified there and then; an API key is looked up; a certificate or a
// signature is checked. Only a JWT whose kid no loaded key set has, an
// opaque token not in the introspection cache, a request for the external
// authorizer whose decision is not cached, or a signature whose nonce must
// be remembered in Redis makes Decide say "not done": the filter then calls Authenticate off the
// loop, which may fetch the JWKS (at most once per 10 s per source) or ask
// the introspection endpoint, and caches the verdict for the next request.
//
// An Authenticator is built per config snapshot by New and never changed
// afterwards; state that should survive a reload (JWKS key sets, the
// verified-token cache) is handed over by passing the previous
// Authenticator to New.
package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"tollgate/conf"
)

// Identity is a verified caller. Scopes may be shared between requests
// presenting the same token: read it, never modify it.
type Identity struct {
	// ClientID is safe to send as a header value.
	ClientID string
	// Method is "jwt", "introspection", "api_key", "mtls" or "signature".
	Method string
	// Scopes are the granted scopes; nil for API keys.
	Scopes []string
	// Plan is the caller's plan (auth.jwt.plan_claim, the introspection
	// response's plan_claim member, the API key's plan:), "" when none.
	Plan string
	// Tenant groups callers that spend one common quota (tenant_claim,
	// the API key's tenant:), "" when none.
	Tenant string
	// Headers are added to the upstream request (the external
	// authorizer's headers_to_copy).
	Headers [][2]string
}

// Options are an Authenticator's dependencies. Every zero value has a
// default, filled in by New.
type Options struct {
	// Logger receives JWKS and configuration messages; nil discards them.
	Logger *slog.Logger
	// HTTPClient makes the JWKS and introspection calls; nil means a
	// client over http.DefaultTransport. Timeouts come from contexts, so
	// the client's own Timeout may stay zero.
	HTTPClient *http.Client
	// Now is the clock for token times, caches and the unknown-kid fetch
	// limit; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the verified-JWT and introspection caches (entries
	// each); 0 means 10000, negative disables both caches.
	CacheSize int
	// JWKSTimeout bounds one JWKS fetch, and so the wait of a request
	// whose kid is unknown; 0 means 3s.
	JWKSTimeout time.Duration
	// Nonces shares signature nonces between gateways; nil keeps them on
	// this gateway only.
	Nonces NonceStore
	// ExternalCall is told the result of every external authorizer call
	// ("allow", "deny", "error"); nil counts nothing.
	ExternalCall func(result string)
}

// normalise fills in the defaults.
func (o Options) normalise() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	if o.JWKSTimeout <= 0 {
		o.JWKSTimeout = 3 * time.Second
	}
	return o
}

// Authenticator checks credentials for one config snapshot. It is safe
// for concurrent use. Close stops its JWKS refreshers.
type Authenticator struct {
	cfg   conf.Auth
	jwt   *jwtVerifier
	intro *introspector
	keys  *apiKeys
	mtls  *mtlsIdentity
	sigs  *sigVerifier
	ext   *externalAuth
	log   *slog.Logger

	closeOnce sync.Once
}

// New builds the Authenticator for cfg. prev, which may be nil, is the
// running snapshot's: the key sets of JWKS URLs still configured are
// carried over (no refetch on reload), and so are the verified-JWT cache
// when the jwt block and its key files are unchanged and the introspection
// cache when that block is unchanged. New never changes prev; the caller
// closes prev once the new snapshot is published. On error nothing is
// left running.
func New(cfg conf.Auth, prev *Authenticator, opts Options) (*Authenticator, error) {
	opts = opts.normalise()
	a := &Authenticator{cfg: cfg, log: opts.Logger, mtls: newMTLS(cfg.MTLS)}
	if cfg.APIKeys != nil {
		keys, err := newAPIKeys(cfg.APIKeys)
		if err != nil {
			return nil, err
		}
		a.keys = keys
	}
	if cfg.Introspection != nil {
		intro, err := newIntrospector(cfg.Introspection, opts.HTTPClient, a.introCache(prev, opts), opts.Now)
		if err != nil {
			return nil, err
		}
		a.intro = intro
	}
	if cfg.External != nil {
		cache := newTokenCache(opts.CacheSize)
		if prev != nil && prev.ext != nil && reflect.DeepEqual(prev.cfg.External, cfg.External) {
			cache = prev.ext.cache
		}
		a.ext = newExternal(cfg.External, opts.HTTPClient, cache, opts.Now, opts.ExternalCall)
	}
	if cfg.Signatures != nil {
		var prevSigs *sigVerifier
		if prev != nil {
			prevSigs = prev.sigs
		}
		sigs, err := newSigVerifier(cfg.Signatures, prevSigs, opts.Nonces, opts.Logger, opts.Now)
		if err != nil {
			return nil, err
		}
		a.sigs = sigs
	}
	if cfg.JWT != nil {
		v, err := newJWTVerifier(cfg.JWT, opts.Now)
		if err != nil {
			return nil, err
		}
		a.jwt = v
		a.attachJWKS(prev, opts)
	}
	return a, nil
}

// introCache reuses prev's introspection cache when that block is
// unchanged.
func (a *Authenticator) introCache(prev *Authenticator, opts Options) *tokenCache {
	if prev != nil && prev.intro != nil && reflect.DeepEqual(prev.cfg.Introspection, a.cfg.Introspection) {
		return prev.intro.cache
	}
	return newTokenCache(opts.CacheSize)
}

// attachJWKS gives the verifier its cache and its JWKS sources (carried
// over from prev by URL) and starts them. It runs last in New, after
// everything that can fail.
func (a *Authenticator) attachJWKS(prev *Authenticator, opts Options) {
	v := a.jwt
	var old *jwtVerifier
	if prev != nil {
		old = prev.jwt
	}
	v.cache = newTokenCache(opts.CacheSize)
	if old != nil && old.cache != nil && old.staticSum == v.staticSum && reflect.DeepEqual(prev.cfg.JWT, a.cfg.JWT) {
		v.cache = old.cache
	}
	deps := sourceDeps{client: opts.HTTPClient, log: opts.Logger, now: opts.Now,
		timeout: opts.JWKSTimeout, onChange: v.cache.invalidate}
	for _, k := range a.cfg.JWT.Keys {
		if k.JWKSURL != "" {
			v.sources = append(v.sources, newJWKSSource(k, old.source(k.JWKSURL), deps))
		}
	}
	for _, s := range v.sources {
		s.start()
	}
}

// source returns v's source for url, or nil.
func (v *jwtVerifier) source(url string) *jwksSource {
	if v == nil {
		return nil
	}
	for _, s := range v.sources {
		if s.url == url {
			return s
		}
	}
	return nil
}

// KeysLoaded returns nil once every JWKS source has loaded a key set at
// least once (at once when there is none), else an error naming the
// sources still waiting. /readyz asks it: until then a JWT whose key may
// be in a missing set is answered 503, not checked.
func (a *Authenticator) KeysLoaded() error {
	if a == nil || a.jwt == nil {
		return nil
	}
	var waiting []string
	for _, s := range a.jwt.sources {
		if !s.loaded() {
			waiting = append(waiting, s.url)
		}
	}
	if len(waiting) > 0 {
		return fmt.Errorf("jwks not loaded yet: %s", strings.Join(waiting, ", "))
	}
	return nil
}

// Close stops the JWKS refreshers and waits for them. It is idempotent;
// Authenticate keeps working afterwards with the keys already fetched.
func (a *Authenticator) Close() {
	if a == nil || a.jwt == nil {
		return
	}
	a.closeOnce.Do(func() {
		for _, s := range a.jwt.sources {
			s.stop()
		}
	})
}

// Authenticate checks c for a route that accepts methods (in order) and
// requires every one of scopes. The first method the request carries
// credentials for decides: a Bearer token of three dot-separated parts is
// for "jwt", any other Bearer token for "introspection", the API-key
// header for "api_key", a verified client certificate for "mtls",
// Signature-Input for "signature". A Bearer token whose shape matches no listed
// method goes to the route's first bearer method, so it is refused as
// invalid rather than as missing (and a JWT access token can be
// introspected on an introspection-only route). Methods the config does
// not set up are skipped. ctx bounds nothing but is passed to
// introspection for its values; a nil ctx is allowed. It may wait on the
// network (a JWKS fetch for an unknown kid, an introspection call).
func (a *Authenticator) Authenticate(ctx context.Context, methods []string, scopes []string, c Credentials) (Identity, *Error) {
	id, err, _ := a.authenticate(ctx, methods, scopes, c, true)
	return id, err
}

// Decide is Authenticate without waiting: it decides from what is at hand
// (a cached token, loaded keys, API keys) and returns done false, and
// nothing else, when only a network call could decide; the caller then
// calls Authenticate where waiting is allowed. It does not allocate for a
// cached token.
func (a *Authenticator) Decide(methods []string, scopes []string, c Credentials) (id Identity, err *Error, done bool) {
	return a.authenticate(context.Background(), methods, scopes, c, false)
}

// authenticate is Authenticate and Decide; wait says which.
func (a *Authenticator) authenticate(ctx context.Context, methods []string, scopes []string, c Credentials, wait bool) (id Identity, err *Error, done bool) {
	if ctx == nil {
		ctx = context.Background()
	}
	method, token := a.choose(methods, c)
	switch method {
	case conf.AuthJWT:
		id, err, done = a.jwt.check(token, wait)
	case conf.AuthIntrospection:
		id, err, done = a.intro.decide(ctx, token, wait)
	case conf.AuthAPIKey:
		id, err = a.keys.check(c.APIKey)
		done = true
	case conf.AuthMTLS:
		id, err = a.mtls.check(c.PeerCert)
		done = true
	case conf.AuthSignature:
		id, err, done = a.sigs.check(ctx, c.Signed, wait)
	case conf.AuthExternal:
		id, err, done = a.ext.decide(ctx, c.External, wait)
	default:
		return Identity{}, errMissing(), true
	}
	if err != nil || !done {
		return Identity{}, err, done
	}
	if !hasAll(id.Scopes, scopes) {
		return Identity{}, errScope(method, scopes), true
	}
	return id, nil, true
}

// choose picks the deciding method and, for bearer methods, the token.
func (a *Authenticator) choose(methods []string, c Credentials) (string, []byte) {
	if a == nil {
		return "", nil
	}
	token, isBearer := bearer(c.Authorization)
	shaped := isBearer && jwtShaped(token)
	for _, m := range methods {
		if !a.configured(m) {
			continue
		}
		switch {
		case m == conf.AuthJWT && shaped,
			m == conf.AuthIntrospection && isBearer && !shaped:
			return m, token
		case m == conf.AuthAPIKey && len(c.APIKey) > 0,
			m == conf.AuthMTLS && c.PeerCert != nil,
			m == conf.AuthSignature && c.Signed != nil,
			m == conf.AuthExternal: // the authorizer judges whatever the request carries
			return m, nil
		}
	}
	if isBearer {
		for _, m := range methods {
			if (m == conf.AuthJWT || m == conf.AuthIntrospection) && a.configured(m) {
				return m, token
			}
		}
	}
	return "", nil
}

// configured reports whether method m is set up.
func (a *Authenticator) configured(m string) bool {
	switch m {
	case conf.AuthJWT:
		return a.jwt != nil
	case conf.AuthIntrospection:
		return a.intro != nil
	case conf.AuthAPIKey:
		return a.keys != nil
	case conf.AuthMTLS:
		return a.mtls != nil
	case conf.AuthSignature:
		return a.sigs != nil
	case conf.AuthExternal:
		return a.ext != nil
	}
	return false
}

// hasAll reports whether granted holds every required scope.
func hasAll(granted, required []string) bool {
	for _, r := range required {
		if !slices.Contains(granted, r) {
			return false
		}
	}
	return true
}
