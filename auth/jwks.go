package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"tollgate/conf"
)

const (
	// refetchEvery bounds fetches triggered by unknown kids.
	refetchEvery = 10 * time.Second
	// retryAfterFailure is the next periodic try after a failed fetch,
	// when shorter than the configured refresh.
	retryAfterFailure = 10 * time.Second
	// defaultRefresh applies when a jwks_url entry has no refresh.
	defaultRefresh = 5 * time.Minute
	// maxJWKSBytes and maxJWKSKeys bound what one document may hold.
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 100
)

// keySet is one fetched JWKS; immutable once published.
type keySet struct {
	keys []verifyKey
	sum  [32]byte // SHA-256 of the document, to tell a changed set apart
}

// jwksSource keeps the keys of one JWKS URL fresh. A background goroutine
// (owned by the source, stopped by stop) refetches every refresh interval;
// requests carrying an unknown kid may trigger a fetch, at most once per
// refetchEvery. All fetches share one singleflight key, so concurrent
// triggers make one HTTP call. The published set is only replaced by a
// good new one: a JWKS endpoint that is down or sends garbage leaves the
// old keys in use, and requests with known kids never wait for a fetch.
type jwksSource struct {
	url      string
	refresh  time.Duration
	timeout  time.Duration
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	onChange func()

	set atomic.Pointer[keySet]
	sf  singleflight.Group

	mu      sync.Mutex
	lastTry time.Time // start of the last fetch attempt
	lastOK  time.Time // end of the last successful fetch

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// sourceDeps are what a source needs from its Authenticator.
type sourceDeps struct {
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration
	onChange func()
}

// newJWKSSource builds a source for k. When prev serves the same URL its
// key set and fetch times are carried over, so a reload neither refetches
// nor loses keys. The source does nothing until start.
func newJWKSSource(k conf.JWTKey, prev *jwksSource, d sourceDeps) *jwksSource {
	s := &jwksSource{
		url: k.JWKSURL, refresh: k.Refresh, timeout: d.timeout,
		client: d.client, log: d.log.With("jwks_url", k.JWKSURL), now: d.now, onChange: d.onChange,
		done: make(chan struct{}),
	}
	if s.refresh <= 0 {
		s.refresh = defaultRefresh
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if prev != nil {
		s.set.Store(prev.set.Load())
		prev.mu.Lock()
		s.lastTry, s.lastOK = prev.lastTry, prev.lastOK
		prev.mu.Unlock()
	}
	return s
}

// start launches the refresher goroutine.
func (s *jwksSource) start() { go s.run() }

// stop cancels any fetch and waits for the refresher to end.
func (s *jwksSource) stop() {
	s.cancel()
	<-s.done
}

// keys returns the current keys (nil before the first good fetch).
func (s *jwksSource) keys() []verifyKey {
	if ks := s.set.Load(); ks != nil {
		return ks.keys
	}
	return nil
}

// loaded reports whether a key set has ever been fetched.
func (s *jwksSource) loaded() bool { return s.set.Load() != nil }

// run is the refresher loop: fetch when due, then every refresh interval
// (sooner after a failure), until stop.
func (s *jwksSource) run() {
	defer close(s.done)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("jwks refresher stopped by a panic; keys are no longer refreshed", "panic", r)
		}
	}()
	timer := time.NewTimer(s.firstDelay())
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		next := s.refresh
		if err := s.fetchShared(false); err != nil {
			s.logFailure("jwks refresh failed", err)
			next = min(s.refresh, retryAfterFailure)
		}
		timer.Reset(next)
	}
}

// firstDelay is zero for a new source and the rest of the interval for a
// carried-over one.
func (s *jwksSource) firstDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set.Load() == nil || s.lastOK.IsZero() {
		return 0
	}
	return max(0, s.refresh-s.now().Sub(s.lastOK))
}

// refreshForUnknownKid fetches the set again unless a fetch started less
// than refetchEvery ago; a fetch in flight is joined. It blocks at most
// for one fetch's timeout.
func (s *jwksSource) refreshForUnknownKid() {
	if err := s.fetchShared(true); err != nil {
		s.logFailure("jwks fetch for an unknown kid failed", err)
	}
}

// logFailure logs a failed fetch, saying what the gateway goes on with:
// the keys it has, or none yet (JWTs needing this set are answered 503).
func (s *jwksSource) logFailure(msg string, err error) {
	if s.loaded() {
		s.log.Warn(msg+"; keeping the previous keys", "err", err)
		return
	}
	s.log.Warn(msg+"; no keys loaded yet: JWTs that need them are answered 503 until a fetch succeeds",
		"err", err, "retry_in", min(s.refresh, retryAfterFailure).String())
}

// fetchShared runs one fetch through the singleflight group. With limited
// set, the fetch is skipped when the last one began under refetchEvery ago.
func (s *jwksSource) fetchShared(limited bool) error {
	_, err, _ := s.sf.Do("jwks", func() (_ any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("jwks fetch panicked: %v", r)
			}
		}()
		if !s.begin(limited) {
			return nil, nil
		}
		return nil, s.fetchAndPublish()
	})
	return err
}

// mayRefetch reports whether a fetch for an unknown kid would be made at
// now (not skipped by the once-per-refetchEvery limit).
func (s *jwksSource) mayRefetch(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refetchDue(now)
}

// refetchDue is mayRefetch with s.mu held.
func (s *jwksSource) refetchDue(now time.Time) bool {
	return s.lastTry.IsZero() || now.Sub(s.lastTry) >= refetchEvery
}

// begin records a fetch attempt, refusing a limited one that comes too
// soon after the previous attempt.
func (s *jwksSource) begin(limited bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if limited && !s.refetchDue(now) {
		return false
	}
	s.lastTry = now
	return true
}

// fetchAndPublish fetches the document and publishes it if it is good.
func (s *jwksSource) fetchAndPublish() error {
	ks, err := s.fetch()
	if err != nil {
		return err
	}
	old := s.set.Swap(ks)
	s.mu.Lock()
	s.lastOK = s.now()
	s.mu.Unlock()
	if old == nil || old.sum != ks.sum {
		s.log.Info("jwks keys loaded", "keys", len(ks.keys))
		if old != nil && s.onChange != nil {
			s.onChange()
		}
	}
	return nil
}

// fetch GETs and parses the document within the fetch timeout.
func (s *jwksSource) fetch() (*keySet, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks document over %d bytes", maxJWKSBytes)
	}
	keys, err := parseJWKS(body, s.log)
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, sum: sha256.Sum256(body)}, nil
}

// jwk is the subset of RFC 7517/7518 members tollgate reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS decodes a key set. Keys that cannot be used (encryption keys,
// symmetric keys, unknown types, bad parameters) are skipped with a log
// line; a document with no usable key is an error, so it never replaces a
// good set.
func parseJWKS(body []byte, log *slog.Logger) ([]verifyKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	var keys []verifyKey
	for i, j := range doc.Keys {
		if len(keys) == maxJWKSKeys {
			break
		}
		k, err := parseJWK(j)
		if err != nil {
			log.Warn("jwks key skipped", "index", i, "kid", j.Kid, "err", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks has no usable key")
	}
	return keys, nil
}

// parseJWK turns one JWK into a verification key.
func parseJWK(j jwk) (verifyKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return verifyKey{}, fmt.Errorf("use %q is not sig", j.Use)
	}
	var (
		key any
		err error
	)
	switch j.Kty {
	case "RSA":
		key, err = jwkRSA(j)
	case "EC":
		key, err = jwkEC(j)
	case "OKP":
		key, err = jwkEd25519(j)
	default:
		return verifyKey{}, fmt.Errorf("kty %q not supported", j.Kty)
	}
	if err != nil {
		return verifyKey{}, err
	}
	k := verifyKey{kid: j.Kid, alg: j.Alg, key: key}
	if j.Alg != "" && !k.fits(j.Alg) {
		return verifyKey{}, fmt.Errorf("alg %q does not match the key", j.Alg)
	}
	return k, nil
}

// b64url decodes a base64url member, tolerating padding.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// jwkRSA builds an RSA public key from n and e.
func jwkRSA(j jwk) (any, error) {
	n, err := b64url(j.N)
	if err != nil || len(n) == 0 {
		return nil, fmt.Errorf("rsa n: bad encoding")
	}
	e, err := b64url(j.E)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("rsa e: bad encoding")
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("rsa e: %d is not a valid exponent", exp)
	}
	return checkPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp})
}

// jwkEC builds an ECDSA public key from crv, x and y; the point must lie
// on the curve.
func jwkEC(j jwk) (any, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("crv %q not supported", j.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := b64url(j.X)
	y, errY := b64url(j.Y)
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, errors.New("ec x/y: bad encoding")
	}
	point := append(append([]byte{4}, x...), y...)
	k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("ec point: %w", err)
	}
	return k, nil
}

// jwkEd25519 builds an Ed25519 public key from x.
func jwkEd25519(j jwk) (any, error) {
	if j.Crv != "Ed25519" {
		return nil, fmt.Errorf("okp crv %q not supported", j.Crv)
	}
	x, err := b64url(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("okp x: bad encoding")
	}
	return ed25519.PublicKey(x), nil
}
