package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
)

const (
	// maxCandidates bounds the keys one token is tried against.
	maxCandidates = 8
	// noExpTTL is how long a verified token without exp stays cached.
	noExpTTL = 5 * time.Minute
)

// jwtVerifier checks bearer JWTs against the configured algorithms, file
// keys and JWKS sources, and caches verified tokens by SHA-256.
type jwtVerifier struct {
	parser     *jwt.Parser
	algs       []string
	static     []verifyKey
	staticSum  [32]byte // over the key files' bytes, to tell changed files apart
	sources    []*jwksSource
	idClaim    string
	scopeClaim string
	leeway     time.Duration
	cache      *tokenCache
	now        func() time.Time
}

// checkAlgorithms refuses an empty list, "none" and unknown names.
func checkAlgorithms(algs []string) error {
	if len(algs) == 0 {
		return errors.New("jwt: no algorithms configured")
	}
	for _, a := range algs {
		if algFamily(a) == famNone {
			return fmt.Errorf("jwt: algorithm %q is not accepted", a)
		}
	}
	return nil
}

// newJWTVerifier checks cfg and loads its key files. JWKS sources are
// added by the caller, which owns their lifecycle.
func newJWTVerifier(cfg *conf.JWT, now func() time.Time) (*jwtVerifier, error) {
	if err := checkAlgorithms(cfg.Algorithms); err != nil {
		return nil, err
	}
	v := &jwtVerifier{
		algs: slices.Clone(cfg.Algorithms), idClaim: cfg.ClientIDClaim, scopeClaim: cfg.ScopesClaim,
		leeway: cfg.Leeway, now: now,
	}
	if v.idClaim == "" {
		v.idClaim = "client_id"
	}
	if v.scopeClaim == "" {
		v.scopeClaim = "scope"
	}
	if err := v.loadFiles(cfg.Keys); err != nil {
		return nil, err
	}
	v.parser = jwt.NewParser(parserOptions(cfg, v.algs, now)...)
	return v, nil
}

// parserOptions turns cfg into jwt/v5 parser options.
func parserOptions(cfg *conf.JWT, algs []string, now func() time.Time) []jwt.ParserOption {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audiences...))
	}
	return opts
}

// loadFiles reads every file key and fingerprints their contents.
func (v *jwtVerifier) loadFiles(keys []conf.JWTKey) error {
	h := sha256.New()
	for _, k := range keys {
		if k.File == "" {
			continue
		}
		vk, raw, err := loadKeyFile(k.File, v.algs)
		if err != nil {
			return err
		}
		v.static = append(v.static, vk)
		h.Write(raw)
		h.Write([]byte{0})
	}
	h.Sum(v.staticSum[:0])
	return nil
}

// check authenticates a JWT, from the cache when it was verified before
// under the current keys. With wait false it never waits on the
// network: when only a JWKS fetch (a kid no loaded set has) could decide,
// it returns done false and nothing else.
func (v *jwtVerifier) check(token []byte, wait bool) (id Identity, err *Error, done bool) {
	if len(token) > maxJWTLen {
		return Identity{}, errInvalid(conf.AuthJWT, ReasonMalformed, errors.New("token too long")), true
	}
	sum := sha256.Sum256(token)
	now := v.now()
	if e, ok := v.cache.get(sum, now); ok {
		return e.id, nil, true
	}
	gen := v.cache.generation()
	keyFunc := v.keyFor
	if !wait {
		keyFunc = v.keyAtHand
	}
	id, until, err := v.verifySlow(string(token), now, keyFunc)
	if err == errMustWait {
		return Identity{}, nil, false
	}
	if err != nil {
		return Identity{}, err, true
	}
	v.cache.put(sum, cacheEntry{id: id, until: until.UnixNano(), gen: gen}, now)
	return id, nil, true
}

// errMustWait is verifySlow's answer when its key function could only
// decide after a JWKS fetch and was told not to wait.
var errMustWait = &Error{Reason: "must_wait"}

// verifySlow parses and checks the token and returns its identity and how
// long the verdict holds (exp plus leeway).
func (v *jwtVerifier) verifySlow(token string, now time.Time, keyFunc jwt.Keyfunc) (Identity, time.Time, *Error) {
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, keyFunc)
	if errors.Is(err, errFetchNeeded) {
		return Identity{}, time.Time{}, errMustWait
	}
	if err != nil {
		return Identity{}, time.Time{}, v.refusal(tok, err)
	}
	id, err := v.identity(claims)
	if err != nil {
		return Identity{}, time.Time{}, errInvalid(conf.AuthJWT, ReasonInvalidClaims, err)
	}
	until := now.Add(noExpTTL)
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		until = exp.Add(v.leeway)
	}
	return id, until, nil
}

// keyFor is the jwt.Keyfunc: it refuses algorithms not configured and
// returns only keys whose type fits the token's algorithm, fetching JWKS
// again (rate-limited) when none is known.
func (v *jwtVerifier) keyFor(t *jwt.Token) (any, error) { return v.key(t, true) }

// keyAtHand is keyFor without the fetch: when no loaded key fits and JWKS
// sources exist, it returns errFetchNeeded.
func (v *jwtVerifier) keyAtHand(t *jwt.Token) (any, error) { return v.key(t, false) }

// key picks the keys for t; fetch says whether an unknown kid may refetch
// the JWKS sources (and so wait on the network).
func (v *jwtVerifier) key(t *jwt.Token, fetch bool) (any, error) {
	alg := t.Method.Alg()
	if !slices.Contains(v.algs, alg) {
		return nil, errAlgNotAllowed
	}
	kid, err := tokenKid(t)
	if err != nil {
		return nil, err
	}
	keys, exact := v.candidates(alg, kid)
	if v.shouldRefetch(len(keys), exact) {
		if !fetch {
			return nil, errFetchNeeded
		}
		v.refreshAll()
		keys, _ = v.candidates(alg, kid)
	}
	return v.pick(keys, kid)
}

// shouldRefetch decides whether the JWKS sources are fetched again before
// a token is verified with the n candidate keys found (exact: they match
// its kid, or it has none). With no key at all it always does (a fetch
// in flight is joined; a limited one is skipped). When only kid-less keys
// are left for a kid no key set has, the sets may have rotated: a fetch
// is made first if one is allowed now, so the new key is found before a
// kid-less static key refuses the token as a bad signature (and a source
// whose first fetch is still under way is waited for); while refetches
// are rate-limited the kid-less keys are tried at once.
func (v *jwtVerifier) shouldRefetch(n int, exact bool) bool {
	switch {
	case len(v.sources) == 0 || exact:
		return false
	case n == 0:
		return true
	}
	now := v.now()
	for _, s := range v.sources {
		if !s.loaded() || s.mayRefetch(now) { // a first fetch still under way is joined
			return true
		}
	}
	return false
}

// refreshAll refetches every JWKS source for an unknown kid at once, so a
// request waits for the slowest source rather than for all of them in turn.
func (v *jwtVerifier) refreshAll() {
	if len(v.sources) == 1 {
		v.sources[0].refreshForUnknownKid()
		return
	}
	var wg sync.WaitGroup
	for _, s := range v.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { // a failed fetch leaves the old keys; it never ends the process
				if r := recover(); r != nil {
					s.log.Error("jwks refresh panicked", "url", s.url, "panic", r)
				}
			}()
			s.refreshForUnknownKid()
		}()
	}
	wg.Wait()
}

// pick returns the key (or key set) to verify with, or why there is none.
func (v *jwtVerifier) pick(keys []jwt.VerificationKey, kid string) (any, error) {
	switch {
	case len(keys) == 1:
		return keys[0], nil
	case len(keys) > 1:
		return jwt.VerificationKeySet{Keys: keys}, nil
	case len(v.static) == 0 && !v.anyLoaded(), !v.allLoaded():
		// No key at all, or the key may be in a set never fetched: the
		// token cannot be judged, which is the gateway's failure (503),
		// not the caller's (401).
		return nil, errKeysUnavailable
	case kid != "":
		return nil, errUnknownKid
	}
	return nil, errNoKey
}

// allLoaded reports whether every JWKS source has loaded keys once.
func (v *jwtVerifier) allLoaded() bool {
	for _, s := range v.sources {
		if !s.loaded() {
			return false
		}
	}
	return true
}

// anyLoaded reports whether some JWKS source has keys.
func (v *jwtVerifier) anyLoaded() bool {
	for _, s := range v.sources {
		if s.loaded() {
			return true
		}
	}
	return false
}

// tokenKid returns the header's kid ("" when absent).
func tokenKid(t *jwt.Token) (string, error) {
	raw, ok := t.Header["kid"]
	if !ok {
		return "", nil
	}
	kid, ok := raw.(string)
	if !ok {
		return "", errBadKid
	}
	return kid, nil
}

// candidates lists the keys that fit alg: with a kid, the keys with that
// kid, else the keys without any kid; without a kid, every fitting key.
// exact reports that the keys are of the first kind (or the token has no
// kid): false means no key set has the token's kid.
func (v *jwtVerifier) candidates(alg, kid string) (keys []jwt.VerificationKey, exact bool) {
	var matched, loose []jwt.VerificationKey
	add := func(k verifyKey) {
		switch {
		case !k.fits(alg):
		case kid == "" || k.kid == kid:
			matched = append(matched, k.key)
		case k.kid == "":
			loose = append(loose, k.key)
		}
	}
	for _, k := range v.static {
		add(k)
	}
	for _, s := range v.sources {
		for _, k := range s.keys() {
			add(k)
		}
	}
	if len(matched) == 0 {
		return loose[:min(len(loose), maxCandidates)], false
	}
	return matched[:min(len(matched), maxCandidates)], true
}

// refusal maps a parse error to the refusal sent and counted.
func (v *jwtVerifier) refusal(tok *jwt.Token, err error) *Error {
	if tok != nil && (tok.Method == nil || !slices.Contains(v.algs, tok.Method.Alg())) &&
		!errors.Is(err, jwt.ErrTokenMalformed) {
		return errInvalid(conf.AuthJWT, ReasonAlgNotAllowed, err)
	}
	if errors.Is(err, errKeysUnavailable) {
		return errUnavailable(conf.AuthJWT, ReasonKeysUnavailable, err)
	}
	return errInvalid(conf.AuthJWT, jwtReason(err), err)
}

// jwtReasons maps jwt/v5 and keyFor errors to reasons, first match wins.
var jwtReasons = []struct {
	err    error
	reason string
}{
	{errAlgNotAllowed, ReasonAlgNotAllowed},
	{errBadKid, ReasonMalformed},
	{jwt.ErrTokenMalformed, ReasonMalformed},
	{errUnknownKid, ReasonUnknownKid},
	{errNoKey, ReasonNoKey},
	{jwt.ErrTokenSignatureInvalid, ReasonBadSignature},
	{jwt.ErrInvalidType, ReasonInvalidClaims},
	{jwt.ErrTokenExpired, ReasonExpired},
	{jwt.ErrTokenNotValidYet, ReasonNotYetValid},
	{jwt.ErrTokenUsedBeforeIssued, ReasonIssuedInFuture},
	{jwt.ErrTokenInvalidIssuer, ReasonWrongIssuer},
	{jwt.ErrTokenInvalidAudience, ReasonWrongAudience},
	{jwt.ErrTokenRequiredClaimMissing, ReasonMissingClaim},
}

// jwtReason returns the reason label for err.
func jwtReason(err error) string {
	for _, r := range jwtReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInvalidClaims
}

// identity reads the client id (client_id_claim, then azp, then sub) and
// the scopes (a space-separated string or an array of strings).
func (v *jwtVerifier) identity(c jwt.MapClaims) (Identity, error) {
	id := Identity{Method: conf.AuthJWT}
	for _, name := range [...]string{v.idClaim, "azp", "sub"} {
		if s, ok := c[name].(string); ok && s != "" {
			id.ClientID = s
			break
		}
	}
	if !headerSafe(id.ClientID) {
		return Identity{}, fmt.Errorf("no usable client id in %q, azp or sub", v.idClaim)
	}
	scopes, err := scopeList(c[v.scopeClaim])
	if err != nil {
		return Identity{}, fmt.Errorf("claim %q: %w", v.scopeClaim, err)
	}
	id.Scopes = scopes
	return id, nil
}

// scopeList decodes a scopes claim.
func scopeList(raw any) ([]string, error) {
	switch x := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(x), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("scope %v is not a string", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("scopes are a %T, not a string or an array", raw)
}
