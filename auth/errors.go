package auth

import (
	"errors"
	"strings"
)

// Refusal codes, as in CONTRACT.md's error table.
const (
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeUnavailable  = "unavailable"
)

// Reasons are the short labels of tollgate_auth_failures_total{reason}.
const (
	ReasonMissing            = "missing"
	ReasonMalformed          = "malformed"
	ReasonBadSignature       = "bad_signature"
	ReasonExpired            = "expired"
	ReasonNotYetValid        = "not_yet_valid"
	ReasonIssuedInFuture     = "issued_in_future"
	ReasonWrongIssuer        = "wrong_issuer"
	ReasonWrongAudience      = "wrong_audience"
	ReasonMissingClaim       = "missing_claim"
	ReasonInvalidClaims      = "invalid_claims"
	ReasonUnknownKid         = "unknown_kid"
	ReasonNoKey              = "no_key"
	ReasonAlgNotAllowed      = "alg_not_allowed"
	ReasonKeysUnavailable    = "keys_unavailable"
	ReasonInactive           = "inactive"
	ReasonUnknownKey         = "unknown_key"
	ReasonInsufficientScope  = "insufficient_scope"
	ReasonIntrospectionError = "introspection_unavailable"
)

// MethodNone is the Method of a refusal for a request that carried no
// credentials any of the route's methods accepts.
const MethodNone = "none"

// WWW-Authenticate values (RFC 6750 section 3).
const (
	challengeMissing = "Bearer"
	challengeInvalid = `Bearer error="invalid_token"`
)

// Error is a refusal. Status is 401, 403 or 503 and Code the contract's
// matching error code; Reason is a short label for the failures metric;
// Method is the auth method that decided ("jwt", "introspection",
// "api_key", or MethodNone); Message is safe to show the client;
// WWWAuthenticate is the challenge to send ("" for 503); RetryAfter is in
// seconds (0 = none). An *Error may be shared between requests (cached
// refusals): callers must not modify it.
type Error struct {
	Status          int
	Code            string
	Reason          string
	Method          string
	Message         string
	WWWAuthenticate string
	RetryAfter      int
	// Err is the underlying cause, for logs; never sent to the client.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("auth ")
	b.WriteString(e.Method)
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// errMissing refuses a request without usable credentials.
func errMissing() *Error {
	return &Error{Status: 401, Code: CodeUnauthorized, Reason: ReasonMissing, Method: MethodNone,
		Message: "credentials required", WWWAuthenticate: challengeMissing}
}

// errInvalid refuses bad credentials with 401 and error="invalid_token".
func errInvalid(method, reason string, cause error) *Error {
	return &Error{Status: 401, Code: CodeUnauthorized, Reason: reason, Method: method,
		Message:         "invalid credentials: " + strings.ReplaceAll(reason, "_", " "),
		WWWAuthenticate: challengeInvalid, Err: cause}
}

// errScope refuses valid credentials that lack one of the route's scopes.
func errScope(method string, required []string) *Error {
	return &Error{Status: 403, Code: CodeForbidden, Reason: ReasonInsufficientScope, Method: method,
		Message:         "insufficient scope",
		WWWAuthenticate: `Bearer error="insufficient_scope", scope="` + quoteScopes(required) + `"`}
}

// errUnavailable answers 503 when a dependency needed to decide is down.
func errUnavailable(method, reason string, cause error) *Error {
	return &Error{Status: 503, Code: CodeUnavailable, Reason: reason, Method: method,
		Message: "authorization service unavailable", RetryAfter: 1, Err: cause}
}

// quoteScopes joins scopes with spaces for a quoted-string, dropping the
// bytes RFC 6749 excludes from scope tokens (quotes, backslashes, controls)
// so a config value can never break the header.
func quoteScopes(scopes []string) string {
	s := strings.Join(scopes, " ")
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// Sentinel causes produced while choosing a key.
var (
	errAlgNotAllowed   = errors.New("signing algorithm not allowed")
	errUnknownKid      = errors.New("no key with the token's kid")
	errNoKey           = errors.New("no key fits the token's algorithm")
	errKeysUnavailable = errors.New("no JWKS has been fetched yet")
	errBadKid          = errors.New("kid header is not a string")
	errFetchNeeded     = errors.New("only a JWKS fetch can find the key")
)
