package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"tollgate/auth/httpsig"
	"tollgate/conf"
	"tollgate/internal/lograte"
)

// Signed requests (auth: [signature]): RFC 9421 HTTP Message Signatures.
//
// A request carrying Signature-Input is for this method. The first
// signature whose keyid is configured decides: it must cover the
// configured components (and content-digest when the request has a body),
// carry created within max_age of now (expires, when set, not passed) and
// a nonce (unless require_nonce is off), and verify with the key's
// algorithm. A body is read whole before the filters run (at most
// max_body_bytes, with a Content-Length) and checked against
// Content-Digest, so a mismatch is refused before anything reaches the
// upstream. The nonce is remembered for twice max_age: in a bounded local
// cache, or in Redis when the limiter's store is Redis (every gateway then
// refuses a replay); that Redis call is the only wait, and runs off the
// event loop.

// Reasons of signature refusals (tollgate_auth_failures_total{method="signature"}).
const (
	ReasonMissingComponent = "missing_component"
	ReasonDigestMismatch   = "digest_mismatch"
	ReasonBodyTooLarge     = "body_too_large"
	ReasonMissingCreated   = "missing_created"
	ReasonMissingNonce     = "missing_nonce"
	ReasonReplayed         = "replayed_nonce"
	ReasonNonceCacheFull   = "nonce_cache_full"
)

// SignedRequest is what a signature covers, for the signature method.
type SignedRequest struct {
	Msg httpsig.Message
	// HasBody says the request has a body; Body is all of it when it was
	// read before the filters (nil otherwise).
	HasBody bool
	Body    []byte
}

// sigKey is one configured key.
type sigKey struct {
	key      *httpsig.Key
	clientID string
}

// sigVerifier checks signed requests for one config snapshot.
type sigVerifier struct {
	keys     map[string]sigKey
	required []httpsig.Component
	digest   httpsig.Component
	maxAge   time.Duration
	nonce    bool
	maxBody  int64
	local    *nonceCache
	shared   NonceStore
	log      *slog.Logger
	now      func() time.Time
	warnLog  lograte.Limiter // the local-fallback warning, once per 10 s
}

// newSigVerifier loads the keys of cfg; the nonce cache is prev's when
// there is one (a reload must not forget nonces).
func newSigVerifier(cfg *conf.Signatures, prev *sigVerifier, shared NonceStore, log *slog.Logger, now func() time.Time) (*sigVerifier, error) {
	v := &sigVerifier{keys: map[string]sigKey{}, maxAge: cfg.MaxAge, nonce: cfg.RequireNonce,
		maxBody: cfg.MaxBodyBytes, shared: shared, log: log, now: now,
		digest: httpsig.Component{Name: "content-digest"}}
	for _, k := range cfg.Keys {
		key, err := conf.LoadSignatureKey(k)
		if err != nil {
			return nil, fmt.Errorf("auth.signatures key %q: %w", k.KeyID, err)
		}
		v.keys[k.KeyID] = sigKey{key: key, clientID: k.ClientID}
	}
	for _, c := range cfg.Components {
		comp, err := httpsig.ParseComponent(c)
		if err != nil {
			return nil, fmt.Errorf("auth.signatures.components: %w", err)
		}
		v.required = append(v.required, comp)
	}
	if prev != nil {
		v.local = prev.local
		v.local.configure(2*cfg.MaxAge, cfg.NonceCacheSize)
	} else {
		v.local = newNonceCache(2*cfg.MaxAge, cfg.NonceCacheSize, now)
	}
	return v, nil
}

// check verifies r; wait says whether a shared nonce store may be asked
// (off the loop). done is false when only that call can decide.
func (v *sigVerifier) check(ctx context.Context, r *SignedRequest, wait bool) (Identity, *Error, bool) {
	if !wait && v.shared != nil && v.shared.Remote() {
		return Identity{}, nil, false
	}
	sig, key, err := v.verify(r)
	if err != nil {
		return Identity{}, err, true
	}
	if sig.Params.Nonce != "" {
		if err := v.remember(ctx, sig.Params.KeyID+"\x00"+sig.Params.Nonce, wait); err != nil {
			return Identity{}, err, true
		}
	}
	return Identity{ClientID: key.clientID, Method: conf.AuthSignature}, nil, true
}

// verify checks everything but the nonce's freshness.
func (v *sigVerifier) verify(r *SignedRequest) (*httpsig.Signature, sigKey, *Error) {
	input, _ := r.Msg.Field("Signature-Input")
	signature, _ := r.Msg.Field("Signature")
	sigs, err := httpsig.Parse(input, signature)
	if err != nil {
		return nil, sigKey{}, sigInvalid(ReasonMalformed, err)
	}
	var sig *httpsig.Signature
	var key sigKey
	for i := range sigs {
		if k, ok := v.keys[sigs[i].Params.KeyID]; ok {
			sig, key = &sigs[i], k
			break
		}
	}
	if sig == nil {
		return nil, key, sigInvalid(ReasonUnknownKey, errors.New("no signature with a configured keyid"))
	}
	if err := v.checkParams(sig, key, r); err != nil {
		return nil, key, err
	}
	if r.HasBody && (r.Body == nil || int64(len(r.Body)) > v.maxBody) {
		return nil, key, &Error{Status: 413, Code: "body_too_large", Reason: ReasonBodyTooLarge, Method: conf.AuthSignature,
			Message: fmt.Sprintf("signed requests carry a body of at most %d bytes with a Content-Length", v.maxBody)}
	}
	base, err := httpsig.Base(&r.Msg, sig)
	if err != nil {
		return nil, key, sigInvalid(ReasonMissingComponent, err)
	}
	if err := key.key.Verify(base, sig.Value); err != nil {
		return nil, key, sigInvalid(ReasonBadSignature, err)
	}
	if sig.Covers(v.digest) {
		digest, _ := r.Msg.Field("Content-Digest")
		if err := httpsig.CheckDigest(digest, r.Body); err != nil {
			return nil, key, sigInvalid(ReasonDigestMismatch, err)
		}
	}
	return sig, key, nil
}

// checkParams checks the covered components and the signature's times,
// algorithm and nonce presence.
func (v *sigVerifier) checkParams(sig *httpsig.Signature, key sigKey, r *SignedRequest) *Error {
	for _, c := range v.required {
		if !sig.Covers(c) {
			return sigInvalid(ReasonMissingComponent, fmt.Errorf("%s is not covered", c))
		}
	}
	if r.HasBody && !sig.Covers(v.digest) {
		return sigInvalid(ReasonMissingComponent, errors.New("content-digest is not covered"))
	}
	p := sig.Params
	now := v.now()
	switch {
	case p.Alg != "" && p.Alg != key.key.Alg:
		return sigInvalid(ReasonAlgNotAllowed, fmt.Errorf("alg %q, key is %s", p.Alg, key.key.Alg))
	case p.Created.IsZero():
		return sigInvalid(ReasonMissingCreated, errors.New("no created parameter"))
	case now.Sub(p.Created) > v.maxAge:
		return sigInvalid(ReasonExpired, fmt.Errorf("created %s ago", now.Sub(p.Created).Round(time.Second)))
	case p.Created.Sub(now) > v.maxAge:
		return sigInvalid(ReasonIssuedInFuture, fmt.Errorf("created %s ahead", p.Created.Sub(now).Round(time.Second)))
	case !p.Expires.IsZero() && !now.Before(p.Expires):
		return sigInvalid(ReasonExpired, errors.New("past its expires"))
	case v.nonce && p.Nonce == "":
		return sigInvalid(ReasonMissingNonce, errors.New("no nonce parameter"))
	}
	return nil
}

// remember records a nonce, in Redis when wait allows and the limiter's
// store is Redis, else (or when Redis fails) locally.
func (v *sigVerifier) remember(ctx context.Context, key string, wait bool) *Error {
	if wait && v.shared != nil {
		fresh, ok, err := v.shared.RememberOnce(ctx, key, 2*v.maxAge)
		switch {
		case err != nil:
			v.warnLocal(err)
		case ok && !fresh:
			return sigInvalid(ReasonReplayed, errors.New("nonce already used"))
		case ok:
			v.local.remember(key) // also known here, should Redis go away
			return nil
		}
	}
	fresh, err := v.local.remember(key)
	switch {
	case err != nil:
		return errUnavailable(conf.AuthSignature, ReasonNonceCacheFull, err)
	case !fresh:
		return sigInvalid(ReasonReplayed, errors.New("nonce already used"))
	}
	return nil
}

// warnLocal logs, at most every 10 s, that nonces fall back to the local
// cache.
func (v *sigVerifier) warnLocal(err error) {
	if ok, _ := v.warnLog.Allow(v.now(), 10*time.Second); !ok {
		return
	}
	v.log.Warn("signature nonces: redis unavailable, remembering them on this gateway only", "err", err)
}

// sigInvalid refuses a signed request with 401.
func sigInvalid(reason string, cause error) *Error {
	e := errInvalid(conf.AuthSignature, reason, cause)
	e.WWWAuthenticate = `Signature`
	return e
}
