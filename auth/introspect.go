package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"tollgate/conf"
)

const (
	// defaultIntrospectTTL and defaultIntrospectTimeout apply when the
	// config leaves them zero.
	defaultIntrospectTTL     = 30 * time.Second
	defaultIntrospectTimeout = 2 * time.Second
	// inactiveTTL caps how long an inactive verdict is remembered.
	inactiveTTL = 5 * time.Second
	// maxIntrospectBytes bounds an introspection response.
	maxIntrospectBytes = 64 << 10
)

// introspector asks an RFC 7662 endpoint about opaque tokens. Verdicts
// are cached by token hash (active ones for cache_ttl but never past the
// token's exp, inactive ones for at most inactiveTTL); concurrent requests
// for one token share one call. It starts no goroutine: the call runs in
// the first requester's goroutine, on a context detached from that
// request's cancellation and bounded by the configured timeout.
type introspector struct {
	url      string
	clientID string
	secret   string
	ttl      time.Duration
	timeout  time.Duration
	client   *http.Client
	cache    *tokenCache
	sf       singleflight.Group
	now      func() time.Time
	// plan and tenant name optional response members ("" = none).
	plan, tenant string
}

// newIntrospector checks cfg and normalises its zero values: CacheTTL 0
// means 30s and a negative one disables caching; Timeout 0 means 2s.
func newIntrospector(cfg *conf.Introspection, client *http.Client, cache *tokenCache, now func() time.Time) (*introspector, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("introspection: url %q is not an http(s) URL", cfg.URL)
	}
	in := &introspector{url: cfg.URL, clientID: cfg.ClientID, secret: cfg.ClientSecret,
		ttl: cfg.CacheTTL, timeout: cfg.Timeout, client: client, cache: cache, now: now,
		plan: cfg.PlanClaim, tenant: cfg.TenantClaim}
	if in.ttl == 0 {
		in.ttl = defaultIntrospectTTL
	}
	if in.ttl < 0 {
		in.cache = nil
	}
	if in.timeout <= 0 {
		in.timeout = defaultIntrospectTimeout
	}
	return in, nil
}

// decide authenticates an opaque token from the cache, or with an
// introspection call when wait is set; without wait, a token not cached
// returns done false.
func (in *introspector) decide(ctx context.Context, token []byte, wait bool) (id Identity, err *Error, done bool) {
	if len(token) > maxOpaqueLen || !b64token(token) {
		return Identity{}, errInvalid(conf.AuthIntrospection, ReasonMalformed, errors.New("not a b64token")), true
	}
	sum := sha256.Sum256(token)
	if e, ok := in.cache.get(sum, in.now()); ok {
		return e.id, e.fail, true
	}
	if !wait {
		return Identity{}, nil, false
	}
	id, err = in.ask(ctx, token, sum)
	return id, err, true
}

// ask asks the endpoint about a token not cached, one call per token at
// a time.
func (in *introspector) ask(ctx context.Context, token []byte, sum [32]byte) (Identity, *Error) {
	v, err, _ := in.sf.Do(string(sum[:]), func() (any, error) {
		return in.lookup(ctx, string(token), sum)
	})
	if err != nil {
		return Identity{}, errUnavailable(conf.AuthIntrospection, ReasonIntrospectionError, err)
	}
	e := v.(cacheEntry)
	return e.id, e.fail
}

// lookup makes one introspection call and caches its verdict.
func (in *introspector) lookup(ctx context.Context, token string, sum [32]byte) (e cacheEntry, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("introspection panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.timeout)
	defer cancel()
	resp, err := in.call(ctx, token)
	if err != nil {
		return cacheEntry{}, err
	}
	now := in.now()
	e = in.verdict(resp, now)
	in.cache.put(sum, e, now)
	return e, nil
}

// introspection is the subset of an RFC 7662 response tollgate reads.
type introspection struct {
	Active   bool     `json:"active"`
	ClientID string   `json:"client_id"`
	Sub      string   `json:"sub"`
	Scope    string   `json:"scope"`
	Exp      *float64 `json:"exp"`
	// claims holds every member, read only when a plan or tenant member
	// is configured.
	claims map[string]any
}

// call POSTs the token with HTTP basic client authentication.
func (in *introspector) call(ctx context.Context, token string) (*introspection, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection post: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspection post: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectBytes))
	if err != nil {
		return nil, fmt.Errorf("introspection read: %w", err)
	}
	var r introspection
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("introspection decode: %w", err)
	}
	if in.plan != "" || in.tenant != "" {
		if err := json.Unmarshal(body, &r.claims); err != nil {
			return nil, fmt.Errorf("introspection decode: %w", err)
		}
	}
	return &r, nil
}

// verdict turns a response into a cache entry: an identity until
// min(now+ttl, exp), or a refusal remembered for min(ttl, inactiveTTL).
func (in *introspector) verdict(r *introspection, now time.Time) cacheEntry {
	until := now.Add(in.ttl)
	if r.Active && r.Exp != nil {
		exp := time.Unix(int64(*r.Exp), 0)
		if !exp.After(now) {
			r.Active = false
		}
		until = minTime(until, exp)
	}
	if !r.Active {
		fail := errInvalid(conf.AuthIntrospection, ReasonInactive, errors.New("token is not active"))
		return cacheEntry{fail: fail, until: now.Add(min(in.ttl, inactiveTTL)).UnixNano()}
	}
	id := Identity{ClientID: r.ClientID, Method: conf.AuthIntrospection, Scopes: strings.Fields(r.Scope),
		Plan: claimText(r.claims, in.plan), Tenant: claimText(r.claims, in.tenant)}
	if id.ClientID == "" {
		id.ClientID = r.Sub
	}
	if !headerSafe(id.ClientID) {
		fail := errInvalid(conf.AuthIntrospection, ReasonInvalidClaims, errors.New("no usable client_id or sub"))
		return cacheEntry{fail: fail, until: now.Add(min(in.ttl, inactiveTTL)).UnixNano()}
	}
	return cacheEntry{id: id, until: until.UnixNano()}
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
