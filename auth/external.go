package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"tollgate/conf"
)

// The external authorizer (auth: [external]): the gateway asks an HTTP
// service about each request, as nginx's auth_request and Traefik's
// forwardAuth do. It sends GET url with the request's method, URI and
// host (X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host) and the
// configured headers_to_send — never the body. A 2xx lets the request
// through and copies headers_to_copy from the answer into the upstream
// request (a copied X-Client-Id becomes the client id); 401 refuses with
// 401, any other answer with 403. Decisions are cached for cache_ttl by
// the SHA-256 of method, URI, host and the sent headers' values, and
// concurrent requests with one key share one call (singleflight). A call
// that fails or times out follows on_failure: deny (503) or allow (the
// request goes on anonymous); failures are never cached.

// Reasons of external authorizer refusals.
const (
	ReasonDenied              = "denied"
	ReasonExternalUnavailable = "external_unavailable"
)

// Results of calls to the authorizer (tollgate_external_auth_calls_total).
const (
	ExternalAllowed = "allow"
	ExternalDenied  = "deny"
	ExternalFailed  = "error"
)

// maxExternalBody bounds what is read of an authorizer's answer.
const maxExternalBody = 16 << 10

// HeaderGetter reads a request header's first value (nil when absent).
type HeaderGetter interface {
	Get(name string) []byte
}

// ExternalRequest is what the external authorizer is told of a request.
type ExternalRequest struct {
	Method, Host, URI []byte
	Head              HeaderGetter
}

// externalAuth asks the configured authorizer.
type externalAuth struct {
	cfg    *conf.External
	client *http.Client
	cache  *tokenCache
	sf     singleflight.Group
	now    func() time.Time
	count  func(result string)
}

// newExternal builds the authorizer of cfg. cache may be prev's.
func newExternal(cfg *conf.External, client *http.Client, cache *tokenCache, now func() time.Time, count func(string)) *externalAuth {
	if cfg.CacheTTL <= 0 {
		cache = nil
	}
	if count == nil {
		count = func(string) {}
	}
	return &externalAuth{cfg: cfg, client: client, cache: cache, now: now, count: count}
}

// decide answers from the cache, or asks the authorizer when wait is set;
// without wait, a request not cached returns done false.
func (e *externalAuth) decide(ctx context.Context, r *ExternalRequest, wait bool) (Identity, *Error, bool) {
	if r == nil {
		return Identity{}, errMissing(), true
	}
	key := e.key(r)
	if c, ok := e.cache.get(key, e.now()); ok {
		return c.id, c.fail, true
	}
	if !wait {
		return Identity{}, nil, false
	}
	v, err, _ := e.sf.Do(string(key[:]), func() (any, error) { return e.ask(ctx, r, key) })
	if err != nil {
		if e.cfg.OnFailure == conf.ExternalAllow {
			return Identity{Method: conf.AuthExternal}, nil, true
		}
		return Identity{}, errUnavailable(conf.AuthExternal, ReasonExternalUnavailable, err), true
	}
	c := v.(cacheEntry)
	return c.id, c.fail, true
}

// key is the cache and singleflight key of r.
func (e *externalAuth) key(r *ExternalRequest) [32]byte {
	h := sha256.New()
	for _, part := range [][]byte{r.Method, r.URI, r.Host} {
		h.Write(part)
		h.Write([]byte{0})
	}
	for _, name := range e.cfg.HeadersToSend {
		v := r.Head.Get(name)
		if v == nil {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{2})
			h.Write(v)
		}
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// ask makes one call and caches its decision.
func (e *externalAuth) ask(ctx context.Context, r *ExternalRequest, key [32]byte) (c cacheEntry, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("external authorizer call panicked: %v", p)
		}
		if err != nil {
			e.count(ExternalFailed)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.URL, nil)
	if err != nil {
		return c, fmt.Errorf("external authorizer request: %w", err)
	}
	req.Header.Set("X-Forwarded-Method", string(r.Method))
	req.Header.Set("X-Forwarded-Uri", string(r.URI))
	req.Header.Set("X-Forwarded-Host", string(r.Host))
	for _, name := range e.cfg.HeadersToSend {
		if v := r.Head.Get(name); v != nil {
			req.Header.Set(name, string(v))
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return c, fmt.Errorf("external authorizer: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxExternalBody))
	if resp.StatusCode >= 500 {
		return c, fmt.Errorf("external authorizer: status %d", resp.StatusCode)
	}
	c = e.verdict(resp)
	now := e.now()
	c.until = now.Add(e.cfg.CacheTTL).UnixNano()
	e.cache.put(key, c, now)
	return c, nil
}

// verdict turns an answer below 500 into a decision.
func (e *externalAuth) verdict(resp *http.Response) cacheEntry {
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.count(ExternalDenied)
		return cacheEntry{fail: errInvalid(conf.AuthExternal, ReasonDenied, errors.New("the authorizer answered 401"))}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		e.count(ExternalDenied)
		return cacheEntry{fail: &Error{Status: 403, Code: CodeForbidden, Reason: ReasonDenied, Method: conf.AuthExternal,
			Message: "forbidden by the authorizer", Err: fmt.Errorf("the authorizer answered %d", resp.StatusCode)}}
	}
	e.count(ExternalAllowed)
	id := Identity{Method: conf.AuthExternal}
	for _, name := range e.cfg.HeadersToCopy {
		v := resp.Header.Get(name)
		if v == "" || !headerSafe(v) {
			continue
		}
		if strings.EqualFold(name, "X-Client-Id") {
			id.ClientID = v
			continue
		}
		id.Headers = append(id.Headers, [2]string{name, v})
	}
	return cacheEntry{id: id}
}

// ExternalHeaders returns the headers the external authorizer's answer may
// set on upstream requests (auth.external.headers_to_copy): a client must
// not be able to send them itself.
func (a *Authenticator) ExternalHeaders() []string {
	if a == nil || a.ext == nil {
		return nil
	}
	return a.ext.cfg.HeadersToCopy
}
